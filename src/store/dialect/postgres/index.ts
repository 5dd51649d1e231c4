// The store on PostgreSQL (pg): the production store, shared by several controllers.
// Holds every piece of PostgreSQL-specific SQL: transactions, triggers, LISTEN/NOTIFY, cursors.
export { openPostgresDialect, type PostgresDialectOptions } from './postgres-dialect.js';
