// Access to a container engine through the Docker Engine API (Docker, or Podman's
// Docker-compatible service): finding its socket, connecting, and telling why it is not there.
export {
  connectEngine,
  defaultSocketCandidates,
  EngineUnavailableError,
  engineErrorStatus,
  findEngineSocket,
  imageExists,
  isEngineUnreachable,
  type Engine,
  type EngineConnection,
  type EngineOptions,
} from './engine.js';
