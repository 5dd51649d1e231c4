import { Type, type FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { AccessPolicy } from '../../domain/access/index.js';
import {
  attachmentVariable,
  type Addon,
  type AddonBackup,
  type AddonInfo,
  type AddonsService,
} from '../../domain/addons/index.js';
import type { AppsService } from '../../domain/apps/index.js';
import { addonOf, appOf, principalOf } from '../access-hook.js';
import { createReadStream } from 'node:fs';
import net from 'node:net';
import { createWebSocketStream } from 'ws';

/** The close code of a tunnel whose add-on server does not answer (the 4000s are Berth's). */
const TUNNEL_UNREACHABLE = 4502;

const AddonParams = Type.Object({ addon: Type.String({ maxLength: 256 }) });
const AttachmentParams = Type.Object({
  addon: Type.String({ maxLength: 256 }),
  app: Type.String({ maxLength: 256 }),
});

const Attachment = Type.Object({
  app: Type.String(),
  alias: Type.String(),
  variable: Type.String({ description: 'the variable the app gets: <alias>_URL' }),
  createdAt: Type.String({ format: 'date-time' }),
});

const AddonResponse = Type.Object({
  name: Type.String(),
  kind: Type.String({ description: "'postgres' or 'redis'" }),
  version: Type.String({ description: "the server's major version; empty while creating" }),
  status: Type.String({
    description: 'creating, starting, running, restarting, crashed, stopped or absent',
  }),
  restarts: Type.Integer(),
  sizeBytes: Type.Optional(Type.Integer({ description: 'bytes its data takes' })),
  createdAt: Type.String({ format: 'date-time' }),
  backupSchedule: Type.Union([
    Type.Object({
      expression: Type.String(),
      retain: Type.Integer(),
      since: Type.String({ format: 'date-time' }),
      next: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    }),
    Type.Null(),
  ]),
  attachments: Type.Array(Attachment),
  url: Type.Optional(
    Type.String({ description: 'with its password: only with ?reveal=true and the write scope' }),
  ),
});

const CreateBody = Type.Object(
  {
    kind: Type.String({ maxLength: 64, description: "'postgres' or 'redis'" }),
    name: Type.Optional(Type.String({ maxLength: 256 })),
    app: Type.Optional(Type.String({ maxLength: 256, description: 'attach it to this app' })),
    as: Type.Optional(Type.String({ maxLength: 256, description: 'the alias: <as>_URL' })),
  },
  { additionalProperties: false },
);

const AttachBody = Type.Object(
  {
    app: Type.String({ maxLength: 256 }),
    as: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);

const Backup = Type.Object({
  name: Type.String(),
  kind: Type.String(),
  status: Type.String({ description: 'running, succeeded or failed' }),
  sizeBytes: Type.Union([Type.Integer(), Type.Null()]),
  sha256: Type.Union([Type.String(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
const BackupParams = Type.Object({
  addon: Type.String({ maxLength: 256 }),
  backup: Type.String({ maxLength: 256 }),
});
const RestoreBody = Type.Object(
  {
    backup: Type.String({ maxLength: 256 }),
    into: Type.Optional(
      Type.String({ maxLength: 256, description: 'another add-on of the kind, made when absent' }),
    ),
    confirm: Type.Optional(
      Type.String({ maxLength: 256, description: 'the name of an existing target, repeated' }),
    ),
  },
  { additionalProperties: false },
);

function backupJson(backup: AddonBackup) {
  return {
    name: backup.name,
    kind: backup.kind,
    status: backup.status,
    sizeBytes: backup.sizeBytes,
    sha256: backup.sha256,
    error: backup.error,
    createdAt: backup.createdAt,
    finishedAt: backup.finishedAt,
  };
}

const ReleaseNote = Type.Optional(
  Type.Integer({ description: 'the release the change rolled, when the app has releases' }),
);

/** /addons…: create, list, show, attach, detach and destroy add-ons. */
export function addonRoutes(services: {
  addons: AddonsService;
  apps: AppsService;
  access: AccessPolicy;
}): FastifyPluginCallbackTypebox {
  const { addons, apps, access } = services;

  const json = async (info: AddonInfo, url?: string) => ({
    name: info.addon.name,
    kind: info.addon.kind,
    version: info.addon.version,
    status: info.status.state,
    restarts: info.status.restarts,
    ...('sizeBytes' in info.status && info.status.sizeBytes !== undefined
      ? { sizeBytes: info.status.sizeBytes }
      : {}),
    createdAt: info.addon.createdAt,
    backupSchedule: info.addon.backupSchedule && {
      ...info.addon.backupSchedule,
      next: (await addons.nextScheduledBackup(info.addon))?.toISOString() ?? null,
    },
    attachments: await Promise.all(
      info.attachments.map(async (a) => ({
        app: (await apps.findById(a.appId))?.name ?? a.appId,
        alias: a.alias,
        variable: attachmentVariable(a.alias),
        createdAt: a.createdAt,
      })),
    ),
    ...(url === undefined ? {} : { url }),
  });
  const show = async (addon: Addon) => json(await addons.info(addon));

  return (api, _options, done) => {
    api.get(
      '/addons',
      {
        config: { access: { scope: 'read' } },
        schema: {
          tags: ['add-ons'],
          summary: 'The add-ons you may use (an admin sees all)',
          response: { 200: Type.Array(AddonResponse) },
        },
      },
      async (request) => {
        const listed = await addons.list(principalOf(request));
        return Promise.all(listed.map(show));
      },
    );

    api.post(
      '/addons',
      {
        config: { access: { scope: 'write' } },
        schema: {
          tags: ['add-ons'],
          summary: 'Create an add-on (and attach it to an app); it is created once and kept',
          body: CreateBody,
          response: { 201: Type.Object({ addon: AddonResponse, release: ReleaseNote }) },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const { kind, name, as } = request.body;
        const app =
          request.body.app === undefined
            ? undefined
            : await access.authorize(principal, { scope: 'write', app: request.body.app });
        const created = await addons.create(principal.userId, { kind, name, app, alias: as });
        reply.code(201);
        return {
          addon: await show(created.addon),
          ...(created.release === undefined ? {} : { release: created.release }),
        };
      },
    );

    api.get(
      '/addons/:addon',
      {
        config: { access: { scope: 'read', addon: 'use' } },
        schema: {
          tags: ['add-ons'],
          summary: 'An add-on: status, size, attachments; its URL with ?reveal=true',
          params: AddonParams,
          querystring: Type.Object(
            { reveal: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])) },
            { additionalProperties: false },
          ),
          response: { 200: AddonResponse },
        },
      },
      async (request) => {
        const addon = addonOf(request);
        if (request.query.reveal !== 'true') return show(addon);
        // The password is shown to whoever may change the add-on, with a token that writes.
        await access.authorizeAddon(principalOf(request), {
          scope: 'write',
          addon: addon.name,
          level: 'manage',
        });
        return json(await addons.info(addon), await addons.urlOf(addon));
      },
    );

    api.post(
      '/addons/:addon/attachments',
      {
        config: { access: { scope: 'write', addon: 'manage' } },
        schema: {
          tags: ['add-ons'],
          summary: 'Attach the add-on to an app: its releases get <alias>_URL (a release rolls)',
          params: AddonParams,
          body: AttachBody,
          response: { 201: Type.Object({ attachment: Attachment, release: ReleaseNote }) },
        },
      },
      async (request, reply) => {
        const addon = addonOf(request);
        const app = await access.authorize(principalOf(request), {
          scope: 'write',
          app: request.body.app,
        });
        if (!app) throw new Error('authorize returned no app');
        const { attachment, release } = await addons.attach(addon, app, request.body.as);
        reply.code(201);
        return {
          attachment: {
            app: app.name,
            alias: attachment.alias,
            variable: attachmentVariable(attachment.alias),
            createdAt: attachment.createdAt,
          },
          ...(release === undefined ? {} : { release }),
        };
      },
    );

    api.delete(
      '/addons/:addon/attachments/:app',
      {
        config: { access: { scope: 'delete', app: true, addon: 'manage' } },
        schema: {
          tags: ['add-ons'],
          summary: "Detach the add-on from an app: its variable leaves the app's next release",
          params: AttachmentParams,
          response: { 200: Type.Object({ release: ReleaseNote }) },
        },
      },
      async (request) => addons.detach(addonOf(request), appOf(request)),
    );

    api.post(
      '/addons/:addon/backups',
      {
        config: { access: { scope: 'write', addon: 'manage' } },
        schema: {
          tags: ['add-ons'],
          summary: 'Back the add-on up now; a backup that is not readable fails, loudly',
          params: AddonParams,
          response: { 201: Backup },
        },
      },
      async (request, reply) => {
        const backup = await addons.backup(addonOf(request));
        reply.code(201);
        return backupJson(backup);
      },
    );

    api.put(
      '/addons/:addon/backup-schedule',
      {
        config: { access: { scope: 'write', addon: 'manage' } },
        schema: {
          tags: ['add-ons'],
          summary:
            'Back the add-on up on a schedule (hourly, daily, weekly or cron fields, UTC), keeping `retain`; null turns it off',
          params: AddonParams,
          body: Type.Object(
            {
              schedule: Type.Union([Type.String({ maxLength: 200 }), Type.Null()]),
              retain: Type.Optional(Type.Integer({ description: 'succeeded backups kept (7)' })),
            },
            { additionalProperties: false },
          ),
          response: { 200: AddonResponse },
        },
      },
      async (request) => {
        const addon = addonOf(request);
        await addons.setBackupSchedule(addon, request.body.schedule, request.body.retain);
        return show(await addons.get(addon.name));
      },
    );

    api.get(
      '/addons/:addon/backups',
      {
        config: { access: { scope: 'read', addon: 'manage' } },
        schema: {
          tags: ['add-ons'],
          summary: "The add-on's backups, newest first, failed ones too",
          params: AddonParams,
          response: { 200: Type.Array(Backup) },
        },
      },
      async (request) => (await addons.backups(addonOf(request))).map(backupJson),
    );

    api.get(
      '/addons/:addon/backups/:backup',
      {
        config: { access: { scope: 'read', addon: 'manage' } },
        schema: {
          tags: ['add-ons'],
          summary: 'Download a backup (streamed; its SHA-256 in the Berth-Sha256 header)',
          params: BackupParams,
          response: {
            200: {
              description: 'the backup file: pg_dump custom format or a Redis RDB snapshot',
              content: {
                'application/octet-stream': { schema: Type.String({ format: 'binary' }) },
              },
            },
          },
        },
      },
      async (request, reply) => {
        const { backup, file } = await addons.backupFile(addonOf(request), request.params.backup);
        const extension = backup.kind === 'postgres' ? 'dump' : 'rdb';
        return (
          reply
            .header('content-type', 'application/octet-stream')
            .header('content-length', String(backup.sizeBytes ?? 0))
            .header('berth-sha256', backup.sha256 ?? '')
            .header(
              'content-disposition',
              `attachment; filename="${addonOf(request).name}-${backup.name}.${extension}"`,
            )
            // A stream is sent as is; the schema above only describes it.
            .send(createReadStream(file) as unknown as string)
        );
      },
    );

    api.post(
      '/addons/:addon/restores',
      {
        config: { access: { scope: 'write', addon: 'manage' } },
        schema: {
          tags: ['add-ons'],
          summary:
            'Restore a backup of the add-on into it (confirm: its name) or into another (into)',
          params: AddonParams,
          body: RestoreBody,
          response: { 200: Type.Object({ addon: AddonResponse, backup: Backup }) },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        const { target, backup } = await addons.restoreInto({
          source: addonOf(request),
          backup: request.body.backup,
          into: request.body.into,
          confirm: request.body.confirm,
          ownerId: principal.userId,
          authorize: (name) =>
            access.authorizeAddon(principal, { scope: 'write', addon: name, level: 'manage' }),
        });
        return { addon: await show(target), backup: backupJson(backup) };
      },
    );

    // A byte tunnel to the add-on's server for `berth addons psql|redis-cli`: the server's port
    // stays on loopback, and the caller is authorized like any route (manage, write) before the
    // upgrade. Hidden from the OpenAPI document, as WebSocket routes are; docs/api.md has it.
    api.get(
      '/addons/:addon/tunnel',
      {
        websocket: true,
        config: { access: { scope: 'write', addon: 'manage' } },
        schema: { tags: ['add-ons'], summary: "A byte tunnel to the add-on's server" },
      },
      (socket, request) => {
        const addon = addonOf(request);
        const server = net.connect({ host: '127.0.0.1', port: addon.port });
        const stream = createWebSocketStream(socket);
        const end = () => {
          server.destroy();
          stream.destroy();
        };
        server.once('error', () => socket.close(TUNNEL_UNREACHABLE, 'the add-on does not answer'));
        stream.once('error', end);
        server.once('close', end);
        stream.pipe(server).pipe(stream);
      },
    );

    api.delete(
      '/addons/:addon',
      {
        config: { access: { scope: 'delete', addon: 'manage' } },
        schema: {
          tags: ['add-ons'],
          summary: 'Destroy an add-on and its data, for good: ?confirm=<name>; it must be detached',
          params: AddonParams,
          querystring: Type.Object(
            { confirm: Type.Optional(Type.String({ maxLength: 256 })) },
            { additionalProperties: false },
          ),
          response: { 204: Type.Null() },
        },
      },
      async (request, reply) => {
        await addons.destroy(addonOf(request), request.query.confirm);
        return reply.code(204).send();
      },
    );
    done();
  };
}
