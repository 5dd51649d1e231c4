import { ErrorCodes, InputError } from '../errors/index.js';
import type { AppAccount, OneOffSpec, UnitArtifact, UnitCommand, UnitSpec } from './driver.js';

/** A unit's or one-off's id: it names files and process records, so it is kept plain. */
export const UNIT_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,99}$/;

/** Names that portable shells and `env` accept. */
const ENV_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The variables every driver sets itself; a config var may not shadow them. */
export const RESERVED_ENV_KEYS: ReadonlySet<string> = new Set([
  'PORT',
  'BERTH_APP',
  'BERTH_RELEASE',
  'BERTH_PROCESS',
  'BERTH_UNIT',
]);

function invalid(message: string): never {
  throw new InputError(message, ErrorCodes.UNIT_SPEC_INVALID);
}

function checkId(id: string): void {
  if (!UNIT_ID_PATTERN.test(id)) invalid(`unit id ${JSON.stringify(id)} is not ${UNIT_ID_PATTERN}`);
}

/** App names and process types name log folders and files, so they follow the same rule. */
function checkName(what: string, name: string): void {
  if (!UNIT_ID_PATTERN.test(name))
    invalid(`${what} ${JSON.stringify(name)} is not ${UNIT_ID_PATTERN}`);
}

function checkRelease(release: number): void {
  if (!Number.isInteger(release) || release < 1) invalid(`release must be 1 or more`);
}

function checkEnv(env: Readonly<Record<string, string>>): void {
  for (const [key, value] of Object.entries(env)) {
    if (!ENV_KEY_PATTERN.test(key)) invalid(`env key ${JSON.stringify(key)} is not a valid name`);
    if (RESERVED_ENV_KEYS.has(key)) invalid(`env key ${key} is set by the runtime`);
    // Never echo the value: it may be a secret.
    if (typeof value !== 'string' || value.includes('\0')) {
      invalid(`env value of ${key} must be a string without NUL characters`);
    }
  }
}

function checkCommand(command: UnitCommand): void {
  if (command.kind === 'image') return;
  if (command.kind === 'shell') {
    if (command.line.trim() === '') invalid('the command is empty');
    if (command.line.includes('\0')) invalid('the command holds a NUL character');
  } else {
    if (command.argv.length === 0 || command.argv[0] === '') invalid('the command is empty');
    if (command.argv.some((arg) => arg.includes('\0'))) {
      invalid('the command holds a NUL character');
    }
  }
}

function checkAccount(account: AppAccount | undefined): void {
  if (account === undefined) return;
  if (!Number.isInteger(account.uid) || account.uid < 1 || account.uid > 0xfffffffe) {
    invalid(`account uid must be a whole number from 1 to ${0xfffffffe}`);
  }
  if (account.uid === process.getuid?.()) invalid("account uid is the controller's own");
  if (!/^[A-Za-z0-9-]{1,64}$/.test(account.appId)) invalid('account appId is not an id');
}

function checkArtifact(artifact: UnitArtifact, command: UnitCommand): void {
  if (command.kind === 'image' && artifact.kind !== 'image') {
    invalid(`the image's own command needs an image artifact, not a ${artifact.kind}`);
  }
}

/** Throws InputError (UNIT_SPEC_INVALID) unless a driver may be handed the spec as it is. */
export function validateUnitSpec(spec: UnitSpec): void {
  checkId(spec.id);
  checkRelease(spec.release);
  if (!Number.isInteger(spec.index) || spec.index < 1) invalid('index must be 1 or more');
  checkName('app', spec.app);
  checkName('process type', spec.processType);
  checkEnv(spec.env);
  checkCommand(spec.command);
  checkArtifact(spec.artifact, spec.command);
  checkAccount(spec.account);
}

/** Throws InputError (UNIT_SPEC_INVALID) unless a driver may be handed the spec as it is. */
export function validateOneOffSpec(spec: OneOffSpec): void {
  checkId(spec.id);
  checkRelease(spec.release);
  checkName('app', spec.app);
  if (!Number.isFinite(spec.timeoutMs) || spec.timeoutMs <= 0) {
    invalid('timeoutMs must be a positive number');
  }
  checkEnv(spec.env);
  checkCommand(spec.command);
  checkArtifact(spec.artifact, spec.command);
  checkAccount(spec.account);
}
