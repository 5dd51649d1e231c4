// `berth git:credential get|store|erase`: a git credential helper (gitcredentials(7)) that
// answers with the saved login's token, for the Berth server's git URLs only. `berth
// git:remote` registers it for the remote's URL; git runs it, people do not.
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { resolveTarget } from '../login-store.js';
import { withExamples, type CliContext } from '../context.js';

/** Quotes a word for the POSIX shell git runs a `!` helper with. */
function shellWord(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The helper value `git:remote` registers: this Node and this berth script by absolute path
 * (a git GUI or hook may have another PATH), else `berth` as found on PATH.
 */
export function credentialHelperValue(): string {
  const script = process.argv[1];
  return script
    ? `!${shellWord(process.execPath)} ${shellWord(script)} git:credential`
    : '!berth git:credential';
}

/** git's request: `key=value` lines up to a blank line or the end of input. */
async function readRequest(input: NodeJS.ReadableStream): Promise<Map<string, string>> {
  const request = new Map<string, string>();
  const lines = createInterface({ input, crlfDelay: Infinity });
  for await (const text of lines) {
    if (text === '') break;
    const at = text.indexOf('=');
    if (at > 0) request.set(text.slice(0, at), text.slice(at + 1));
  }
  lines.close();
  return request;
}

/** Whether git asks about a URL of this Berth server (and, with a path, one of its repos). */
export function isServerGitUrl(request: ReadonlyMap<string, string>, server: string): boolean {
  const protocol = request.get('protocol');
  const host = request.get('host');
  if (!protocol || !host) return false;
  let asked: URL;
  try {
    asked = new URL(`${protocol}://${host}`);
  } catch {
    return false;
  }
  const ours = new URL(server);
  if (asked.protocol !== ours.protocol || asked.host !== ours.host) return false;
  // git sends the path only with credential.useHttpPath; then it must be under /git/.
  const path = request.get('path');
  const prefix = ours.pathname.replace(/^\/+|\/+$/g, '');
  return path === undefined || path.startsWith(prefix ? `${prefix}/git/` : 'git/');
}

export function registerGitCredential(program: Command, context: CliContext): void {
  const command = program
    .command('git:credential')
    .description(
      'git credential helper: gives git your berth login for this server (git:remote sets it up)',
    )
    .argument('<action>', 'get, store or erase (git passes it)')
    .action(async (action: string) => {
      const request = await readRequest(process.stdin);
      // store and erase are no-ops: the token lives in berth's login, not in git.
      if (action !== 'get') return;
      const target = await resolveTarget(context.env);
      if (!target.token || !isServerGitUrl(request, target.server)) return;
      // The server reads the token from the password; the username is not checked.
      process.stdout.write(`username=berth\npassword=${target.token}\n`);
    });
  withExamples(
    command,
    'berth git:remote shop    # registers this helper for the berth remote only',
    "git config credential.http://127.0.0.1:7100/git/shop.git.helper '!berth git:credential'",
    'printf "protocol=http\\nhost=127.0.0.1:7100\\n\\n" | berth git:credential get',
  );
}
