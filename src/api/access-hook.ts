import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import type { AccessPolicy, AccessScope } from '../domain/access/index.js';
import type { Addon } from '../domain/addons/index.js';
import type { App } from '../domain/apps/index.js';
import type { IdentityService, Principal } from '../domain/identity/index.js';

/**
 * What a route needs, declared in its `config.access`: either public, or a scope plus (with
 * `app: true`) the app named by its `:app` parameter.
 */
export type RouteAccess =
  | { readonly public: true }
  | {
      readonly scope: AccessScope;
      readonly app?: boolean;
      /** The add-on named by `:addon`, which the caller must be able to use or manage. */
      readonly addon?: 'use' | 'manage';
    };

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyRequest {
    /** The authenticated caller, on every non-public route. */
    principal?: Principal;
    /** The app the route touches, when it declares `app: true`, already authorized. */
    targetApp?: App;
    /** The add-on the route touches, when it declares `addon`, already authorized. */
    targetAddon?: Addon;
  }
}

/** The caller of a non-public route; the access hook guarantees it. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal)
    throw new Error('no principal: the route is missing its access declaration');
  return request.principal;
}

/** The add-on of a route declared with `addon`. */
export function addonOf(request: FastifyRequest): Addon {
  if (!request.targetAddon) throw new Error("no add-on: the route does not declare 'addon'");
  return request.targetAddon;
}

/** The app of a route declared with `app: true`. */
export function appOf(request: FastifyRequest): App {
  if (!request.targetApp) throw new Error("no app: the route does not declare 'app: true'");
  return request.targetApp;
}

/**
 * Authentication and authorization for every route, in one place. Routes under /api/v1 must
 * declare their access (the server refuses to start otherwise), and it runs at onRequest,
 * before any body is read.
 */
export function installAccessHook(
  app: FastifyInstance,
  services: { readonly identity: IdentityService; readonly access: AccessPolicy },
): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    if (route.url.startsWith('/api/v1') && !route.config?.access) {
      throw new Error(`route ${String(route.method)} ${route.url} declares no access`);
    }
  });
  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config.access;
    if (!access || 'public' in access) return;
    const principal = await services.identity.authenticate(request.headers.authorization);
    request.principal = principal;
    const appName = access.app ? (request.params as { app?: string }).app : undefined;
    const target = await services.access.authorize(principal, {
      scope: access.scope,
      ...(appName === undefined ? {} : { app: appName }),
    });
    if (target) request.targetApp = target;
    if (access.addon) {
      const name = (request.params as { addon?: string }).addon ?? '';
      request.targetAddon = await services.access.authorizeAddon(principal, {
        scope: access.scope,
        addon: name,
        level: access.addon,
      });
    }
  });
}
