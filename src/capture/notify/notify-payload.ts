import type { ChangeRecord, Operation, Row, SchemaRecord, TableName } from '../../change/change.js';
import { type LosslessJson, parseLossless } from './lossless-json.js';

const OPERATIONS = new Set<Operation>(['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']);

/** A notification payload, understood. */
export type NotifyPayload =
  | { kind: 'outbox' }
  | {
      kind: 'change';
      /** `text`: our trigger (values are text output); `seed`: row_to_json values. */
      format: 'text' | 'seed';
      table: TableName;
      op: Operation;
      xid?: string;
      data?: LosslessJson;
      oldData?: LosslessJson;
    };

/**
 * Read a payload: the seed's `{table, operation, data[, old_data]}`, ours (`format: "text"`
 * with `schema` and `xid`), or the outbox wake-up `{"format":"outbox"}`. Throws SyntaxError
 * (without quoting the payload, which holds row data) when it is none of these.
 *
 * @example
 * ```ts
 * parsePayload('{"table":"t","operation":"INSERT","data":{"id":1}}').kind; // => 'change'
 * ```
 */
export function parsePayload(text: string): NotifyPayload {
  const json = parseLossless(text);
  if (json.type !== 'object') throw new SyntaxError('payload is not a JSON object');
  const field = (name: string) => json.entries.find(([key]) => key === name)?.[1];
  const str = (name: string) => {
    const value = field(name);
    return value?.type === 'string' ? value.value : undefined;
  };
  if (str('format') === 'outbox') return { kind: 'outbox' };
  const table = str('table');
  const op = str('operation')?.toUpperCase() as Operation | undefined;
  if (table === undefined || op === undefined || !OPERATIONS.has(op)) {
    throw new SyntaxError('payload has no table or operation');
  }
  const payload: NotifyPayload = {
    kind: 'change',
    format: str('format') === 'text' ? 'text' : 'seed',
    table: { schema: str('schema') ?? 'public', name: table },
    op,
  };
  const xid = str('xid');
  if (xid !== undefined) payload.xid = xid;
  const data = field('data');
  if (data !== undefined && data.type !== 'null') payload.data = data;
  const oldData = field('old_data');
  if (oldData !== undefined && oldData.type !== 'null') payload.oldData = oldData;
  return payload;
}

/**
 * Turn a parsed payload into a change record. Our trigger's values are already text output;
 * the seed's `row_to_json` values are converted per column type (see docs/CAPTURE.md for what
 * that cannot preserve).
 *
 * @example
 * ```ts
 * const record = toChangeRecord(payload, schema);
 * ```
 */
export function toChangeRecord(
  payload: Extract<NotifyPayload, { kind: 'change' }>,
  schema: SchemaRecord | undefined,
): ChangeRecord {
  const record: ChangeRecord = { kind: 'change', table: payload.table, op: payload.op };
  if (payload.op === 'TRUNCATE') {
    record.tables = [payload.table];
    return record;
  }
  const types = new Map(schema?.columns.map((c) => [c.name, c.type]));
  const toRow = (json: LosslessJson): Row => {
    const row: Row = {};
    if (json.type !== 'object') return row;
    for (const [name, value] of json.entries) row[name] = columnText(value, types.get(name));
    return row;
  };
  if (payload.data !== undefined && payload.op !== 'DELETE') record.new = toRow(payload.data);
  // The seed's trigger sends DELETE with data = OLD as null; ours sends old_data.
  const old = payload.oldData ?? (payload.op === 'DELETE' ? payload.data : undefined);
  if (old !== undefined) {
    const full = toRow(old);
    const key = schema?.primaryKey ?? [];
    if (key.length > 0 && key.every((name) => name in full)) {
      record.old = Object.fromEntries(key.map((name) => [name, full[name] ?? null]));
    } else {
      record.old = full;
    }
  } else if (payload.op === 'UPDATE' && record.new !== undefined && schema !== undefined) {
    // The seed's UPDATE payload has only the new row: its key is the best identification.
    const key = schema.primaryKey;
    if (key.length > 0)
      record.old = Object.fromEntries(key.map((n) => [n, record.new![n] ?? null]));
  }
  return record;
}

/** One JSON value as the text PostgreSQL would print for a column of `type`. */
function columnText(value: LosslessJson, type: string | undefined): string | null {
  if (value.type === 'null') return null;
  if (value.type === 'string') return value.value;
  if (type === 'json' || type === 'jsonb') return value.raw;
  return literal(value, false);
}

function literal(value: LosslessJson, nested: boolean): string {
  switch (value.type) {
    case 'null':
      return nested ? 'NULL' : '';
    case 'boolean':
      return value.value ? 't' : 'f';
    case 'number':
      return value.raw;
    case 'string':
      return nested ? quoteElement(value.value) : value.value;
    case 'array':
      return `{${value.items.map((item) => arrayElement(item)).join(',')}}`;
    case 'object': {
      const fields = value.entries.map(([, v]) =>
        v.type === 'null' ? '' : quoteElement(literal(v, false)),
      );
      const text = `(${fields.join(',')})`;
      return nested ? quoteElement(text) : text;
    }
  }
}

function arrayElement(item: LosslessJson): string {
  if (item.type === 'null') return 'NULL';
  if (item.type === 'array') return literal(item, true);
  if (item.type === 'string') return quoteElement(item.value);
  if (item.type === 'object') return quoteElement(literal(item, false));
  return literal(item, true);
}

function quoteElement(text: string): string {
  return `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}
