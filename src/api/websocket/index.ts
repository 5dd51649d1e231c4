// The WebSocket API (/api/v1/ws): one authenticated session per connection carrying watch
// streams (and, later, log streams), fed by the change stream.
export {
  WsSession,
  WsCloseCodes,
  type WsSessionLimits,
  type WsSessionServices,
} from './session.js';
