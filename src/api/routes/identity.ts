import { Type, type FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { IdentityService } from '../../domain/identity/index.js';
import { principalOf } from '../access-hook.js';
import { ScopeName, TokenResponse, UserResponse } from '../schemas.js';

const Credentials = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);

/** POST /auth/login, POST/GET /users, POST/GET /tokens, DELETE /tokens/{id}. */
export function identityRoutes(services: {
  identity: IdentityService;
}): FastifyPluginCallbackTypebox {
  const { identity } = services;
  return (api, _options, done) => {
    api.post(
      '/auth/login',
      {
        config: { access: { public: true } },
        schema: {
          tags: ['auth'],
          summary: 'Exchange a username and password for an API token (30 days)',
          body: Credentials,
          response: {
            200: Type.Object({
              token: Type.String(),
              tokenId: Type.String(),
              expiresAt: Type.String(),
            }),
          },
        },
      },
      async (request) => {
        const { token, tokenId, expiresAt } = await identity.login({
          ...request.body,
          remoteAddress: request.ip,
        });
        return { token, tokenId, expiresAt };
      },
    );

    api.post(
      '/users',
      {
        config: { access: { scope: 'admin' } },
        schema: {
          tags: ['users'],
          summary: 'Create a user (admin)',
          body: Type.Object(
            {
              username: Type.String({ maxLength: 64 }),
              password: Type.String({ maxLength: 1024 }),
              isAdmin: Type.Optional(Type.Boolean()),
            },
            { additionalProperties: false },
          ),
          response: { 201: UserResponse },
        },
      },
      async (request, reply) => {
        const user = await identity.createUser(request.body);
        return reply.code(201).send(user);
      },
    );

    api.get(
      '/users',
      {
        config: { access: { scope: 'admin' } },
        schema: {
          tags: ['users'],
          summary: 'Every user (admin)',
          response: { 200: Type.Array(UserResponse) },
        },
      },
      async () => identity.listUsers(),
    );

    api.post(
      '/tokens',
      {
        config: { access: { scope: 'write' } },
        schema: {
          tags: ['tokens'],
          summary: 'Create an API token for the caller; the token is shown once',
          body: Type.Object(
            {
              name: Type.String({ maxLength: 256 }),
              scopes: Type.Array(ScopeName, { minItems: 1, maxItems: 4 }),
              expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
            },
            { additionalProperties: false },
          ),
          response: {
            201: Type.Object({
              id: Type.String(),
              token: Type.String(),
              name: Type.String(),
              scopes: Type.Array(ScopeName),
              createdAt: Type.String(),
              expiresAt: Type.Union([Type.String(), Type.Null()]),
            }),
          },
        },
      },
      async (request, reply) => {
        const { name, scopes, expiresAt } = request.body;
        const created = await identity.createToken(principalOf(request), {
          name,
          scopes,
          ...(expiresAt === undefined ? {} : { expiresAt: new Date(expiresAt) }),
        });
        return reply.code(201).send({ ...created, expiresAt: created.expiresAt ?? null });
      },
    );

    api.get(
      '/tokens',
      {
        config: { access: { scope: 'read' } },
        schema: {
          tags: ['tokens'],
          summary: "The caller's tokens (never their values)",
          response: { 200: Type.Array(TokenResponse) },
        },
      },
      async (request) => identity.listTokens(principalOf(request)),
    );

    api.delete(
      '/tokens/:id',
      {
        config: { access: { scope: 'delete' } },
        schema: {
          tags: ['tokens'],
          summary: 'Revoke a token (your own; admins any)',
          params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
          response: { 204: Type.Null() },
        },
      },
      async (request, reply) => {
        await identity.revokeToken(principalOf(request), request.params.id);
        return reply.code(204).send();
      },
    );
    done();
  };
}
