import type { Readable } from 'node:stream';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import type { AccessPolicy } from '../domain/access/index.js';
import type { App } from '../domain/apps/index.js';
import type { IdentityService, Principal } from '../domain/identity/index.js';
import { ForbiddenError, NotFoundError, UnauthenticatedError } from '../errors/index.js';
import type { Logger } from '../logging/index.js';
import { runHttpBackend } from './http-backend.js';
import type { GitPushDeploys } from './push-deploys.js';
import type { GitRepositories } from './repositories.js';
import {
  authorizeGit,
  GIT_SERVICES,
  gitProcessEnv,
  isGitService,
  type GitService,
} from './services.js';

export interface GitRouteServices {
  readonly identity: IdentityService;
  readonly access: AccessPolicy;
  readonly repositories: GitRepositories;
  readonly pushes: GitPushDeploys;
  readonly logger: Logger;
  /** The largest request body passed to git, in bytes (ServerOptions.gitMaxPushBytes). */
  readonly maxPushBytes: number;
}

/** An answer git prints: status, plain text, and for 401 the challenge it answers. */
function refuse(reply: FastifyReply, status: number, message: string) {
  if (status === 401) reply.header('www-authenticate', 'Basic realm="berth"');
  return reply.code(status).type('text/plain; charset=utf-8').send(`${message}\n`);
}

/** The API token in a Basic authorization header (the password; the username is ignored). */
function basicPassword(header: string | undefined): string | undefined {
  const encoded = /^Basic\s+(\S+)$/i.exec(header ?? '')?.[1];
  if (!encoded) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1) || undefined;
}

/**
 * Smart HTTP under `/git/<app>.git`: `info/refs?service=…`, `git-upload-pack` (clone, fetch:
 * the 'read' scope) and `git-receive-pack` (push: 'write'), each for a caller who may reach
 * the app, served by `git http-backend`. Dumb-HTTP paths are not served.
 */
export function gitRoutes(services: GitRouteServices): FastifyPluginCallback {
  const maxBodyBytes = services.maxPushBytes;

  /** Authenticates and authorizes, or answers 401/403/404 itself and returns undefined. */
  const authorize = async (
    request: FastifyRequest,
    reply: FastifyReply,
    repo: string,
    service: GitService,
  ): Promise<{ principal: Principal; app: App } | undefined> => {
    const token = basicPassword(request.headers.authorization);
    if (!token) {
      await refuse(reply, 401, 'berth: an API token is needed as the password');
      return undefined;
    }
    try {
      const principal = await services.identity.authenticateToken(token);
      request.principal = principal;
      const app = await authorizeGit(services.access, principal, repo, service);
      return { principal, app };
    } catch (error) {
      const status =
        error instanceof UnauthenticatedError
          ? 401
          : error instanceof ForbiddenError
            ? 403
            : error instanceof NotFoundError
              ? 404
              : undefined;
      if (status === undefined || !(error instanceof Error)) throw error;
      await refuse(reply, status, `berth: ${error.message}`);
      return undefined;
    }
  };

  const serve = async (
    request: FastifyRequest,
    reply: FastifyReply,
    target: { principal: Principal; app: App },
    service: GitService,
    advertise: boolean,
  ) => {
    const receive = service === 'git-receive-pack' && !advertise;
    const processEnv = await gitProcessEnv(
      services,
      { app: target.app, username: target.principal.username },
      receive,
    );
    try {
      const base = `/${target.app.name}.git`;
      const header = (name: string) => {
        const value = request.headers[name];
        return typeof value === 'string' ? value : undefined;
      };
      const answer = await runHttpBackend(
        {
          method: advertise ? 'GET' : 'POST',
          pathInfo: advertise ? `${base}/info/refs` : `${base}/${service}`,
          queryString: advertise ? `service=${service}` : '',
          contentType: header('content-type'),
          contentEncoding: header('content-encoding'),
          gitProtocol: header('git-protocol'),
          remoteUser: target.principal.username,
          remoteAddr: request.ip,
          body: advertise ? undefined : (request.body as Readable | undefined),
          maxBodyBytes,
        },
        {
          projectRoot: services.repositories.root,
          baseEnv: processEnv.env,
          logger: services.logger,
        },
      );
      if (receive) answer.body.once('close', processEnv.end);
      return reply.code(answer.status).headers(answer.headers).send(answer.body);
    } catch (error) {
      processEnv.end();
      throw error;
    }
  };

  return (api, _options, done) => {
    // Pack data is streamed to git as it arrives; runHttpBackend bounds its size.
    api.addContentTypeParser(/^application\/x-git-[a-z-]+-request$/, (_request, payload, done) =>
      done(null, payload),
    );
    // Authenticated here, with HTTP basic auth (git's), not by the API's bearer access hook.
    const config = { access: { public: true } } as const;
    // Not part of the JSON API's OpenAPI document: git speaks its own protocol here.
    const schema = { hide: true } as const;

    api.get<{ Params: { repo: string }; Querystring: { service?: string } }>(
      '/git/:repo/info/refs',
      { config, schema },
      async (request, reply) => {
        const service = request.query.service;
        if (!isGitService(service))
          return refuse(reply, 404, 'berth: only smart HTTP is served (git 1.6.6 or newer)');
        const target = await authorize(request, reply, request.params.repo, service);
        if (target) return serve(request, reply, target, service, true);
        return reply;
      },
    );
    for (const service of Object.keys(GIT_SERVICES) as GitService[]) {
      api.post<{ Params: { repo: string } }>(
        `/git/:repo/${service}`,
        { config, schema },
        async (request, reply) => {
          const target = await authorize(request, reply, request.params.repo, service);
          if (target) return serve(request, reply, target, service, false);
          return reply;
        },
      );
    }

    const typed = api.withTypeProvider<TypeBoxTypeProvider>();
    const GitSettings = Type.Object({
      path: Type.String({ description: 'the repository, under the server address' }),
      deployBranch: Type.String({ description: 'pushes to this branch deploy' }),
    });
    const settingsOf = async (app: App) => ({
      path: `/git/${app.name}.git`,
      deployBranch: await services.repositories.deployBranch(app),
    });
    typed.get(
      '/api/v1/apps/:app/git',
      {
        config: { access: { scope: 'read', app: true } },
        schema: {
          tags: ['git'],
          summary: "The app's git repository path and deploy branch",
          params: Type.Object({ app: Type.String({ maxLength: 256 }) }),
          response: { 200: GitSettings },
        },
      },
      async (request) => settingsOf(appOf(request)),
    );
    typed.put(
      '/api/v1/apps/:app/git',
      {
        config: { access: { scope: 'write', app: true } },
        schema: {
          tags: ['git'],
          summary: 'Choose the branch whose pushes deploy (default main)',
          params: Type.Object({ app: Type.String({ maxLength: 256 }) }),
          body: Type.Object(
            { deployBranch: Type.String({ minLength: 1, maxLength: 100 }) },
            { additionalProperties: false },
          ),
          response: { 200: GitSettings },
        },
      },
      async (request) => {
        const app = appOf(request);
        await services.repositories.setDeployBranch(app, request.body.deployBranch);
        return settingsOf(app);
      },
    );
    done();
  };
}

/** The app the access hook authorized for a route declared with `app: true`. */
function appOf(request: FastifyRequest): App {
  if (!request.targetApp) throw new Error("no app: the route does not declare 'app: true'");
  return request.targetApp;
}
