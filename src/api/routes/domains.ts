import { Type, type FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { AccessPolicy } from '../../domain/access/index.js';
import type { AppsService } from '../../domain/apps/index.js';
import {
  MAX_HOST_LENGTH,
  type AppDomain,
  type DomainsService,
} from '../../domain/domains/index.js';
import {
  MAX_MAINTENANCE_MESSAGE,
  type Maintenance,
  type MaintenanceService,
} from '../../domain/maintenance/index.js';
import { appOf, principalOf } from '../access-hook.js';
import { AppParams } from '../schemas.js';

/**
 * What the routes wait for after a change: router sync pushes the table (so the answer means
 * the router serves it), and maintenance on waits until the app's requests in flight have
 * finished (or the drain timeout), so that whoever asked knows the app is quiet.
 */
export interface DomainRouting {
  /** Resolves once the router serves the store's table. */
  flush(): Promise<void>;
  /** Resolves once no request to the app's units is in flight: false when the timeout came first. */
  drain(appId: string): Promise<boolean>;
}

export interface DomainRouteServices {
  readonly apps: AppsService;
  readonly access: AccessPolicy;
  readonly domains: DomainsService;
  readonly maintenance: MaintenanceService;
  readonly routing: DomainRouting;
}

const DomainResponse = Type.Object({
  host: Type.String({ description: 'lower-case, punycode; *.example.com for a wildcard' }),
  wildcard: Type.Boolean(),
  createdAt: Type.String(),
});

const MaintenanceResponse = Type.Object({
  enabled: Type.Boolean(),
  message: Type.Union([Type.String(), Type.Null()]),
  startedAt: Type.Union([Type.String(), Type.Null()]),
  drained: Type.Optional(
    Type.Boolean({
      description: "whether the app's requests in flight finished before the answer",
    }),
  ),
});

const domainOut = (d: AppDomain) => ({
  host: d.host,
  wildcard: d.wildcard,
  createdAt: d.createdAt,
});

const maintenanceOut = (m: Maintenance | undefined) => ({
  enabled: m !== undefined,
  message: m?.message ?? null,
  startedAt: m?.startedAt ?? null,
});

/**
 * GET/POST /apps/{app}/domains, DELETE /apps/{app}/domains/{host}; GET/PUT/DELETE
 * /apps/{app}/maintenance.
 */
export function domainRoutes(services: DomainRouteServices): FastifyPluginCallbackTypebox {
  const { apps, access, domains, maintenance, routing } = services;
  return (api, _options, done) => {
    api.get(
      '/apps/:app/domains',
      {
        config: { access: { scope: 'read', app: true } },
        schema: {
          tags: ['domains'],
          summary: "The app's custom domains (it answers at <app>.<domain> too)",
          params: AppParams,
          response: { 200: Type.Array(DomainResponse) },
        },
      },
      async (request) => (await domains.ofApp(appOf(request).id)).map(domainOut),
    );

    api.post(
      '/apps/:app/domains',
      {
        config: { access: { scope: 'write', app: true } },
        schema: {
          tags: ['domains'],
          summary: 'Add a custom domain: a host, or *.example.com for one label under it',
          description:
            'The host is lower-cased, an IDN is turned into punycode, a trailing dot dropped. ' +
            'Refused (400 DOMAIN_INVALID): IP addresses, a label over 63 or a name over 253 ' +
            "characters, '*' anywhere but a whole first label, Berth's own <app>.<domain> " +
            'names. 409 DOMAIN_TAKEN when another app holds it. Adding a host the app holds is ' +
            'no change (200).',
          params: AppParams,
          body: Type.Object(
            { host: Type.String({ minLength: 1, maxLength: MAX_HOST_LENGTH * 4 + 8 }) },
            { additionalProperties: false },
          ),
          response: { 200: DomainResponse, 201: DomainResponse },
        },
      },
      async (request, reply) => {
        const app = appOf(request);
        const principal = principalOf(request);
        const before = await domains.ofApp(app.id);
        const added = await domains.add(app, request.body.host, async (holderId) => {
          const holder = await apps.findById(holderId);
          return holder !== undefined && access.mayAccess(principal, holder);
        });
        const isNew = !before.some((d) => d.host === added.host);
        // Answered once the router serves it, so a request right after reaches the app.
        await routing.flush();
        return reply.code(isNew ? 201 : 200).send(domainOut(added));
      },
    );

    api.delete(
      '/apps/:app/domains/:host',
      {
        config: { access: { scope: 'delete', app: true } },
        schema: {
          tags: ['domains'],
          summary: 'Remove a custom domain of the app (404 DOMAIN_NOT_FOUND if it has none such)',
          params: Type.Object({
            app: AppParams.properties.app,
            host: Type.String({ minLength: 1, maxLength: MAX_HOST_LENGTH * 4 + 8 }),
          }),
          response: { 204: Type.Null() },
        },
      },
      async (request, reply) => {
        await domains.remove(appOf(request), request.params.host);
        await routing.flush();
        return reply.code(204).send();
      },
    );

    api.get(
      '/apps/:app/maintenance',
      {
        config: { access: { scope: 'read', app: true } },
        schema: {
          tags: ['domains'],
          summary: 'Whether the app is in maintenance mode, and its message',
          params: AppParams,
          response: { 200: MaintenanceResponse },
        },
      },
      async (request) => maintenanceOut(await maintenance.get(appOf(request).id)),
    );

    api.put(
      '/apps/:app/maintenance',
      {
        config: { access: { scope: 'write', app: true } },
        schema: {
          tags: ['domains'],
          summary: 'Turn maintenance mode on (or change its message)',
          description:
            'From the answer on, every host of the app gets a 503 page with the message and ' +
            'Retry-After; requests in flight finish first. The answer comes once the router ' +
            "serves it and the app's requests in flight are done (drained: false when the " +
            'drain timeout passed first). Kept across router and controller restarts.',
          params: AppParams,
          body: Type.Object(
            {
              message: Type.Optional(
                Type.Union([Type.String({ maxLength: MAX_MAINTENANCE_MESSAGE }), Type.Null()]),
              ),
            },
            { additionalProperties: false },
          ),
          response: { 200: MaintenanceResponse },
        },
      },
      async (request) => {
        const app = appOf(request);
        const now = await maintenance.on(app, request.body.message ?? null);
        await routing.flush();
        const drained = await routing.drain(app.id);
        return { ...maintenanceOut(now), drained };
      },
    );

    api.delete(
      '/apps/:app/maintenance',
      {
        config: { access: { scope: 'delete', app: true } },
        schema: {
          tags: ['domains'],
          summary: "Turn maintenance mode off: the app's routes serve again",
          params: AppParams,
          response: { 200: MaintenanceResponse },
        },
      },
      async (request) => {
        const app = appOf(request);
        await maintenance.off(app);
        await routing.flush();
        return maintenanceOut(undefined);
      },
    );
    done();
  };
}
