import { Type, type FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { KeysService, SshKey } from '../../domain/keys/index.js';
import { principalOf } from '../access-hook.js';

const KeyResponse = Type.Object({
  id: Type.String(),
  name: Type.String(),
  type: Type.String({ description: 'ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, …' }),
  fingerprint: Type.String({ description: 'SHA256:…, as ssh-keygen -lf prints it' }),
  publicKey: Type.String({ description: '<type> <base64>, without the comment' }),
  createdAt: Type.String(),
});

const out = (key: SshKey) => ({
  id: key.id,
  name: key.name,
  type: key.type,
  fingerprint: key.fingerprint,
  publicKey: key.publicKey,
  createdAt: key.createdAt,
});

/** POST/GET /keys, DELETE /keys/{id}: the caller's SSH public keys, for git over SSH. */
export function keyRoutes(services: { keys: KeysService }): FastifyPluginCallbackTypebox {
  const { keys } = services;
  return (api, _options, done) => {
    api.post(
      '/keys',
      {
        config: { access: { scope: 'write' } },
        schema: {
          tags: ['keys'],
          summary: 'Add an SSH public key (an authorized_keys line) for git over SSH',
          body: Type.Object(
            {
              name: Type.Optional(Type.String({ maxLength: 100 })),
              publicKey: Type.String({ maxLength: 8192 }),
            },
            { additionalProperties: false },
          ),
          response: { 201: KeyResponse },
        },
      },
      async (request, reply) => {
        const { name, publicKey } = request.body;
        const key = await keys.add(principalOf(request), {
          publicKey,
          ...(name === undefined ? {} : { name }),
        });
        return reply.code(201).send(out(key));
      },
    );

    api.get(
      '/keys',
      {
        config: { access: { scope: 'read' } },
        schema: {
          tags: ['keys'],
          summary: "The caller's SSH public keys",
          response: { 200: Type.Array(KeyResponse) },
        },
      },
      async (request) => (await keys.list(principalOf(request))).map(out),
    );

    api.delete(
      '/keys/:id',
      {
        config: { access: { scope: 'delete' } },
        schema: {
          tags: ['keys'],
          summary: 'Remove an SSH key (your own; admins any)',
          params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
          response: { 204: Type.Null() },
        },
      },
      async (request, reply) => {
        await keys.remove(principalOf(request), request.params.id);
        return reply.code(204).send();
      },
    );
    done();
  };
}
