import { Type, type TSchema } from '@fastify/type-provider-typebox';

/** `{"error":{"code","message"}}`, the body of every error response. */
export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      reason: Type.Optional(
        Type.String({ description: 'a finer reason, e.g. why a bundle was refused' }),
      ),
    }),
  },
  { $id: 'ErrorResponse', description: 'An error with a stable code' },
);

export const AppName = Type.String({
  pattern: '^[a-z][a-z0-9-]{0,38}$',
  maxLength: 39,
  description: 'an app name',
});

export const AppParams = Type.Object({ app: Type.String({ maxLength: 256 }) });

export const ScopeName = Type.Union([
  Type.Literal('read'),
  Type.Literal('write'),
  Type.Literal('delete'),
  Type.Literal('admin'),
]);

export const AppResponse = Type.Object({
  id: Type.String(),
  name: Type.String(),
  ownerId: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  disk: Type.Optional(
    Type.Object(
      {
        images: Type.Integer({ description: 'release images (berth/<app>:v<N>) kept' }),
        bytes: Type.Integer({
          description: 'their sizes added up; shared layers (the base image) count in each',
        }),
      },
      { description: 'what the app holds on the runtime (GET /apps/{app}, container runtime)' },
    ),
  ),
  rollout: Type.Optional(
    Type.Object(
      {
        liveVersion: Type.Union([Type.Integer(), Type.Null()]),
        failedVersion: Type.Union([Type.Integer(), Type.Null()]),
        failure: Type.Union([Type.String(), Type.Null()]),
      },
      {
        description:
          'the release that serves, and the last one whose rollout failed with why (GET /apps/{app}, deployed apps)',
      },
    ),
  ),
});

export const TokenResponse = Type.Object({
  id: Type.String(),
  name: Type.String(),
  scopes: Type.Array(ScopeName),
  createdAt: Type.String(),
  lastUsedAt: Type.Union([Type.String(), Type.Null()]),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
});

export const UserResponse = Type.Object({
  id: Type.String(),
  username: Type.String(),
  isAdmin: Type.Boolean(),
  createdAt: Type.String(),
});

/** A config map; `null` values are hidden (the token may not read values) or, in a PATCH, unset. */
export const ConfigMap = Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()]));

/** Paging query of listings: strings, parsed and range-checked by `pageOf`. */
export const PageQuery = Type.Object(
  {
    start: Type.Optional(Type.String({ pattern: '^-?[0-9]{1,9}$' })),
    count: Type.Optional(Type.String({ pattern: '^-?[0-9]{1,9}$' })),
  },
  { additionalProperties: false },
);

/** A page of a listing (the shape of CONTRACT.md's deployments listing). */
export function PageOf<T extends TSchema>(entry: T) {
  return Type.Object({
    start: Type.Integer(),
    totalEntriesCount: Type.Integer(),
    entriesCount: Type.Integer(),
    entries: Type.Array(entry),
  });
}

/**
 * `?allowRuntimeKeys=true`: the owner means to set LD_PRELOAD, LD_LIBRARY_PATH or NODE_OPTIONS
 * (refusedKeyRule in src/domain/config). PORT and BERTH_* stay refused.
 */
export const AllowRuntimeKeysQuery = Type.Object(
  {
    allowRuntimeKeys: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
  },
  { additionalProperties: false },
);
