import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { rm } from 'node:fs/promises';
import {
  ArtifactStore,
  BuildNetworkError,
  loadBuildNetwork,
  removeAppImages,
  SlugStore,
  type BuildNetwork,
} from '../build/index.js';
import { buildApi } from '../api/index.js';
import { ChangeStream, WatcherHub } from '../changes/index.js';
import { AccessPolicy } from '../domain/access/index.js';
import { AppsService, appsState, type App } from '../domain/apps/index.js';
import { AuditService } from '../domain/audit/index.js';
import { ConfigService } from '../domain/config/index.js';
import { ArtifactsService, artifactsState } from '../domain/artifacts/index.js';
import { DeploymentsService, deploymentsState } from '../domain/deployments/index.js';
import { IdentityService } from '../domain/identity/index.js';
import { KeysService, keysState } from '../domain/keys/index.js';
import { ProcessConfigService } from '../domain/process-configs/index.js';
import { ReleasesService } from '../domain/releases/index.js';
import { FormationService, formationState } from '../domain/formation/index.js';
import { RolloutsService, rolloutsState } from '../domain/rollouts/index.js';
import { RoutesService, routesState } from '../domain/routes/index.js';
import {
  AppLocks,
  AppTeardown,
  Deployer,
  Reconciler,
  ReleaseRunner,
  RouterSync,
  defaultPipelines,
  directoryArtifacts,
  imageArtifacts,
} from '../workers/index.js';
import { GitPushDeploys, GitRepositories, GitSshServer } from '../git/index.js';
import { assertReachableByApps, secureDataDir } from './data-dir.js';
import { startDataPlane, type DataPlaneHandle } from './data-plane.js';
import type { Logger } from '../logging/index.js';
import { loadOrCreateMasterKey, SecretBox } from '../secrets/index.js';
import { detectIsolation } from '../runtime/index.js';
import { openStore, type Store } from '../store/index.js';
import { OptionsError, redactDatabaseUrl, type ServerOptions } from './options.js';
import { berthVersion } from './version.js';

/** A running controller. */
export interface RunningServer {
  readonly store: Store;
  readonly hub: WatcherHub;
  /** The API's address, with the port actually bound. */
  readonly apiUrl: string;
  /** The router's address (apps answer there by Host), with the port actually bound. */
  readonly routerUrl: string;
  /** Git over SSH (`ssh://git@HOST:PORT`), with the port actually bound. */
  readonly sshUrl: string;
  /** Stops accepting requests, lets in-flight ones finish, stops the stream, closes the store. */
  close(): Promise<void>;
}

/**
 * The composition root: opens and migrates the store, starts the change stream and serves the
 * API. On any failure it releases what it had opened.
 */
export async function startServer(options: ServerOptions, logger: Logger): Promise<RunningServer> {
  const storeLabel = options.databaseUrl
    ? redactDatabaseUrl(options.databaseUrl)
    : `sqlite in ${options.dataDir}`;
  // Before anything starts: apps that run as users of their own must reach their releases.
  if (options.runtime === 'process' && (await detectIsolation()).kind === 'users') {
    await assertReachableByApps(options.dataDir);
  }
  const buildNetwork = await openBuildNetwork(options, logger);
  logger.info({ store: storeLabel, dataDir: options.dataDir }, 'opening the store');
  await secureDataDir(options.dataDir);
  const store = await openStore({
    dataDir: options.dataDir,
    databaseUrl: options.databaseUrl,
    onListenerError: (error) =>
      logger.warn({ err: error }, 'lost the change notification connection; polling'),
  });
  const hub = new WatcherHub();
  const stream = new ChangeStream({ store, hub, logger });
  let api: Awaited<ReturnType<typeof buildApi>> | undefined;
  let deployer: Deployer | undefined;
  let reconciler: Reconciler | undefined;
  let routerSync: RouterSync | undefined;
  let dataPlane: DataPlaneHandle | undefined;
  let gitPushes: GitPushDeploys | undefined;
  let gitSsh: GitSshServer | undefined;
  let sshAddress: AddressInfo | undefined;
  try {
    const secrets = new SecretBox(
      loadOrCreateMasterKey({ dataDir: options.dataDir, env: process.env }),
    );
    // The data plane first: whether this runtime keeps apps apart decides who may own apps.
    dataPlane = await startDataPlane(options, logger);
    const runtime = dataPlane.runtime;
    const engine = dataPlane.engine;
    const sandboxes = dataPlane.sandboxes;
    const identity = new IdentityService({ store });
    const keys = new KeysService({ state: keysState(store) });
    const apps = new AppsService({
      state: appsState(store),
      tenancy: sandboxes?.isolation.kind === 'none' ? 'single' : 'multi',
    });
    const config = new ConfigService({ store, secrets });
    const audit = new AuditService({ store });
    const access = new AccessPolicy({ apps });
    const deployments = new DeploymentsService({ state: deploymentsState(store) });
    const releases = new ReleasesService({ store, secrets, config });
    const processConfigs = new ProcessConfigService({ store, secrets });
    const artifacts = new ArtifactStore({ root: path.join(options.dataDir, 'artifacts') });
    const artifactRecords = new ArtifactsService({ state: artifactsState(store) });
    const formation = new FormationService({
      state: formationState(store),
      releases: {
        async latestProcesses(appId) {
          const latest = await releases.latest(appId);
          return latest && { processes: latest.processes, formation: latest.formation };
        },
      },
    });
    const rollouts = new RolloutsService({ state: rolloutsState(store) });
    const routes = new RoutesService({ state: routesState(store) });
    // Slugs (process runtime) and image build contexts (container runtime) never mix.
    const slugs = new SlugStore({
      root: path.join(options.dataDir, engine ? 'build-contexts' : 'apps'),
    });
    routerSync = new RouterSync({
      routes,
      hub,
      router: dataPlane.router,
      domain: options.domain,
      logger,
    });
    const runner = new ReleaseRunner({
      runtime,
      releases,
      processConfigs,
      formation,
      routes,
      rollouts,
      routerSync,
      slugs,
      artifacts: engine
        ? imageArtifacts(engine, { keep: options.imageKeep })
        : directoryArtifacts(sandboxes),
      locks: new AppLocks(),
      logger,
      startupTimeoutMs: options.startupTimeoutMs,
      drainTimeoutMs: options.drainTimeoutMs,
      stopGraceMs: options.stopGraceMs,
    });
    reconciler = new Reconciler({
      apps,
      deployments,
      releases,
      rollouts,
      runner,
      runtime,
      hub,
      logger,
    });
    deployer = new Deployer({
      deployments,
      apps,
      hub,
      logger,
      controllerId: stream.readerId,
      workRoot: path.join(options.dataDir, 'work'),
      pipelines: defaultPipelines({
        deployments,
        config,
        releases,
        artifacts,
        artifactRecords,
        slugs,
        runner,
        buildTimeoutMs: options.buildTimeoutMs,
        buildNetwork,
        ...(engine ? { imageEngine: engine } : {}),
        ...(sandboxes ? { buildJails: sandboxes } : {}),
      }),
      leaseMs: options.deployLeaseMs,
      stepDelayMs: options.deployStepDelayMs,
      retry: Object.freeze({
        attempts: options.deployRetryAttempts,
        baseDelayMs: options.deployRetryBaseMs,
      }),
      concurrency: options.deployConcurrency,
    });
    const admin = await identity.ensureAdmin({ dataDir: options.dataDir });
    if (admin.created) {
      // Only where it is: a log line is copied to places a 0600 file is not.
      logger.info({ file: admin.tokenFile }, 'created user admin; its API token is in the file');
    }
    gitPushes = new GitPushDeploys({
      deployments,
      hub,
      logger: logger.child({ component: 'git' }),
      uploadDir: path.join(options.dataDir, 'uploads'),
      bundleLimit: options.bundleLimit,
    });
    await gitPushes.start();
    const repositories = new GitRepositories({ root: path.join(options.dataDir, 'git') });
    const teardown = new AppTeardown({
      apps,
      runner,
      byName: [
        {
          what: 'git repository',
          remove: (app) => rm(repositories.pathOf(app), { recursive: true, force: true }),
        },
        ...(engine
          ? [
              {
                what: 'images',
                remove: async (app: App) => {
                  await removeAppImages(engine, app.name);
                },
              },
            ]
          : []),
      ],
      byId: [{ what: 'slugs', remove: (app) => slugs.removeApp(app.id) }],
      logger,
    });
    api = await buildApi({
      store,
      hub,
      logger,
      identity,
      keys,
      apps,
      config,
      audit,
      access,
      deployments,
      releases,
      processConfigs,
      formation,
      rollouts,
      runtime,
      runEnvironment: { of: (app, release) => runner.oneOffEnvironment(app, release) },
      diskUsage: { of: (app) => runner.diskUsage(app) },
      destroyer: teardown,
      uploadDir: path.join(options.dataDir, 'uploads'),
      bundleLimit: options.bundleLimit,
      version: berthVersion(),
      git: {
        repositories,
        pushes: gitPushes,
      },
    });
    // Again, for what the store, the router and the SSH key made with the caller's umask.
    await secureDataDir(options.dataDir);
    await stream.start();
    routerSync.start();
    deployer.start();
    reconciler.start();
    await api.listen({ host: options.listen.host, port: options.listen.port });
    gitSsh = new GitSshServer({
      keys,
      identity,
      access,
      repositories,
      pushes: gitPushes,
      logger: logger.child({ component: 'ssh' }),
      hostKeyFile: path.join(options.dataDir, 'ssh_host_ed25519_key'),
    });
    sshAddress = await gitSsh.listen(options.sshListen.host, options.sshListen.port);
  } catch (error) {
    await gitSsh?.close().catch(() => undefined);
    await gitPushes?.close().catch(() => undefined);
    await api?.close().catch(() => undefined);
    await deployer?.stop().catch(() => undefined);
    await reconciler?.stop().catch(() => undefined);
    await routerSync?.stop().catch(() => undefined);
    await dataPlane?.close().catch(() => undefined);
    await stream.stop().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw error;
  }
  const running = api;
  const runningDeployer = deployer;
  const runningReconciler = reconciler;
  const runningRouterSync = routerSync;
  const runningDataPlane = dataPlane;
  const runningGitPushes = gitPushes;
  const runningGitSsh = gitSsh;
  const sshHost = sshAddress.family === 'IPv6' ? `[${sshAddress.address}]` : sshAddress.address;
  const sshUrl = `ssh://git@${sshHost}:${sshAddress.port}`;
  const address = running.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const apiUrl = `http://${host}:${address.port}`;
  logger.info(
    {
      url: apiUrl,
      routerUrl: runningDataPlane.routerUrl,
      sshUrl,
      schemaVersion: store.schemaVersion,
      store: store.dialect,
    },
    'berth server listening',
  );

  let closing: Promise<void> | undefined;
  return {
    store,
    hub,
    apiUrl,
    routerUrl: runningDataPlane.routerUrl,
    sshUrl,
    close: () =>
      (closing ??= (async () => {
        // Pushes that follow a task are answered first, so closing the API does not wait on them.
        await runningGitSsh.close();
        await runningGitPushes.close();
        await running.close();
        await runningDeployer.stop();
        await runningReconciler.stop();
        await runningRouterSync.stop();
        // The router and the units keep serving: a controller started again adopts them.
        await runningDataPlane.close();
        await stream.stop();
        await store.close();
        logger.info('berth server stopped');
      })()),
  };
}

/**
 * The host's network settings for builds (proxies, CAs, npm and pip settings), from the
 * controller's environment and --build-env-file, read once: a file that cannot be read or
 * names a key it may not is a start-up error, not a failing build later.
 */
async function openBuildNetwork(options: ServerOptions, logger: Logger): Promise<BuildNetwork> {
  try {
    const network = await loadBuildNetwork({ env: process.env, file: options.buildEnvFile });
    const keys = Object.keys(network.env);
    if (keys.length > 0 || network.caBundle || network.npmrc || network.pipConf) {
      logger.info(
        {
          variables: keys,
          caBundle: network.caBundle !== undefined,
          npmrc: network.npmrc !== undefined,
          pipConf: network.pipConf !== undefined,
          ...(options.buildEnvFile ? { file: options.buildEnvFile } : {}),
        },
        "builds get the host's network settings",
      );
    }
    return network;
  } catch (error) {
    if (error instanceof BuildNetworkError) {
      throw new OptionsError(`--build-env-file: ${error.message}`, { cause: error });
    }
    throw error;
  }
}
