// The audit log: who did what, when, to what and with which outcome, for every mutating call.
// The API records each call after its response; admins page through it, newest first.
export {
  AuditOutcomes,
  AuditService,
  DEFAULT_AUDIT_PAGE,
  MAX_AUDIT_FIELD_LENGTH,
  MAX_AUDIT_PAGE,
  type AuditEntry,
  type AuditEntryInput,
  type AuditOutcome,
  type AuditPage,
  type AuditServiceOptions,
  type AuditState,
} from './service.js';
