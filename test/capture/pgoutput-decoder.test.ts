import { describe, expect, it } from 'vitest';
import { toChangeRecord } from '../../src/capture/logical/logical-records.js';
import {
  PgoutputDecoder,
  type PgoutputMessage,
} from '../../src/capture/logical/pgoutput-decoder.js';

// Messages built byte by byte as the manual's "Logical Replication Message Formats" (version 1)
// lays them out, so the decoder is checked without a server.
const OID = 16_384;

function u16(value: number): Buffer {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16BE(value);
  return bytes;
}

function u32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes;
}

/** RELATION for "Odd Schema"."T t" (id int8 key, body text, note text), replica identity d. */
function relationMessage(): Buffer {
  const column = (key: number, name: string, typeOid: number) =>
    Buffer.concat([Buffer.from([key]), Buffer.from(`${name}\0`), u32(typeOid), u32(-1)]);
  return Buffer.concat([
    Buffer.from('R'),
    u32(OID),
    Buffer.from('Odd Schema\0T t\0d'),
    u16(3),
    column(1, 'id', 20),
    column(0, 'body', 25),
    column(0, 'note', 25),
  ]);
}

type Column = string | null | 'unchanged';

/** A tuple: text values, `null` for SQL NULL, 'unchanged' for an unsent TOASTed value. */
function tuple(columns: Column[]): Buffer {
  const parts = [u16(columns.length)];
  for (const value of columns) {
    if (value === null) parts.push(Buffer.from('n'));
    else if (value === 'unchanged') parts.push(Buffer.from('u'));
    else {
      const text = Buffer.from(value, 'utf8');
      parts.push(Buffer.from('t'), u32(text.length), text);
    }
  }
  return Buffer.concat(parts);
}

function decoderWithRelation(): PgoutputDecoder {
  const decoder = new PgoutputDecoder();
  decoder.decode(relationMessage());
  return decoder;
}

describe('pgoutput decoder', () => {
  it('decodes an INSERT into text values, SQL NULL as null, Unicode intact', () => {
    const decoder = decoderWithRelation();
    const message = decoder.decode(
      Buffer.concat([Buffer.from('I'), u32(OID), Buffer.from('N'), tuple(['1', 'zß😀', null])]),
    );
    expect(toChangeRecord(message)).toEqual({
      kind: 'change',
      table: { schema: 'Odd Schema', name: 'T t' },
      op: 'INSERT',
      new: { id: '1', body: 'zß😀', note: null },
    });
  });

  it('lists an unsent TOASTed value of an UPDATE as unchanged instead of inventing one', () => {
    const decoder = decoderWithRelation();
    const message = decoder.decode(
      Buffer.concat([Buffer.from('U'), u32(OID), Buffer.from('N'), tuple(['7', 'unchanged', 'x'])]),
    );
    const record = toChangeRecord(message);
    expect(record?.new).toEqual({ id: '7', note: 'x' });
    expect(record?.unchanged).toEqual(['body']);
    expect(record?.old).toEqual({ id: '7' });
  });

  it('keeps the unchanged lists of separate rows apart', () => {
    const decoder = decoderWithRelation();
    const update = (columns: Column[]) =>
      decoder.decode(Buffer.concat([Buffer.from('U'), u32(OID), Buffer.from('N'), tuple(columns)]));
    const first = update(['1', 'a', 'b']) as Extract<PgoutputMessage, { tag: 'update' }>;
    const second = update(['2', 'unchanged', 'b']) as Extract<PgoutputMessage, { tag: 'update' }>;
    const third = update(['3', 'c', 'd']) as Extract<PgoutputMessage, { tag: 'update' }>;
    expect(first.new.unchanged).toEqual([]);
    expect(second.new.unchanged).toEqual(['body']);
    expect(third.new.unchanged).toEqual([]);
  });

  it('reduces a key-only old tuple of a DELETE to the key', () => {
    const decoder = decoderWithRelation();
    const message = decoder.decode(
      Buffer.concat([Buffer.from('D'), u32(OID), Buffer.from('K'), tuple(['9', null, null])]),
    );
    expect(toChangeRecord(message)).toMatchObject({ op: 'DELETE', old: { id: '9' } });
  });

  it('rejects a row message cut short at every byte', () => {
    const whole = Buffer.concat([
      Buffer.from('I'),
      u32(OID),
      Buffer.from('N'),
      tuple(['1', 'body', 'note']),
    ]);
    const decoder = decoderWithRelation();
    for (let end = 1; end < whole.length; end++) {
      expect(() => decoder.decode(whole.subarray(0, end)), `cut at ${end}`).toThrow(
        /decode pgoutput/,
      );
    }
    expect(decoder.decode(whole).tag).toBe('insert');
  });

  it('rejects a row of a relation it has not been told about', () => {
    const decoder = new PgoutputDecoder();
    const message = Buffer.concat([Buffer.from('I'), u32(OID), Buffer.from('N'), tuple(['1'])]);
    expect(() => decoder.decode(message)).toThrow(/unknown relation 16384/);
  });
});
