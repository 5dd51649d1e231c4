// Where `berth login` keeps the server and token: $XDG_CONFIG_HOME/berth/config.json (else
// ~/.config/berth/config.json), mode 0600. BERTH_SERVER and BERTH_TOKEN override it.
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { normaliseServer, type ApiTarget } from './api-client.js';
import { CliError } from './errors.js';

/** What a login saves. */
export interface SavedLogin {
  readonly server: string;
  readonly token: string;
}

/** The server a client talks to when nothing says otherwise. */
export const DEFAULT_SERVER = 'http://127.0.0.1:7100';

/** The config file's path for this environment. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env['XDG_CONFIG_HOME'] || path.join(os.homedir(), '.config');
  return path.join(base, 'berth', 'config.json');
}

/** The saved login, or undefined when there is none. */
export async function readLogin(
  env: NodeJS.ProcessEnv = process.env,
): Promise<SavedLogin | undefined> {
  const file = configPath(env);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError(`${file} is not valid JSON; run 'berth login' again`);
  }
  const { server, token } = (parsed ?? {}) as Record<string, unknown>;
  if (typeof server !== 'string' || typeof token !== 'string') return undefined;
  return { server, token };
}

/** Saves the login with mode 0600 (its directory 0700), replacing the file atomically. */
export async function saveLogin(
  login: SavedLogin,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const file = configPath(env);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(
    temporary,
    `${JSON.stringify({ server: login.server, token: login.token }, null, 2)}\n`,
    {
      mode: 0o600,
    },
  );
  await chmod(temporary, 0o600);
  await rename(temporary, file);
  return file;
}

/**
 * The server and token to call: BERTH_SERVER / BERTH_TOKEN first, then the saved login, then
 * the default server with no token.
 */
export async function resolveTarget(env: NodeJS.ProcessEnv = process.env): Promise<ApiTarget> {
  const saved = await readLogin(env);
  const fromEnv = env['BERTH_SERVER'] ? normaliseServer(env['BERTH_SERVER']) : undefined;
  const server = fromEnv ?? saved?.server ?? DEFAULT_SERVER;
  // A saved token belongs to its server: it is not sent to another one BERTH_SERVER names.
  const savedToken = saved && saved.server === server ? saved.token : undefined;
  return { server, token: env['BERTH_TOKEN'] || savedToken };
}
