import { formatLsn, type TableName } from '../../change/change.js';

/**
 * A decoder for pgoutput protocol version 1 that keeps every value as PostgreSQL's text
 * output (no type parsing), marks unchanged TOASTed values instead of inventing one, and keeps
 * commit times to the microsecond.
 *
 * Message letters are those of the PostgreSQL manual, "Logical Replication Message Formats".
 */
export enum PgoutputTag {
  Begin = 0x42, // 'B'
  Commit = 0x43, // 'C'
  Origin = 0x4f, // 'O'
  Relation = 0x52, // 'R'
  Type = 0x59, // 'Y'
  Insert = 0x49, // 'I'
  Update = 0x55, // 'U'
  Delete = 0x44, // 'D'
  Truncate = 0x54, // 'T'
  Message = 0x4d, // 'M'
}

/** Tuple column kinds. */
const COLUMN_NULL = 0x6e; // 'n'
const COLUMN_UNCHANGED_TOAST = 0x75; // 'u'
const COLUMN_TEXT = 0x74; // 't'
const TUPLE_KEY = 0x4b; // 'K'
const TUPLE_OLD = 0x4f; // 'O'
const TUPLE_NEW = 0x4e; // 'N'

/** Microseconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01. */
const POSTGRES_EPOCH_MICROS = 946_684_800_000_000n;

export interface Relation {
  oid: number;
  schema: string;
  name: string;
  /** Replica identity letter: d(efault), n(othing), f(ull), i(ndex). */
  replicaIdentity: string;
  columns: Array<{ name: string; isKey: boolean; typeOid: number; typeMod: number }>;
  /** The table, one object shared by every change record of this relation (never mutated). */
  table: TableName;
}

/** A decoded tuple: text values, SQL NULL as null; `unchanged` lists unsent TOAST columns. */
export interface Tuple {
  values: Record<string, string | null>;
  unchanged: readonly string[];
}

/** The `unchanged` of every tuple that has no unchanged TOAST column (most): no array per row. */
const NONE_UNCHANGED: readonly string[] = Object.freeze([]);

export type PgoutputMessage =
  | { tag: 'begin'; finalLsn: bigint; commitTime: string; xid: number }
  | { tag: 'commit'; commitLsn: bigint; endLsn: bigint; commitTime: string }
  | { tag: 'relation'; relation: Relation }
  | { tag: 'insert'; relation: Relation; new: Tuple }
  | { tag: 'update'; relation: Relation; old?: Tuple; keyOnly: boolean; new: Tuple }
  | { tag: 'delete'; relation: Relation; old: Tuple; keyOnly: boolean }
  | { tag: 'truncate'; relations: Relation[] }
  | { tag: 'ignored' };

/**
 * Turn microseconds since 2000-01-01 into ISO 8601 with all six fractional digits.
 *
 * @example
 * ```ts
 * postgresTimeToIso(1n); // => '2000-01-01T00:00:00.000001Z'
 * ```
 */
export function postgresTimeToIso(micros: bigint): string {
  // NOTE: commit times before 1970 do not occur in a live stream; they are not special-cased.
  const unixMicros = micros + POSTGRES_EPOCH_MICROS;
  const millis = new Date(Number(unixMicros / 1000n)).toISOString();
  const extra = String(unixMicros % 1000n).padStart(3, '0');
  return millis.replace('Z', `${extra}Z`);
}

/**
 * Stateful decoder: RELATION messages are remembered so later row messages can be named.
 *
 * @example
 * ```ts
 * const decoder = new PgoutputDecoder();
 * const message = decoder.decode(xlogDataPayload);
 * ```
 */
export class PgoutputDecoder {
  private readonly relations = new Map<number, Relation>();
  private buffer: Buffer = Buffer.alloc(0);
  private offset = 0;

  decode(buffer: Buffer): PgoutputMessage {
    this.buffer = buffer;
    this.offset = 0;
    const tag = this.uint8();
    switch (tag) {
      case PgoutputTag.Begin: {
        const finalLsn = this.uint64();
        const commitTime = postgresTimeToIso(this.int64());
        return { tag: 'begin', finalLsn, commitTime, xid: this.uint32() };
      }
      case PgoutputTag.Commit: {
        this.uint8(); // flags, unused
        const commitLsn = this.uint64();
        const endLsn = this.uint64();
        return { tag: 'commit', commitLsn, endLsn, commitTime: postgresTimeToIso(this.int64()) };
      }
      case PgoutputTag.Relation:
        return { tag: 'relation', relation: this.relation() };
      case PgoutputTag.Insert: {
        const relation = this.relationById(this.uint32());
        this.expect(TUPLE_NEW);
        return { tag: 'insert', relation, new: this.tuple(relation) };
      }
      case PgoutputTag.Update:
        return this.update();
      case PgoutputTag.Delete: {
        const relation = this.relationById(this.uint32());
        const kind = this.uint8();
        return { tag: 'delete', relation, old: this.tuple(relation), keyOnly: kind === TUPLE_KEY };
      }
      case PgoutputTag.Truncate: {
        const count = this.uint32();
        this.uint8(); // options: CASCADE / RESTART IDENTITY
        const relations: Relation[] = [];
        for (let i = 0; i < count; i++) relations.push(this.relationById(this.uint32()));
        return { tag: 'truncate', relations };
      }
      case PgoutputTag.Origin:
      case PgoutputTag.Type:
      case PgoutputTag.Message:
        return { tag: 'ignored' };
      default:
        throw new Error(`decode pgoutput message: unknown message type 0x${tag.toString(16)}`);
    }
  }

  private update(): PgoutputMessage {
    const relation = this.relationById(this.uint32());
    let kind = this.uint8();
    let old: Tuple | undefined;
    let keyOnly = false;
    if (kind === TUPLE_KEY || kind === TUPLE_OLD) {
      keyOnly = kind === TUPLE_KEY;
      old = this.tuple(relation);
      kind = this.uint8();
    }
    if (kind !== TUPLE_NEW) throw new Error('decode pgoutput update: missing new tuple');
    const message: PgoutputMessage = {
      tag: 'update',
      relation,
      keyOnly,
      new: this.tuple(relation),
    };
    if (old !== undefined) message.old = old;
    return message;
  }

  private relation(): Relation {
    const oid = this.uint32();
    const schema = this.cstring() || 'pg_catalog';
    const name = this.cstring();
    const replicaIdentity = String.fromCharCode(this.uint8());
    const count = this.uint16();
    const columns: Relation['columns'] = [];
    for (let i = 0; i < count; i++) {
      const flags = this.uint8();
      const columnName = this.cstring();
      const typeOid = this.uint32();
      const typeMod = this.buffer.readInt32BE(this.advance(4));
      columns.push({ name: columnName, isKey: (flags & 1) === 1, typeOid, typeMod });
    }
    const table = { schema, name };
    const relation: Relation = { oid, schema, name, replicaIdentity, columns, table };
    this.relations.set(oid, relation);
    return relation;
  }

  private relationById(oid: number): Relation {
    const relation = this.relations.get(oid);
    if (relation === undefined) throw new Error(`decode pgoutput: unknown relation ${oid}`);
    return relation;
  }

  // NOTE: runs once per row change: no array unless a TOAST column is unchanged, and the
  // column kinds are read without the bounds-checked helpers (advance() checks each value).
  private tuple(relation: Relation): Tuple {
    const count = this.uint16();
    const columns = relation.columns;
    const values: Record<string, string | null> = {};
    let unchanged: string[] | undefined;
    for (let i = 0; i < count; i++) {
      const name = i < columns.length ? columns[i]!.name : `column_${i + 1}`;
      const kind = this.uint8();
      if (kind === COLUMN_TEXT) {
        const length = this.uint32();
        const start = this.advance(length);
        values[name] = this.buffer.toString('utf8', start, start + length);
      } else if (kind === COLUMN_NULL) {
        values[name] = null;
      } else if (kind === COLUMN_UNCHANGED_TOAST) {
        unchanged ??= [];
        unchanged.push(name);
      } else {
        throw new Error(`decode pgoutput tuple: unsupported column kind 0x${kind.toString(16)}`);
      }
    }
    return { values, unchanged: unchanged ?? NONE_UNCHANGED };
  }

  private expect(byte: number): void {
    const got = this.uint8();
    if (got !== byte) throw new Error(`decode pgoutput: expected 0x${byte.toString(16)}`);
  }

  private advance(bytes: number): number {
    const start = this.offset;
    if (start + bytes > this.buffer.length) throw new Error('decode pgoutput: message truncated');
    this.offset += bytes;
    return start;
  }

  private uint8(): number {
    const at = this.advance(1);
    return this.buffer[at]!;
  }

  private uint16(): number {
    return this.buffer.readUInt16BE(this.advance(2));
  }

  private uint32(): number {
    return this.buffer.readUInt32BE(this.advance(4));
  }

  private uint64(): bigint {
    return this.buffer.readBigUInt64BE(this.advance(8));
  }

  private int64(): bigint {
    return this.buffer.readBigInt64BE(this.advance(8));
  }

  private cstring(): string {
    const end = this.buffer.indexOf(0, this.offset);
    if (end < 0) throw new Error('decode pgoutput: unterminated string');
    const value = this.buffer.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return value;
  }
}

/** `formatLsn` re-exported for callers that print decoded LSNs. */
export { formatLsn };
