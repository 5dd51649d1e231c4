import { Type, type FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { FormationService } from '../../domain/formation/index.js';
import type { ProcessConfigService } from '../../domain/process-configs/index.js';
import type { ReleasesService } from '../../domain/releases/index.js';
import type { RolloutsService } from '../../domain/rollouts/index.js';
import type { Driver } from '../../runtime/index.js';
import type { OneOffRuns } from './one-off-runs.js';
import { appOf } from '../access-hook.js';
import { AppParams } from '../schemas.js';

/** What the runtime routes need. */
export interface RuntimeRouteServices {
  readonly formation: FormationService;
  readonly releases: ReleasesService;
  readonly rollouts: RolloutsService;
  readonly processConfigs: ProcessConfigService;
  readonly runtime: Driver;
  /** Runs one-offs of an app's live release. */
  readonly oneOffs: OneOffRuns;
}

const FormationEntryResponse = Type.Object({
  count: Type.Integer(),
  memory: Type.Union([Type.String(), Type.Null()]),
  cpu: Type.Union([Type.Number(), Type.Null()]),
});

const FormationSpec = Type.Union([
  Type.Integer({ minimum: 0, maximum: 100 }),
  Type.Object(
    {
      count: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
      memory: Type.Optional(
        Type.Union([Type.String({ maxLength: 32 }), Type.Integer({ minimum: 1 }), Type.Null()]),
      ),
      cpu: Type.Optional(Type.Union([Type.Number({ minimum: 0.01, maximum: 64 }), Type.Null()])),
    },
    { additionalProperties: false },
  ),
]);

const ProcessResponse = Type.Object({
  type: Type.String(),
  index: Type.Integer(),
  state: Type.String(),
  release: Type.Integer(),
  startedAt: Type.String(),
  restarts: Type.Integer(),
  unit: Type.String(),
  address: Type.String({ description: 'host:port of the unit on its machine' }),
  lastExit: Type.Optional(
    Type.Object({
      code: Type.Union([Type.Integer(), Type.Null()]),
      signal: Type.Union([Type.String(), Type.Null()]),
      at: Type.String(),
      reason: Type.Optional(Type.String()),
    }),
  ),
});

export const LogLineResponse = Type.Object({
  at: Type.String(),
  type: Type.String(),
  index: Type.Integer(),
  unit: Type.String(),
  release: Type.Integer(),
  stream: Type.String(),
  text: Type.String(),
});

/** Log lines as the API shows them: the process type and unit in each line. */
export function logLineOut(line: {
  at: string;
  processType: string;
  index: number;
  unitId: string;
  release: number;
  stream: string;
  text: string;
}): {
  at: string;
  type: string;
  index: number;
  unit: string;
  release: number;
  stream: string;
  text: string;
} {
  return {
    at: line.at,
    type: line.processType,
    index: line.index,
    unit: line.unitId,
    release: line.release,
    stream: line.stream,
    text: line.text,
  };
}

const formationOut = (
  formation: Record<string, { count: number; memory: string | null; cpu: number | null }>,
) =>
  Object.fromEntries(
    Object.entries(formation).map(([type, entry]) => [
      type,
      { count: entry.count, memory: entry.memory, cpu: entry.cpu },
    ]),
  );

/** The release an app runs: its live one, else an error saying it is not deployed. */
/** Formation, processes, logs and one-off runs of an app. */
export function runtimeRoutes(services: RuntimeRouteServices): FastifyPluginCallbackTypebox {
  return (api, _options, done) => {
    api.get(
      '/apps/:app/formation',
      {
        config: { access: { scope: 'read', app: true } },
        schema: {
          tags: ['runtime'],
          summary: 'Units per process type and their size',
          params: AppParams,
          response: { 200: Type.Record(Type.String(), FormationEntryResponse) },
        },
      },
      async (request) => formationOut(await services.formation.get(appOf(request).id)),
    );

    api.patch(
      '/apps/:app/formation',
      {
        config: { access: { scope: 'write', app: true } },
        schema: {
          tags: ['runtime'],
          summary: 'Scale or size process types: {"web":3} or {"web":{"count":3,"memory":"256M"}}',
          params: AppParams,
          body: Type.Record(Type.String({ maxLength: 30 }), FormationSpec, {
            maxProperties: 64,
          }),
          response: { 200: Type.Record(Type.String(), FormationEntryResponse) },
        },
      },
      async (request) =>
        formationOut(await services.formation.patch(appOf(request).id, request.body)),
    );

    api.get(
      '/apps/:app/processes',
      {
        config: { access: { scope: 'read', app: true } },
        schema: {
          tags: ['runtime'],
          summary: "The app's units as the runtime sees them now",
          params: AppParams,
          response: { 200: Type.Array(ProcessResponse) },
        },
      },
      async (request) => {
        const units = await services.runtime.list({ app: appOf(request).name });
        return units.map((unit) => ({
          type: unit.processType,
          index: unit.index,
          state: unit.state,
          release: unit.release,
          startedAt: unit.startedAt,
          restarts: unit.restarts,
          unit: unit.id,
          address: `${unit.address.host}:${unit.address.port}`,
          ...(unit.lastExit ? { lastExit: unit.lastExit } : {}),
        }));
      },
    );

    api.get(
      '/apps/:app/logs',
      {
        config: { access: { scope: 'read', app: true } },
        schema: {
          tags: ['runtime'],
          summary: 'Recent log lines of the app (follow them with the WebSocket `logs` method)',
          params: AppParams,
          querystring: Type.Object(
            {
              tail: Type.Optional(Type.String({ pattern: '^[0-9]{1,5}$' })),
              process: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9-]{0,29}$' })),
            },
            { additionalProperties: false },
          ),
          response: { 200: Type.Array(LogLineResponse) },
        },
      },
      async (request) => {
        const tail = Math.min(10_000, Number(request.query.tail ?? '100'));
        const lines = await services.runtime.readLogs({
          app: appOf(request).name,
          tail,
          ...(request.query.process ? { processType: request.query.process } : {}),
        });
        return lines.map(logLineOut);
      },
    );

    api.post(
      '/apps/:app/run',
      {
        config: { access: { scope: 'write', app: true } },
        schema: {
          tags: ['runtime'],
          summary:
            'Runs a one-off process of the live release and returns its output and exit code',
          params: AppParams,
          body: Type.Object(
            {
              command: Type.Union([
                Type.String({ minLength: 1, maxLength: 4096 }),
                Type.Array(Type.String({ maxLength: 4096 }), { minItems: 1, maxItems: 256 }),
              ]),
              timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600 })),
            },
            { additionalProperties: false },
          ),
          response: {
            200: Type.Object({
              release: Type.Integer(),
              exitCode: Type.Union([Type.Integer(), Type.Null()]),
              signal: Type.Union([Type.String(), Type.Null()]),
              timedOut: Type.Boolean(),
              output: Type.String(),
              truncated: Type.Boolean(),
            }),
          },
        },
      },
      async (request, reply) => {
        const { command, timeoutSeconds } = request.body;
        const abort = new AbortController();
        // A client that hangs up before the answer takes its one-off process with it.
        reply.raw.once('close', () => {
          if (!reply.raw.writableFinished) abort.abort();
        });
        return services.oneOffs.runOneOff(
          appOf(request),
          { command, timeoutMs: (timeoutSeconds ?? 600) * 1000 },
          abort.signal,
        );
      },
    );
    done();
  };
}
