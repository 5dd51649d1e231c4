/**
 * Whether a database error is a unique-constraint violation, on either dialect. Services turn
 * it into a ConflictError ("name taken") without knowing which database they run on.
 */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  // SQLite (better-sqlite3) and PostgreSQL (SQLSTATE unique_violation).
  return (
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    code === '23505'
  );
}
