import { spawn } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { link, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import type { AccessPolicy, Caller } from '../domain/access/index.js';
import type { IdentityService } from '../domain/identity/index.js';
import { fingerprintOf, type KeysService } from '../domain/keys/index.js';
import { BerthError } from '../errors/index.js';
import type { Logger } from '../logging/index.js';
import type { GitPushDeploys } from './push-deploys.js';
import type { GitRepositories } from './repositories.js';
import { authorizeGit, gitProcessEnv } from './services.js';
import { parseGitCommand } from './ssh-command.js';

export interface GitSshServices {
  readonly keys: KeysService;
  readonly identity: IdentityService;
  readonly access: AccessPolicy;
  readonly repositories: GitRepositories;
  readonly pushes: GitPushDeploys;
  readonly logger: Logger;
  /** `<data-dir>/ssh_host_ed25519_key`: made once (0600), then read at every start. */
  readonly hostKeyFile: string;
  /** The largest push passed to git, in bytes, as over HTTP (ServerOptions.gitMaxPushBytes). */
  readonly maxPushBytes: number;
  /** How long a connection may take to authenticate (ServerOptions.sshAuthTimeoutMs). */
  readonly authTimeoutMs: number;
}

const USAGE = 'berth: only git push and fetch are served here (ssh://git@HOST:PORT/<app>.git)';

/** Tries: ssh2 1.17's generator makes a key its own parser refuses about once in 500 (seen). */
const HOST_KEY_TRIES = 10;

/** A new ed25519 key pair that ssh2 can read back. */
function generateHostKey(): { private: string } {
  for (let tried = 0; tried < HOST_KEY_TRIES; tried++) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519');
    if (!(ssh2.utils.parseKey(pair.private) instanceof Error)) return pair;
  }
  throw new Error(`could not generate an SSH host key ssh2 can read in ${HOST_KEY_TRIES} tries`);
}

/** The host key, generated into `file` (0600) the first time. */
async function loadOrCreateHostKey(file: string): Promise<Buffer> {
  const existing = await readFile(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (existing) return existing;
  const pair = generateHostKey();
  // Written whole under a temporary name, then linked into place: of two controllers starting
  // on one data dir, one links and both use its key, and neither reads a half-written file.
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(temporary, pair.private, { mode: 0o600, flag: 'wx' });
  try {
    await link(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await rm(temporary, { force: true });
  }
  return readFile(file);
}

/**
 * Git over SSH: publickey authentication against the users' stored keys, then only the exec
 * of git-receive-pack (the 'write' scope) or git-upload-pack ('read') on an app the key's user
 * may reach, authorized and set up as a smart-HTTP request is (services.ts), so a push to the
 * deploy branch deploys through the same pre-receive hook. No shell, pty, env, subsystem,
 * agent or X11 forwarding, and no port forwarding.
 */
export class GitSshServer {
  readonly #services: GitSshServices;
  #server: ssh2.Server | undefined;
  readonly #clients = new Set<ssh2.Connection>();

  constructor(services: GitSshServices) {
    this.#services = services;
  }

  /** Listens; resolves with the address actually bound. */
  async listen(host: string, port: number): Promise<AddressInfo> {
    const hostKey = await loadOrCreateHostKey(this.#services.hostKeyFile);
    const server = new ssh2.Server({ hostKeys: [hostKey] }, (client, info) =>
      this.#connection(client, info.ip),
    );
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error: Error) =>
      this.#services.logger.warn({ err: error }, 'ssh server error'),
    );
    return server.address() as AddressInfo;
  }

  /** Stops listening and ends every connection. */
  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    for (const client of this.#clients) client.end();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #connection(client: ssh2.Connection, ip: string): void {
    const { logger } = this.#services;
    this.#clients.add(client);
    let caller: (Caller & { readonly keyId: string }) | undefined;
    const timer = setTimeout(() => {
      if (!caller) client.end();
    }, this.#services.authTimeoutMs);
    client.on('close', () => {
      clearTimeout(timer);
      this.#clients.delete(client);
    });
    client.on('error', (error: Error) => logger.debug({ err: error, ip }, 'ssh connection error'));

    client.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
      this.#authenticate(ctx).then(
        (found) => {
          if (!found) return ctx.reject(['publickey']);
          // Without a signature the client only asks whether this key would do.
          if (!ctx.signature) return ctx.accept();
          caller = found;
          logger.info({ ip, user: found.username, key: found.keyId }, 'ssh login');
          ctx.accept();
        },
        (error: unknown) => {
          logger.error({ err: error, ip }, 'ssh authentication failed');
          ctx.reject(['publickey']);
        },
      );
    });

    // Port forwarding and other global requests, direct TCP/IP and unix socket channels.
    client.on('request', (_accept, reject) => reject?.());
    client.on('tcpip', (_accept, reject) => reject());
    client.on('openssh.streamlocal', (_accept, reject) => reject());

    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('pty', (_accept, reject) => reject?.());
        session.on('env', (_accept, reject) => reject?.());
        session.on('x11', (_accept, reject) => reject?.());
        session.on('auth-agent', (_accept, reject) => reject?.());
        session.on('subsystem', (_accept, reject) => reject?.());
        session.on('signal', (_accept, reject) => reject?.());
        session.on('window-change', (_accept, reject) => reject?.());
        session.on('shell', (accept) => {
          const stream = accept();
          stream.stderr.write(`${USAGE}\n`);
          stream.exit(1);
          stream.end();
        });
        session.on('exec', (accept, _reject, info) => {
          const stream = accept();
          if (!caller) return refuse(stream, 'berth: not authenticated');
          this.#exec(stream, caller, info.command, ip).catch((error: unknown) => {
            logger.error({ err: error, ip }, 'ssh git request failed');
            refuse(stream, 'berth: the request failed on the server');
          });
        });
      });
    });
  }

  /** The user of a stored key matching the offered one, its signature checked when given. */
  async #authenticate(
    ctx: ssh2.PublicKeyAuthContext,
  ): Promise<(Caller & { readonly keyId: string }) | undefined> {
    const stored = await this.#services.keys.byFingerprint(fingerprintOf(ctx.key.data));
    if (!stored) return undefined;
    const parsed = ssh2.utils.parseKey(stored.publicKey);
    if (parsed instanceof Error || Array.isArray(parsed)) return undefined;
    const blob = parsed.getPublicSSH();
    if (blob.length !== ctx.key.data.length || !timingSafeEqual(blob, ctx.key.data))
      return undefined;
    if (ctx.signature && ctx.blob && parsed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true)
      return undefined;
    if (ctx.signature && !ctx.blob) return undefined;
    const user = await this.#services.identity.getUser(stored.userId);
    // A key stands for its user for git: fetching and pushing, never API administration.
    return {
      userId: user.id,
      username: user.username,
      isAdmin: user.isAdmin,
      scopes: new Set(['read', 'write']),
      keyId: stored.id,
    };
  }

  async #exec(
    stream: ssh2.ServerChannel,
    caller: Caller,
    command: string,
    ip: string,
  ): Promise<void> {
    const { logger } = this.#services;
    const request = parseGitCommand(command);
    if (!request) return refuse(stream, USAGE);
    let app;
    try {
      app = await authorizeGit(this.#services.access, caller, request.app, request.service);
    } catch (error) {
      if (error instanceof BerthError) return refuse(stream, `berth: ${error.message}`);
      throw error;
    }
    const receive = request.service === 'git-receive-pack';
    const processEnv = await gitProcessEnv(
      this.#services,
      { app, username: caller.username },
      receive,
    );
    logger.info(
      { ip, user: caller.username, app: app.name, service: request.service },
      'ssh git request',
    );
    // Argument arrays only; the repository path is the app's, never the client's text.
    const child = spawn('git', [receive ? 'receive-pack' : 'upload-pack', processEnv.repository], {
      env: processEnv.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stop = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    };
    const limit = this.#services.maxPushBytes;
    let received = 0;
    stream.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) {
        logger.warn({ app: app.name }, 'ssh git push over the limit');
        stream.stderr.write('berth: the push is too large\n');
        stop();
      }
    });
    child.stdin.on('error', () => undefined);
    stream.pipe(child.stdin);
    // Not ended by the pipes: git must get its exit status before the channel's EOF.
    child.stdout.pipe(stream, { end: false });
    child.stderr.pipe(stream.stderr, { end: false });
    stream.once('close', stop);
    child.once('error', (error) => {
      logger.error({ err: error }, 'cannot start git');
      processEnv.end();
      refuse(stream, 'berth: cannot start git on the server');
    });
    child.once('close', (code) => {
      processEnv.end();
      stream.exit(code ?? 1);
      stream.end();
    });
  }
}

/** Says why on stderr and exits 1. */
function refuse(stream: ssh2.ServerChannel, message: string): void {
  stream.stderr.write(`${message}\n`);
  stream.exit(1);
  stream.end();
}
