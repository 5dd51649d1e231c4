import { Type, type FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { CronRun, CronSchedule, CronService } from '../../domain/cron/index.js';
import { appOf } from '../access-hook.js';
import { AppParams } from '../schemas.js';

/** Runs a schedule now: the cron worker's, so the route only maps HTTP to it. */
export interface CronRunner {
  runNow(schedule: CronSchedule): Promise<CronRun>;
}

/** What the cron routes need. */
export interface CronRouteServices {
  readonly cron: CronService;
  readonly cronRunner: CronRunner;
}

const CronRunResponse = Type.Object({
  id: Type.String(),
  schedule: Type.String({ description: "the schedule's id" }),
  slot: Type.Union([Type.String(), Type.Null()], {
    description: 'the slot it ran for (ISO-8601 UTC); null for a run by hand',
  }),
  trigger: Type.Union([Type.Literal('schedule'), Type.Literal('catch-up'), Type.Literal('manual')]),
  status: Type.Union([
    Type.Literal('running'),
    Type.Literal('succeeded'),
    Type.Literal('failed'),
    Type.Literal('skipped'),
    Type.Literal('stopped'),
  ]),
  command: Type.String(),
  release: Type.Union([Type.Integer(), Type.Null()]),
  startedAt: Type.String(),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  exitCode: Type.Union([Type.Integer(), Type.Null()]),
  signal: Type.Union([Type.String(), Type.Null()]),
  output: Type.String({ description: 'the last 16 KiB of stdout and stderr' }),
  error: Type.Union([Type.String(), Type.Null()]),
});

const CronScheduleResponse = Type.Object({
  id: Type.String(),
  command: Type.String(),
  schedule: Type.String({ description: 'five cron fields or a macro, UTC' }),
  concurrencyPolicy: Type.Union([
    Type.Literal('allow'),
    Type.Literal('forbid'),
    Type.Literal('replace'),
  ]),
  maintenance: Type.Boolean(),
  suspended: Type.Boolean(),
  release: Type.Integer({ description: 'the release whose manifests declared it' }),
  nextRunAt: Type.Union([Type.String(), Type.Null()], {
    description: 'null while suspended or in maintenance',
  }),
  lastRun: Type.Union([CronRunResponse, Type.Null()]),
});

const ScheduleParams = Type.Object({
  app: Type.String({ maxLength: 256 }),
  id: Type.String({ maxLength: 64 }),
});

function runOut(run: CronRun) {
  return {
    id: run.id,
    schedule: run.scheduleId,
    slot: run.slot,
    trigger: run.trigger,
    status: run.status,
    command: run.command,
    release: run.release,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    exitCode: run.exitCode,
    signal: run.signal,
    output: run.output,
    error: run.error,
  };
}

/** GET /apps/{app}/cron…: schedules and runs; POST runs one now, suspends and resumes. */
export function cronRoutes(services: CronRouteServices): FastifyPluginCallbackTypebox {
  const { cron } = services;
  const scheduleOut = async (schedule: CronSchedule, lastRun: CronRun | undefined) => ({
    id: schedule.id,
    command: schedule.command,
    schedule: schedule.schedule,
    concurrencyPolicy: schedule.concurrencyPolicy,
    maintenance: schedule.maintenance,
    suspended: schedule.suspended,
    release: schedule.release,
    nextRunAt: (await cron.nextRun(schedule))?.toISOString() ?? null,
    lastRun: lastRun ? runOut(lastRun) : null,
  });
  return (api, _options, done) => {
    api.get(
      '/apps/:app/cron',
      {
        config: { access: { scope: 'read', app: true } },
        schema: {
          tags: ['cron'],
          summary: "The app's cron schedules (from its live release) with next and last runs",
          params: AppParams,
          response: { 200: Type.Array(CronScheduleResponse) },
        },
      },
      async (request) => {
        const app = appOf(request);
        const last = await cron.lastRuns(app.id);
        const schedules = await cron.schedules(app.id);
        return Promise.all(schedules.map((s) => scheduleOut(s, last.get(s.id))));
      },
    );

    api.get(
      '/apps/:app/cron/runs',
      {
        config: { access: { scope: 'read', app: true } },
        schema: {
          tags: ['cron'],
          summary: "The app's cron runs, newest first, optionally of one schedule",
          params: AppParams,
          querystring: Type.Object({
            schedule: Type.Optional(Type.String({ maxLength: 64 })),
            limit: Type.Optional(
              Type.String({ pattern: '^(100|[1-9][0-9]?)$', description: '1 to 100 (50)' }),
            ),
          }),
          response: { 200: Type.Array(CronRunResponse) },
        },
      },
      async (request) => {
        const app = appOf(request);
        const { schedule, limit } = request.query;
        if (schedule !== undefined) await cron.schedule(app.id, schedule);
        return (await cron.runs(app.id, schedule, limit === undefined ? 50 : Number(limit))).map(
          runOut,
        );
      },
    );

    api.post(
      '/apps/:app/cron/:id/runs',
      {
        config: { access: { scope: 'write', app: true } },
        schema: {
          tags: ['cron'],
          summary:
            'Runs a schedule now, as a one-off of the live release, under its concurrency policy',
          description:
            'Answers at once with the run as recorded: running, or skipped when the policy is ' +
            'forbid and a run is going on. Suspended and maintenance schedules run too.',
          params: ScheduleParams,
          response: { 202: CronRunResponse },
        },
      },
      async (request, reply) => {
        const schedule = await cron.schedule(appOf(request).id, request.params.id);
        const run = await services.cronRunner.runNow(schedule);
        return reply.code(202).send(runOut(run));
      },
    );

    for (const [action, suspended] of [
      ['suspend', true],
      ['resume', false],
    ] as const) {
      api.post(
        `/apps/:app/cron/:id/${action}`,
        {
          config: { access: { scope: 'write', app: true } },
          schema: {
            tags: ['cron'],
            summary: suspended
              ? 'Suspends a schedule: no run on its slots until resumed (kept across deploys)'
              : 'Resumes a schedule from its next slot (missed slots are not run)',
            params: ScheduleParams,
            response: { 200: CronScheduleResponse },
          },
        },
        async (request) => {
          const app = appOf(request);
          const schedule = await cron.setSuspended(app.id, request.params.id, suspended);
          return scheduleOut(schedule, (await cron.lastRuns(app.id)).get(schedule.id));
        },
      );
    }
    done();
  };
}
