// The data plane as the store holds it: which host a store's units live on, and which of that
// host's ports units hold, so that several controllers of one host never hand out one port twice.
export {
  DataPlaneElsewhereError,
  DataPlaneService,
  STALE_CLAIM_MS,
  type DataPlaneHostRecord,
  type DataPlaneServiceOptions,
  type DataPlaneState,
  type HostIdentity,
  type HostPortClaims,
  type UnitPortClaim,
} from './service.js';
export { dataPlaneState } from './state.js';
