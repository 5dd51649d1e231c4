import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { rm } from 'node:fs/promises';
import {
  ArtifactStore,
  BuildNetworkError,
  loadBuildNetwork,
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
import { DomainsService, domainsState } from '../domain/domains/index.js';
import { MaintenanceService, maintenanceState } from '../domain/maintenance/index.js';
import { AddonsService } from '../domain/addons/index.js';
import {
  AppLocks,
  AppTeardown,
  BundleIntake,
  Deployer,
  Reconciler,
  ScheduledBackups,
  ReleaseRunner,
  RouterSync,
  defaultPipelines,
} from '../workers/index.js';
import {
  GitPushDeploys,
  GitRepositories,
  listenGitSsh,
  type GitSshServices,
} from '../git/index.js';
import { ResourceStack } from '../lifecycle/index.js';
import { secureDataDir } from './data-dir.js';
import { kubeManifestOptions } from './kube-manifest-options.js';
import { startDataPlane } from './data-plane.js';
import { cronParts } from './cron-parts.js';
import type { Logger } from '../logging/index.js';
import { loadOrCreateMasterKey, SecretBox } from '../secrets/index.js';
import { openStore, type Store } from '../store/index.js';
import {
  OptionsError,
  redactDatabaseUrl,
  type ListenAddress,
  type ServerOptions,
} from './options.js';
import { berthVersion } from './version.js';

/** A running controller. */
export interface RunningServer {
  readonly store: Store;
  readonly hub: WatcherHub;
  /** The API's address, with the port actually bound. */
  readonly apiUrl: string;
  /** The router's address (apps answer there by Host), with the port actually bound. */
  readonly routerUrl: string;
  /**
   * Git over SSH (`ssh://git@HOST:PORT`), with the port actually bound; undefined with
   * `--ssh-listen off`.
   */
  readonly sshUrl: string | undefined;
  /** Stops accepting requests, lets in-flight ones finish, stops the stream, closes the store. */
  close(): Promise<void>;
}

function urlHost(address: AddressInfo): string {
  return address.family === 'IPv6' ? `[${address.address}]` : address.address;
}

/**
 * The composition root: opens and migrates the store, starts the change stream, the data
 * plane (the runtime profile the options name, and the router), the workers, and serves the
 * API and git over SSH. Everything it opens goes on one stack: a failure half-way closes
 * what was opened, newest first, and so does `close`.
 */
export async function startServer(options: ServerOptions, logger: Logger): Promise<RunningServer> {
  const storeLabel = options.databaseUrl
    ? redactDatabaseUrl(options.databaseUrl)
    : `sqlite in ${options.dataDir}`;
  const buildNetwork = await openBuildNetwork(options, logger);
  logger.info({ store: storeLabel, dataDir: options.dataDir }, 'opening the store');
  await secureDataDir(options.dataDir);
  const resources = new ResourceStack();
  try {
    const store = await resources.open(
      'store',
      () =>
        openStore({
          dataDir: options.dataDir,
          databaseUrl: options.databaseUrl,
          onListenerError: (error) =>
            logger.warn({ err: error }, 'lost the change notification connection; polling'),
        }),
      (opened) => opened.close(),
    );
    const hub = new WatcherHub();
    const stream = new ChangeStream({ store, hub, logger, ...options.changeStream });
    resources.defer('change stream', () => stream.stop());
    const secrets = new SecretBox(
      loadOrCreateMasterKey({ dataDir: options.dataDir, env: process.env }),
    );
    // The data plane first: whether this runtime keeps apps apart decides who may own apps.
    const dataPlane = await resources.open(
      'data plane',
      () => startDataPlane(options, logger, store),
      (plane) => plane.close(),
    );
    const profile = dataPlane.profile;
    const runtime = profile.driver;
    const identity = new IdentityService({ store });
    const keys = new KeysService({ state: keysState(store) });
    const apps = new AppsService({ state: appsState(store), tenancy: profile.tenancy });
    const config: ConfigService = new ConfigService({
      store,
      secrets,
      // An attached add-on's URL is not shadowed by a config var of its name.
      keysTaken: (appId) => addons.variablesOf(appId),
    });
    const audit = new AuditService({ store });
    const deployments = new DeploymentsService({
      state: deploymentsState(store),
      maxEventBytes: options.deployLogLimitBytes,
    });
    const addons: AddonsService = new AddonsService({
      store,
      secrets,
      logger: logger.child({ component: 'addons' }),
      apps: {
        findById: (id) => apps.findById(id),
        configKeys: async (appId) => Object.keys(await config.get(appId, { reveal: false })),
      },
      servers: profile.addons,
      backupsDir: path.join(options.dataDir, 'backups'),
      ...(profile.addonsUnavailable ? { unavailableReason: profile.addonsUnavailable } : {}),
      // An attachment changed the app's variables: a release like the serving one has them.
      rollRelease: async (appId): Promise<number | undefined> => {
        const serving = await rollouts.get(appId);
        const release = await releases.onConfigChanged(appId, serving?.version ?? undefined);
        return release?.version;
      },
    });
    const access = new AccessPolicy({ apps, addons });
    // A release's variables: the app's config vars and what its add-ons give it.
    const releases: ReleasesService = new ReleasesService({
      store,
      secrets,
      config: {
        snapshot: async (appId): Promise<Record<string, string>> => ({
          ...(await config.snapshot(appId)),
          ...(await addons.environmentOf(appId)),
        }),
      },
    });
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
    const builds = profile.builder.builds;
    const domains = new DomainsService({
      state: domainsState(store),
      serverDomain: options.domain,
    });
    const maintenance = new MaintenanceService({ state: maintenanceState(store) });
    const routerSync = new RouterSync({
      routes,
      domains,
      maintenance,
      hub,
      router: dataPlane.router,
      domain: options.domain,
      logger,
      checkIntervalMs: options.routerCheckIntervalMs,
    });
    resources.defer('router sync', () => routerSync.stop());
    const runner = new ReleaseRunner({
      runtime,
      releases,
      processConfigs,
      formation,
      routes,
      rollouts,
      routerSync,
      slugs: builds,
      artifacts: profile.artifacts,
      locks: new AppLocks(),
      logger,
      startupTimeoutMs: options.startupTimeoutMs,
      drainTimeoutMs: options.drainTimeoutMs,
      unitStopGraceMs: options.unitStopGraceMs,
    });
    const reconciler = new Reconciler({
      apps,
      deployments,
      releases,
      formation,
      rollouts,
      runner,
      runtime,
      hub,
      logger,
      intervalMs: options.reconcileIntervalMs,
      rolloutRetry: options.rolloutRetry,
    });
    resources.defer('reconciler', () => reconciler.stop());
    const cron = cronParts({
      store,
      hub,
      logger,
      apps,
      releases,
      rollouts,
      runner,
      builds,
      options: options.cron,
    });
    resources.defer('cron', () => cron.worker.stop());
    const deployer = new Deployer({
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
        runner,
        builder: profile.builder,
        unreachableBackend: (error) => profile.unreachableBackend(error),
        buildTimeoutMs: options.buildTimeoutMs,
        addons,
        buildNetwork,
      }),
      leaseMs: options.deployLeaseMs,
      stepDelayMs: options.deployStepDelayMs,
      retry: Object.freeze({
        attempts: options.deployRetryAttempts,
        baseDelayMs: options.deployRetryBaseMs,
      }),
      concurrency: options.deployConcurrency,
      taskDrainMs: options.taskDrainMs,
    });
    resources.defer('deployer', () => deployer.stop());
    // Uploads and git pushes queue deploys the one same way.
    const intake = new BundleIntake({ deployments });
    const admin = await identity.ensureAdmin({ dataDir: options.dataDir });
    if (admin.created) {
      // Only where it is: a log line is copied to places a 0600 file is not.
      logger.info({ file: admin.tokenFile }, 'created user admin; its API token is in the file');
    }
    const gitPushes = await resources.open(
      'git pushes',
      async () => {
        const pushes = new GitPushDeploys({
          deployments,
          intake,
          hub,
          logger: logger.child({ component: 'git' }),
          uploadDir: path.join(options.dataDir, 'uploads'),
          bundleLimit: options.bundleLimit,
        });
        await pushes.start();
        return pushes;
      },
      (pushes) => pushes.close(),
    );
    const repositories = new GitRepositories({ root: path.join(options.dataDir, 'git') });
    const namedLeftovers = profile.namedLeftovers;
    const teardown = new AppTeardown({
      apps,
      runner,
      byName: [
        {
          what: 'git repository',
          remove: (app) => rm(repositories.pathOf(app), { recursive: true, force: true }),
        },
        ...(namedLeftovers
          ? [{ what: namedLeftovers.what, remove: (app: App) => namedLeftovers.remove(app.name) }]
          : []),
      ],
      byId: [{ what: 'builds', remove: (app) => builds.removeApp(app.id) }],
      addons,
      logger,
    });
    const api = await resources.open(
      'api',
      () =>
        buildApi({
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
          intake,
          releases,
          processConfigs,
          addons,
          formation,
          rollouts,
          runtime,
          oneOffs: runner,
          diskUsage: { of: (app) => runner.diskUsage(app) },
          kubeManifests: kubeManifestOptions(options, builds),
          domains: {
            domains,
            maintenance,
            routing: {
              flush: () => routerSync.flush(),
              // The app's units as the router last got them: their requests in flight.
              drain: async (appId) => {
                const route = await routes.get(appId);
                const units = route?.target.kind === 'units' ? route.target.upstreams : [];
                return routerSync.waitDrained(
                  units.map((u) => `${u.host}:${u.port}`),
                  options.drainTimeoutMs,
                );
              },
            },
          },
          destroyer: teardown,
          cron: { cron: cron.cron, cronRunner: cron.worker },
          uploadDir: path.join(options.dataDir, 'uploads'),
          bundleLimit: options.bundleLimit,
          bodyLimit: options.bodyLimit,
          websocketLimits: options.websocketLimits,
          version: berthVersion(),
          git: { repositories, pushes: gitPushes, maxPushBytes: options.gitMaxPushBytes },
        }),
      // Pushes that follow a task are answered first, so closing the API does not wait on them.
      async (built) => {
        await gitPushes.close();
        await built.close();
      },
    );
    // Again, for what the store, the router and the SSH key made with the caller's umask.
    await secureDataDir(options.dataDir);
    await stream.start();
    routerSync.start();
    deployer.start();
    reconciler.start();
    cron.worker.start();
    // Add-on servers run on without a controller; this one adopts them, or starts the ones
    // `berth down` stopped. In the background: the API need not wait for a database.
    const addonStarts = addons.start();
    resources.defer('add-on starts', () => addonStarts);
    const scheduledBackups = new ScheduledBackups({
      addons,
      hub,
      logger,
      checkIntervalMs: options.backupCheckIntervalMs,
    });
    // After the servers are up: a pass before would only find them not answering.
    let backupsClosing = false;
    void addonStarts.then(
      () => {
        if (!backupsClosing) scheduledBackups.start();
      },
      () => undefined, // the add-on starts' own failure is reported where they are awaited
    );
    resources.defer('scheduled backups', async () => {
      backupsClosing = true;
      await addonStarts.catch(() => undefined);
      await scheduledBackups.stop();
    });
    await api.listen({ host: options.listen.host, port: options.listen.port });
    const sshUrl = options.sshListen
      ? await listenForGitOverSsh(options.sshListen, resources, {
          keys,
          identity,
          access,
          repositories,
          pushes: gitPushes,
          logger: logger.child({ component: 'ssh' }),
          hostKeyFile: path.join(options.dataDir, 'ssh_host_ed25519_key'),
          maxPushBytes: options.gitMaxPushBytes,
          authTimeoutMs: options.sshAuthTimeoutMs,
        })
      : undefined;
    const apiUrl = `http://${urlHost(api.server.address() as AddressInfo)}:${(api.server.address() as AddressInfo).port}`;
    logger.info(
      {
        url: apiUrl,
        routerUrl: dataPlane.routerUrl,
        sshUrl: sshUrl ?? 'off',
        runtime: profile.kind,
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
      routerUrl: dataPlane.routerUrl,
      sshUrl,
      // The router and the units keep serving: a controller started again adopts them.
      close: () => (closing ??= resources.close().then(() => logger.info('berth server stopped'))),
    };
  } catch (error) {
    await resources
      .close((what, closeError) => {
        logger.warn({ err: closeError }, `could not close the ${what} after a failed start`);
      })
      .catch(() => undefined);
    throw error;
  }
}

/** Serves git over SSH on `listen`, closed with the rest of the stack. */
async function listenForGitOverSsh(
  listen: ListenAddress,
  resources: ResourceStack,
  services: GitSshServices,
): Promise<string> {
  const ssh = await resources.open(
    'git over SSH',
    () => listenGitSsh(services, listen.host, listen.port),
    (listener) => listener.close(),
  );
  return `ssh://git@${urlHost(ssh.address)}:${ssh.address.port}`;
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
