import type { Row, TableName } from '../change/change.js';

/** Operations of the change model. */
export const OPERATION_NAMES: ReadonlySet<string> = new Set([
  'INSERT',
  'UPDATE',
  'DELETE',
  'TRUNCATE',
]);

/** Kinds of user-defined types a schema record may carry. */
export const TYPE_KINDS: ReadonlySet<string> = new Set(['enum', 'domain', 'composite']);

/**
 * Type guards shared by the payload codec and the transaction check.
 *
 * @example
 * ```ts
 * isRow({ id: '1', note: null }); // => true
 * ```
 */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isTable(value: unknown): value is TableName {
  return isObject(value) && typeof value.schema === 'string' && typeof value.name === 'string';
}

export function isRow(value: unknown): value is Row {
  if (!isObject(value)) return false;
  // NOTE: for-in, not Object.values: no array per row (this runs for every row on every open).
  for (const column in value) {
    const cell = value[column];
    if (cell !== null && typeof cell !== 'string') return false;
  }
  return true;
}

export function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}
