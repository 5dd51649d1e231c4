import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Type, type FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { AccessPolicy } from '../../domain/access/index.js';
import type { App } from '../../domain/apps/index.js';
import {
  isActive,
  type Deployment,
  type DeploymentIntake,
  type DeploymentsService,
} from '../../domain/deployments/index.js';
import type { ProcessConfigService } from '../../domain/process-configs/index.js';
import {
  ConflictError,
  ErrorCodes,
  InputError,
  NotFoundError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
} from '../../errors/index.js';
import { appOf, principalOf } from '../access-hook.js';
import { pageOf } from '../paging.js';
import { AllowRuntimeKeysQuery, AppParams, PageOf, PageQuery } from '../schemas.js';

/** Content types a bundle may be sent as. */
export const BUNDLE_CONTENT_TYPES = [
  'application/zip',
  'application/gzip',
  'application/x-gzip',
  'application/octet-stream',
];

export interface DeploymentRouteServices {
  readonly access: AccessPolicy;
  readonly deployments: DeploymentsService;
  /** How an uploaded bundle becomes a queued deploy (the same way as a git push). */
  readonly intake: DeploymentIntake;
  readonly processConfigs: ProcessConfigService;
  /** Where uploads wait while they are checked; emptied after each request. */
  readonly uploadDir: string;
  /** The largest bundle accepted, in bytes. */
  readonly bundleLimit: number;
}

/** What berth.json and app.json say of the project (docs/manifest.md); null before validate. */
export const ProjectMetadataRecord = Type.Object(
  {
    name: Type.Optional(Type.String()),
    description: Type.Optional(Type.String()),
    author: Type.Optional(Type.String()),
    version: Type.Optional(Type.String()),
    keywords: Type.Optional(Type.Array(Type.String())),
    repository: Type.Optional(Type.String()),
  },
  { description: 'berth.json and app.json metadata; berth.json wins where both name a field' },
);

export const DeploymentRecord = Type.Object({
  id: Type.String(),
  app: Type.String(),
  kind: Type.String(),
  createdAt: Type.String(),
  taskActive: Type.Boolean(),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  status: Type.String(),
  release: Type.Union([Type.Integer(), Type.Null()]),
  source: Type.Object({
    kind: Type.String(),
    ref: Type.Union([Type.String(), Type.Null()]),
    sha: Type.Union([Type.String(), Type.Null()]),
  }),
  details: Type.Object({
    projectMetadata: Type.Union([ProjectMetadataRecord, Type.Null()]),
    error: Type.Union([Type.String(), Type.Null()]),
    processErrors: Type.Union([
      Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()])),
      Type.Null(),
    ]),
    stack: Type.Union([Type.String(), Type.Null()]),
    steps: Type.Array(
      Type.Object({
        name: Type.String(),
        status: Type.String(),
        startedAt: Type.Union([Type.String(), Type.Null()]),
        finishedAt: Type.Union([Type.String(), Type.Null()]),
      }),
    ),
  }),
  log: Type.Optional(Type.String()),
});

/** One progress event: its cursor, time, step and kind, then the kind's own fields. */
export const DeploymentEventRecord = Type.Object(
  {
    id: Type.Integer(),
    at: Type.String(),
    kind: Type.Union([
      Type.Literal('step-started'),
      Type.Literal('line'),
      Type.Literal('step-finished'),
      Type.Literal('finished'),
      Type.Literal('trimmed'),
    ]),
    step: Type.Union([Type.String(), Type.Null()]),
    text: Type.Optional(Type.String()),
    status: Type.Optional(Type.String()),
    error: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    release: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
    lines: Type.Optional(Type.Integer()),
    bytes: Type.Optional(Type.Integer()),
  },
  { additionalProperties: true },
);

export const DeploymentEventsPage = Type.Object({
  events: Type.Array(DeploymentEventRecord),
  next: Type.Integer(),
});

/** The deployment record of CONTRACT.md; `log` is the task's log tail, when asked for. */
export function recordOf(deployment: Deployment, appName: string, log?: string) {
  return {
    id: deployment.id,
    app: appName,
    kind: deployment.kind,
    createdAt: deployment.createdAt,
    taskActive: isActive(deployment.status),
    finishedAt: deployment.finishedAt,
    status: deployment.status,
    release: deployment.releaseVersion,
    source: deployment.source,
    details: {
      projectMetadata: deployment.projectMetadata ? { ...deployment.projectMetadata } : null,
      error: deployment.error,
      processErrors: deployment.processErrors ? { ...deployment.processErrors } : null,
      stack: deployment.stack,
      steps: [...deployment.steps],
    },
    ...(log === undefined ? {} : { log }),
  };
}

/** Streams the request body to a file, stopping at the limit; resolves with its size. */
async function receiveBundle(body: Readable, file: string, limit: number): Promise<number> {
  let received = 0;
  const out = createWriteStream(file, { mode: 0o600 });
  await pipeline(
    body,
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        received += chunk.length;
        if (received > limit)
          throw new PayloadTooLargeError(`the bundle is larger than ${limit} bytes`);
        yield chunk;
      }
    },
    out,
  );
  return received;
}

/**
 * Checks the archive and the project structure now, so a bad bundle is a 400 saying what was
 * wrong (BundleError is an InputError with code BUNDLE_INVALID and a reason), and nothing is
 * queued; with autoconfigure, so is a sample no config may hold. The deployer extracts again:
 * it may run on another controller.
 */
/**
 * A bundle's Content-Type must be one of BUNDLE_CONTENT_TYPES (parameters aside); otherwise
 * the error to answer with (415).
 */
function checkBundleContentType(header: string | undefined): UnsupportedMediaTypeError | undefined {
  const type = (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (BUNDLE_CONTENT_TYPES.includes(type)) return undefined;
  return new UnsupportedMediaTypeError(
    `a bundle is sent with Content-Type ${BUNDLE_CONTENT_TYPES.join(', ')}; ` +
      (type ? `got '${type.slice(0, 100)}'` : 'the request has none'),
  );
}

/** POST/GET/DELETE /deployments/{app}, the listing, per-process configs, app task history. */
export function deploymentRoutes(services: DeploymentRouteServices): FastifyPluginCallbackTypebox {
  const { deployments } = services;
  const latestOrThrow = async (app: App) => {
    const latest = await deployments.latest(app.id);
    if (!latest)
      throw new NotFoundError(`app '${app.name}' has never been deployed`, ErrorCodes.NOT_DEPLOYED);
    return latest;
  };
  return (api, _options, done) => {
    // Bundles arrive as raw streams; this route streams them to disk with its own limit.
    api.addContentTypeParser(BUNDLE_CONTENT_TYPES, (_request, payload, parsed) =>
      parsed(null, payload),
    );

    api.post(
      '/deployments/:app',
      {
        config: { access: { scope: 'write', app: true } },
        // After the access hook (401/403/404 first), before the body is read.
        onRequest: (request, _reply, done) => {
          done(checkBundleContentType(request.headers['content-type']));
        },
        schema: {
          tags: ['deployments'],
          summary: 'Deploy a bundle (zip or tar.gz): 202 queued, then poll GET /deployments/{app}',
          params: AppParams,
          querystring: Type.Object(
            {
              autoconfigure: Type.Optional(
                Type.Union([Type.Literal('true'), Type.Literal('false')]),
              ),
            },
            { additionalProperties: false },
          ),
          response: {
            202: Type.Object({
              id: Type.String(),
              app: Type.String(),
              status: Type.String(),
              location: Type.String(),
            }),
          },
        },
      },
      async (request, reply) => {
        const app = appOf(request);
        const declared = Number(request.headers['content-length'] ?? NaN);
        if (declared > services.bundleLimit) {
          throw new PayloadTooLargeError(`the bundle is larger than ${services.bundleLimit} bytes`);
        }
        // Refused before the body is read: a bundle is not taken in for nothing.
        await services.intake.assertIdle(app);
        const body = request.body as Readable | undefined;
        if (!body || typeof body.pipe !== 'function') {
          throw new InputError(
            `missing bundle: send a zip or tar.gz as the body with Content-Type ${BUNDLE_CONTENT_TYPES.slice(0, 2).join(' or ')}`,
            ErrorCodes.BUNDLE_INVALID,
          );
        }
        const workDir = path.join(services.uploadDir, randomUUID());
        await mkdir(workDir, { recursive: true, mode: 0o700 });
        try {
          const file = path.join(workDir, 'bundle');
          const bytes = await receiveBundle(body, file, services.bundleLimit);
          if (bytes === 0)
            throw new InputError(
              'missing bundle: the request body is empty',
              ErrorCodes.BUNDLE_INVALID,
            );
          const deployment = await services.intake.submit({
            app,
            bundle: { file, bytes },
            workDir,
            source: { kind: 'bundle', ref: null, sha: null },
            options: { autoconfigure: request.query.autoconfigure === 'true' },
          });
          const location = `/api/v1/deployments/${app.name}`;
          return reply
            .code(202)
            .header('location', location)
            .send({ id: deployment.id, app: app.name, status: deployment.status, location });
        } finally {
          await rm(workDir, { recursive: true, force: true });
          // A client that sent more than the limit is not read to the end.
          if (!body.readableEnded) reply.header('connection', 'close');
        }
      },
    );

    api.get(
      '/deployments/:app',
      {
        config: { access: { scope: 'read', app: true } },
        schema: {
          tags: ['deployments'],
          summary: "The app's latest task: 200 finished (record), 204 still queued or running",
          params: AppParams,
          response: { 200: DeploymentRecord, 204: Type.Null() },
        },
      },
      async (request, reply) => {
        const app = appOf(request);
        const latest = await latestOrThrow(app);
        if (isActive(latest.status)) return reply.code(204).send();
        return reply.send(recordOf(latest, app.name));
      },
    );

    api.get(
      '/deployments',
      {
        config: { access: { scope: 'read' } },
        schema: {
          tags: ['deployments'],
          summary: "Every app's latest task, newest first, paged",
          querystring: PageQuery,
          response: {
            200: PageOf(DeploymentRecord),
          },
        },
      },
      async (request) => {
        const page = await deployments.page({
          ownerId: services.access.visibleOwner(principalOf(request)),
          ...pageOf(request.query),
        });
        return {
          ...page,
          entries: page.entries.map(({ deployment, appName }) => recordOf(deployment, appName)),
        };
      },
    );

    api.delete(
      '/deployments/:app',
      {
        config: { access: { scope: 'delete', app: true } },
        schema: {
          tags: ['deployments'],
          summary: 'Undeploy: stop the units and remove the routes; the app and its add-ons stay',
          params: AppParams,
          response: { 204: Type.Null() },
        },
      },
      async (request, reply) => {
        const app = appOf(request);
        await latestOrThrow(app);
        await deployments.assertIdle(app);
        await deployments.enqueue({
          appId: app.id,
          appName: app.name,
          kind: 'undeploy',
          source: { kind: 'undeploy', ref: null, sha: null },
          options: { autoconfigure: false },
        });
        return reply.code(204).send();
      },
    );

    const ProcessConfigs = Type.Record(
      Type.String({ maxLength: 30 }),
      Type.Record(Type.String({ maxLength: 256 }), Type.String()),
    );
    api.get(
      '/deployments/configs/:app',
      {
        config: { access: { scope: 'read', app: true } },
        schema: {
          tags: ['deployments'],
          summary: "Per-process-type config; 204 while a task runs. Values need the 'write' scope",
          params: AppParams,
          response: {
            200: Type.Record(
              Type.String(),
              Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()])),
            ),
            204: Type.Null(),
          },
        },
      },
      async (request, reply) => {
        const app = appOf(request);
        const latest = await deployments.latest(app.id);
        if (latest && isActive(latest.status)) return reply.code(204).send();
        const configs = await services.processConfigs.get(app.id);
        if (principalOf(request).scopes.has('write')) return reply.send(configs);
        const hidden = Object.fromEntries(
          Object.entries(configs).map(([type, vars]) => [
            type,
            Object.fromEntries(Object.keys(vars).map((k) => [k, null])),
          ]),
        );
        return reply.send(hidden);
      },
    );

    api.put(
      '/deployments/configs/:app',
      {
        config: { access: { scope: 'write', app: true } },
        schema: {
          tags: ['deployments'],
          summary:
            'Replace per-process-type config; 200 {processType: changed}; 204 while a task runs',
          params: AppParams,
          querystring: AllowRuntimeKeysQuery,
          body: ProcessConfigs,
          response: { 200: Type.Record(Type.String(), Type.Boolean()), 204: Type.Null() },
        },
      },
      async (request, reply) => {
        const app = appOf(request);
        const latest = await deployments.latest(app.id);
        if (latest && isActive(latest.status)) return reply.code(204).send();
        return reply.send(
          await services.processConfigs.put(app.id, request.body, {
            allowRuntimeKeys: request.query.allowRuntimeKeys === 'true',
          }),
        );
      },
    );

    api.get(
      '/apps/:app/deployments',
      {
        config: { access: { scope: 'read', app: true } },
        schema: {
          tags: ['deployments'],
          summary: 'Every task of the app, newest first',
          params: AppParams,
          response: { 200: Type.Array(DeploymentRecord) },
        },
      },
      async (request) => {
        const app = appOf(request);
        return (await deployments.listForApp(app.id)).map((d) => recordOf(d, app.name));
      },
    );

    api.get(
      '/apps/:app/deployments/:id',
      {
        config: { access: { scope: 'read', app: true } },
        schema: {
          tags: ['deployments'],
          summary: 'One task of the app, with its step log',
          params: Type.Object({
            app: Type.String({ maxLength: 256 }),
            id: Type.String({ maxLength: 64 }),
          }),
          response: { 200: DeploymentRecord },
        },
      },
      async (request) => {
        const app = appOf(request);
        const deployment = await deployments.get(app.id, request.params.id);
        return recordOf(deployment, app.name, await deployments.logOf(deployment.id));
      },
    );

    api.get(
      '/apps/:app/deployments/:id/events',
      {
        config: { access: { scope: 'read', app: true } },
        schema: {
          tags: ['deployments'],
          summary:
            "A task's progress events after the cursor ?after=N, oldest first; read again after `next`",
          params: Type.Object({
            app: Type.String({ maxLength: 256 }),
            id: Type.String({ maxLength: 64 }),
          }),
          querystring: Type.Object(
            {
              after: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
              limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })),
            },
            { additionalProperties: false },
          ),
          response: { 200: DeploymentEventsPage },
        },
      },
      async (request) => {
        const app = appOf(request);
        const page = await deployments.events(app.id, request.params.id, {
          ...(request.query.after === undefined ? {} : { after: Number(request.query.after) }),
          ...(request.query.limit === undefined ? {} : { limit: Number(request.query.limit) }),
        });
        return { events: [...page.events], next: page.next };
      },
    );

    api.post(
      '/apps/:app/deployments/:id/cancel',
      {
        config: { access: { scope: 'write', app: true } },
        schema: {
          tags: ['deployments'],
          summary: 'Cancel a task: a queued one at once, a running one at its next step',
          params: Type.Object({
            app: Type.String({ maxLength: 256 }),
            id: Type.String({ maxLength: 64 }),
          }),
          response: { 202: Type.Object({ status: Type.String() }) },
        },
      },
      async (request, reply) => {
        const app = appOf(request);
        const result = await deployments.cancel(app.id, request.params.id);
        if (result === 'finished') {
          throw new ConflictError('the task has already finished', ErrorCodes.DEPLOYMENT_FINISHED);
        }
        return reply.code(202).send({ status: result });
      },
    );

    done();
  };
}
