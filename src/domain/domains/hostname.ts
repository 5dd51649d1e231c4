import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { ErrorCodes, InputError } from '../../errors/index.js';

/** A host name's total length (RFC 1035: 253 characters without the root dot). */
export const MAX_HOST_LENGTH = 253;
/** One label's length. */
export const MAX_LABEL_LENGTH = 63;

const LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/** A custom host as stored: exact (`www.example.com`) or a one-label wildcard (`*.example.com`). */
export interface CustomHost {
  /** Lower-case, punycode, no trailing dot. */
  readonly host: string;
  readonly wildcard: boolean;
}

function refuse(input: string, why: string): never {
  throw new InputError(
    `'${input.slice(0, 300)}' is not a usable host: ${why}`,
    ErrorCodes.DOMAIN_INVALID,
  );
}

/**
 * Normalises and checks a host a user asks for: lower-cased, an IDN turned into punycode
 * (node:url's domainToASCII, the WHATWG rules browsers use), one trailing root dot dropped; then
 * at most 253 characters and 63 per label, letters, digits and inner hyphens only, two labels at
 * least, no IP literal, and `*` only as a whole first label. `serverDomain` is Berth's own
 * (`<app>.<domain>`): that name, its one-label subdomains and its wildcard are refused, since
 * Berth routes them itself.
 */
export function parseCustomHost(input: string, serverDomain: string): CustomHost {
  let name = input.trim().toLowerCase();
  if (name === '') refuse(input, 'it is empty');
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name.startsWith('[') || isIP(name) !== 0) refuse(input, 'an IP address is not a host name');
  if (/[:/?#@\s]/u.test(name)) refuse(input, 'a host has no port, path, user or spaces');
  const wildcard = name.startsWith('*.');
  const rest = wildcard ? name.slice(2) : name;
  if (rest.includes('*')) {
    refuse(input, "a wildcard is '*.' followed by a domain, as in '*.example.com'");
  }
  const ascii = domainToASCII(rest);
  if (ascii === '') refuse(input, 'it is not a valid domain name');
  if (isIP(ascii) !== 0) refuse(input, 'an IP address is not a host name');
  const host = wildcard ? `*.${ascii}` : ascii;
  if (host.length > MAX_HOST_LENGTH) {
    refuse(
      input,
      `a host name is at most ${MAX_HOST_LENGTH} characters (this one has ${host.length})`,
    );
  }
  const labels = ascii.split('.');
  if (labels.length < 2)
    refuse(input, "a custom domain has a dot in it, such as 'www.example.com'");
  for (const label of labels) {
    if (label.length > MAX_LABEL_LENGTH) {
      refuse(
        input,
        `a label is at most ${MAX_LABEL_LENGTH} characters ('${label.slice(0, 20)}…' has ${label.length})`,
      );
    }
    if (!LABEL.test(label)) {
      refuse(input, `the label '${label}' is not letters, digits and inner hyphens`);
    }
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? '')) {
    refuse(input, 'the last label of a host name is not all digits');
  }
  const own = serverDomain.toLowerCase().replace(/\.$/, '');
  if (ascii === own || (!wildcard && labels.slice(1).join('.') === own)) {
    refuse(
      input,
      `the names under ${own} are Berth's own: every app answers at <app>.${own} already`,
    );
  }
  return Object.freeze({ host, wildcard });
}
