import type { ChangeRecord, Row, TableName } from '../../change/change.js';
import type { PgoutputMessage, Relation, Tuple } from './pgoutput-decoder.js';

/** The table a relation names (the relation's own object, shared by its change records). */
export function relationTable(relation: Relation): TableName {
  return relation.table;
}

/** A fingerprint of a relation's shape; a new one means the table changed. */
export function relationShape(relation: Relation): string {
  return JSON.stringify(relation.columns.map((c) => [c.name, c.typeOid, c.typeMod, c.isKey]));
}

/** The key columns of a tuple (pgoutput sends non-key columns of a key tuple as NULL). */
function keyOf(relation: Relation, tuple: Tuple): Row {
  const key: Row = {};
  for (const column of relation.columns) {
    if (column.isKey) key[column.name] = tuple.values[column.name] ?? null;
  }
  return key;
}

/**
 * Turn one decoded row message into the change record the stream carries. Unchanged TOASTed
 * values are filled from the old tuple when the table sends it whole (REPLICA IDENTITY FULL),
 * and otherwise listed in `unchanged` so that restore keeps the stored value.
 *
 * @example
 * ```ts
 * const record = toChangeRecord(message); // undefined for BEGIN, COMMIT, RELATION …
 * ```
 */
export function toChangeRecord(message: PgoutputMessage): ChangeRecord | undefined {
  switch (message.tag) {
    case 'insert':
      return {
        kind: 'change',
        table: relationTable(message.relation),
        op: 'INSERT',
        new: message.new.values,
      };
    case 'update': {
      const record: ChangeRecord = {
        kind: 'change',
        table: relationTable(message.relation),
        op: 'UPDATE',
        new: { ...message.new.values },
      };
      const oldValues = message.old !== undefined && !message.keyOnly ? message.old.values : {};
      const unchanged: string[] = [];
      for (const name of message.new.unchanged) {
        if (name in oldValues) record.new![name] = oldValues[name] ?? null;
        else unchanged.push(name);
      }
      if (unchanged.length > 0) record.unchanged = unchanged;
      if (message.old !== undefined) {
        record.old = message.keyOnly ? keyOf(message.relation, message.old) : message.old.values;
      } else if (message.relation.columns.some((c) => c.isKey)) {
        // The key did not change, so the new tuple carries it.
        record.old = keyOf(message.relation, message.new);
      }
      return record;
    }
    case 'delete':
      return {
        kind: 'change',
        table: relationTable(message.relation),
        op: 'DELETE',
        old: message.keyOnly ? keyOf(message.relation, message.old) : message.old.values,
      };
    case 'truncate': {
      const tables = message.relations.map(relationTable);
      return { kind: 'change', table: tables[0]!, op: 'TRUNCATE', tables };
    }
    default:
      return undefined;
  }
}
