// The controller's HTTP API (Fastify, base /api/v1). Routes call domain services, never SQL;
// one error mapper turns domain errors into HTTP. See docs/api.md.
export { buildApi, type ApiOptions } from './api.js';
