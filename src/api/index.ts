// The controller's HTTP and WebSocket API (Fastify + TypeBox, base /api/v1). Routes declare
// their access and call domain services, never SQL; one error mapper turns domain errors into HTTP.
export { buildApi, API_PREFIX, type Api, type ApiOptions } from './api.js';
export type { KubeManifestOptions } from './routes/index.js';
export { WsCloseCodes, type WsSessionLimits } from './websocket/index.js';
