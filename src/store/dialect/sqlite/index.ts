// The store on SQLite (better-sqlite3, WAL): the embedded default, one controller per file.
// Holds every piece of SQLite-specific SQL: transactions, triggers, change-log reads, fingerprint.
export { openSqliteDialect, type SqliteDialectOptions } from './sqlite-dialect.js';
