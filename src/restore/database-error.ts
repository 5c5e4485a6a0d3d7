import { DatabaseError, ReplicatorError } from '../errors.js';

interface PgErrorFields {
  code?: string;
  message?: string;
  table?: string;
  column?: string;
  constraint?: string;
}

/**
 * Turn an error from the target database into a {@link DatabaseError} saying what was being
 * done. PostgreSQL quotes the offending value in data and constraint errors
 * (`invalid input syntax for type integer: "…"`); quoted text is removed from those so that
 * no row data reaches a message or a log.
 *
 * @example
 * ```ts
 * throw describeError('apply changes to table "public"."t"', error);
 * ```
 */
export function describeError(doing: string, error: unknown): ReplicatorError {
  if (error instanceof ReplicatorError) return error;
  const fields = (typeof error === 'object' && error !== null ? error : {}) as PgErrorFields;
  const code = fields.code;
  let message = fields.message ?? String(error);

  // Data exceptions (22) and integrity violations (23) may quote row values.
  if (code !== undefined && /^2[23]/.test(code)) {
    message = message.replace(/"[^"]*"/g, '"…"').replace(/\([^)]*\)=\([^)]*\)/g, '(…)');
  }
  const where = [
    fields.column ? `column ${fields.column}` : undefined,
    fields.constraint ? `constraint ${fields.constraint}` : undefined,
  ].filter((part) => part !== undefined);
  const suffix = where.length > 0 ? ` (${where.join(', ')})` : '';
  const sqlstate = code !== undefined && /^[0-9A-Z]{5}$/.test(code) ? ` [SQLSTATE ${code}]` : '';
  return new DatabaseError(`${doing}: ${message}${suffix}${sqlstate}`, {
    hint: 'nothing of the failed group was committed; fix the cause and run the same command again to resume',
    cause: error instanceof Error && code === undefined ? error : undefined,
  });
}
