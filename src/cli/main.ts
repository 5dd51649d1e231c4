import { parseArgs } from 'node:util';
import path from 'node:path';
import {
  buildStackImages,
  isStackName,
  STACK_NAMES,
  type StackName,
} from '../build/stacks/index.js';
import { connectEngine } from '../engine/index.js';
import { createLogger } from '../logging/index.js';
import { startRouter } from '../router/index.js';
import {
  compileServerOptions,
  envName,
  OptionsError,
  serverFlags,
  startServer,
  stopController,
  stopDataPlane,
  writeControllerPid,
} from '../server/index.js';
import { explainAddressInUse, type ListenFlag } from './address-in-use.js';

/** Raised for a command line that cannot run; its message is printed and the exit code is 2. */
class UsageError extends Error {}

/** An address already in use becomes one plain line (exit 1); any other error stays itself. */
async function explained(error: unknown, flags: readonly ListenFlag[]): Promise<unknown> {
  const line = await explainAddressInUse(error, flags);
  return line === undefined ? error : new Error(line, { cause: error });
}

async function runServer(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: Object.fromEntries(serverFlags.map((f) => [f, { type: 'string' as const }])),
      allowPositionals: false,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const options = compileServerOptions(parsed.values);
  const logger = createLogger();
  // Handlers go in before startup: a stop requested while the store migrates must not kill the
  // process half-way, it stops the server as soon as it is up.
  let stopRequested: ((signal: NodeJS.Signals) => void) | undefined;
  let requestedBeforeStart: NodeJS.Signals | undefined;
  let signals = 0;
  let forceExit: ((code: number) => void) | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      forceExit?.(1);
      return;
    }
    logger.info({ signal }, 'stopping');
    if (stopRequested) stopRequested(signal);
    else requestedBeforeStart = signal;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Everything the controller (and the router it starts) makes is its own unless it says
  // otherwise: SQLite's files, uploads, repositories. Apps reach only what is handed to them.
  process.umask(0o077);
  let server;
  try {
    server = await startServer(options, logger);
  } catch (error) {
    throw await explained(error, [
      { flag: 'listen', ...options.listen },
      { flag: 'router-listen', ...options.routerListen },
      ...(options.sshListen ? [{ flag: 'ssh-listen' as const, ...options.sshListen }] : []),
    ]);
  }
  const forgetPid = await writeControllerPid(options.dataDir);
  return new Promise<number>((resolve) => {
    forceExit = resolve;
    stopRequested = () => {
      server.close().then(
        () => forgetPid().then(() => resolve(0)),
        (error: unknown) => {
          logger.error({ err: error }, 'stopping failed');
          resolve(1);
        },
      );
    };
    if (requestedBeforeStart) stopRequested(requestedBeforeStart);
  });
}

/** The flags of `berth router`: the server's flags of the same names and meanings. */
const routerFlags = ['data-dir', 'router-listen'] as const;

/**
 * `berth router`: the builtin router in the foreground until SIGTERM/SIGINT, which let requests
 * in flight finish. The controller runs this as a detached process of its own.
 */
async function runRouter(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: Object.fromEntries(routerFlags.map((f) => [f, { type: 'string' as const }])),
      allowPositionals: false,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const flags = parsed.values as Partial<Record<(typeof routerFlags)[number], string>>;
  // Only the environment variables of the router's own flags count: a BERTH_* setting meant
  // for the server (a database URL, a runtime) must not stop the data plane from starting.
  const env = Object.fromEntries(
    routerFlags.map((f) => [envName(f), process.env[envName(f)]] as const),
  );
  const { dataDir, routerListen, routerDrainMs, routerUpstreamTimeoutMs } = compileServerOptions(
    flags,
    env,
  );
  const logger = createLogger();
  let router;
  try {
    router = await startRouter({
      dir: path.join(dataDir, 'router'),
      listen: routerListen,
      logger,
      drainMs: routerDrainMs,
      upstreamTimeoutMs: routerUpstreamTimeoutMs,
    });
  } catch (error) {
    throw await explained(error, [{ flag: 'router-listen', ...routerListen }]);
  }
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      if (++signals > 1) {
        logger.warn({ signal }, 'second signal: exiting without waiting');
        resolve(1);
        return;
      }
      logger.info({ signal }, 'stopping');
      router.close().then(
        () => resolve(0),
        (error: unknown) => {
          logger.error({ err: error }, 'stopping failed');
          resolve(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** `berth down [--data-dir DIR]`: stops the controller, then the router and every unit. */
async function runDown(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { 'data-dir': { type: 'string' }, 'engine-socket': { type: 'string' } },
      allowPositionals: false,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const env = {
    BERTH_DATA_DIR: process.env['BERTH_DATA_DIR'],
    BERTH_ENGINE_SOCKET: process.env['BERTH_ENGINE_SOCKET'],
  };
  const { dataDir, engineSocket } = compileServerOptions(parsed.values, env);
  const controller = await stopController(dataDir, 20_000);
  const stoppedController = controller
    ? `stopped the controller (pid ${controller})`
    : 'no controller was running';
  let stopped: { units: number; addons: number; router: boolean };
  try {
    stopped = await stopDataPlane(dataDir, 10_000, engineSocket);
  } catch (error) {
    // The controller is stopped all the same (its engine may be the part that is gone).
    process.stdout.write(`${stoppedController}\n`);
    throw error;
  }
  process.stdout.write(
    `${stoppedController}; ` +
      `${stopped.router ? 'stopped the router' : 'no router was running'}; stopped ${stopped.units} unit(s)` +
      (stopped.addons > 0 ? ` and ${stopped.addons} add-on server(s), data kept` : '') +
      '\n',
  );
  return 0;
}

/** `MiB` with one decimal, for sizes printed to people. */
function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * `berth stacks build [--engine-socket PATH] [--force] [--only STACKS] [--mirror URL]`: builds
 * the stack base images and add-on server images in parallel, one line per image.
 */
async function runStacks(args: string[]): Promise<number> {
  const [subcommand, ...rest] = args;
  if (subcommand !== 'build') {
    throw new UsageError(
      subcommand === undefined
        ? "'berth stacks' needs a subcommand: build"
        : `unknown subcommand 'stacks ${subcommand}'; run 'berth help'`,
    );
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: {
        'engine-socket': { type: 'string' },
        force: { type: 'boolean' },
        only: { type: 'string' },
        mirror: { type: 'string' },
      },
      allowPositionals: false,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const flags = parsed.values;
  let only: StackName[] | undefined;
  if (flags.only !== undefined) {
    const names = flags.only.split(',').map((name) => name.trim());
    const unknown = names.filter((name) => !isStackName(name));
    if (unknown.length > 0 || names.length === 0) {
      throw new UsageError(
        `--only takes stacks out of ${STACK_NAMES.join(', ')}, got '${flags.only}'`,
      );
    }
    only = names.filter(isStackName);
  }
  const socket = flags['engine-socket'] || process.env['BERTH_ENGINE_SOCKET'];
  const { engine, product } = await connectEngine(socket ? { socket } : {});
  if (process.getuid?.() !== 0) {
    process.stderr.write(
      'berth: note: building stack images needs root (debootstrap); images already present ' +
        'are skipped without it\n',
    );
  }
  const started = performance.now();
  const results = await buildStackImages({
    engine,
    ...(flags.force ? { force: true } : {}),
    ...(only ? { only } : {}),
    ...(flags.mirror ? { mirror: flags.mirror } : {}),
    onStart: (_stack, image) => process.stdout.write(`building ${image} on ${product}...\n`),
  });
  for (const result of results) {
    const how = result.status === 'skipped' ? 'already present' : `built in ${result.seconds} s`;
    process.stdout.write(`${result.image}: ${how}, ${mebibytes(result.sizeBytes)}\n`);
  }
  const total = Math.round((performance.now() - started) / 100) / 10;
  process.stdout.write(`stack images ready in ${total} s\n`);
  return 0;
}

/**
 * Runs one of the server's own commands (dispatch.ts has answered help and the version);
 * resolves with the process exit code.
 */
export async function runServerCommand(
  command: 'server' | 'router' | 'down' | 'stacks',
  args: string[],
): Promise<number> {
  try {
    switch (command) {
      case 'server':
        return await runServer(args);
      case 'down':
        return await runDown(args);
      case 'router':
        return await runRouter(args);
      case 'stacks':
        return await runStacks(args);
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`berth: ${message}\n`);
    return error instanceof UsageError || error instanceof OptionsError ? 2 : 1;
  }
}
