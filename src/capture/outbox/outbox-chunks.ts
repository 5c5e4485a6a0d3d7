/**
 * Most rows one outbox chunk row carries. Bounds the work of one chunk and keeps a statement of
 * a million rows from becoming one huge array.
 */
export const MAX_CHUNK_ROWS = 1_000;
/**
 * Most bytes of row data (hstore values) one chunk row carries; a single row larger than this
 * gets a chunk of its own. Far below the 1 GB a single PostgreSQL value may hold.
 */
export const MAX_CHUNK_BYTES = 64 * 1024 * 1024;

/** The op letter of a chunk row, per statement kind (single-row entries use 'I' and 'D'). */
export const CHUNK_OPS = { insert: 'i', delete: 'd' } as const;

export interface ChunkFunctionOptions {
  /** Schema of the outbox table and of the function. */
  schema: string;
  /** Schema that holds the hstore extension, quoted as needed. */
  hstore: string;
  kind: keyof typeof CHUNK_OPS;
  /** Transition table name the statement trigger declares (REFERENCING … AS name). */
  transitionTable: string;
  /** PL/pgSQL run once when the statement changed a row (the wake-up). */
  onChanged: string;
}

/**
 * The statement trigger function that writes a statement's rows into the outbox as chunk rows:
 * the rows as hstore values in an array (`new_rows` for INSERT, `old_rows` for DELETE), a new
 * chunk whenever the next row would pass MAX_CHUNK_ROWS or MAX_CHUNK_BYTES.
 *
 * @example
 * ```ts
 * chunkFunctionSql({ schema: 's', hstore: 's', kind: 'insert', transitionTable: 'n', onChanged: '' });
 * ```
 */
export function chunkFunctionSql(options: ChunkFunctionOptions): string {
  const { schema, hstore } = options;
  const column = options.kind === 'insert' ? 'new_rows' : 'old_rows';
  const name = options.kind === 'insert' ? 'capture_insert' : 'capture_delete';
  const insert = `INSERT INTO ${schema}.outbox (table_schema, table_name, op, ${column})
      VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, '${CHUNK_OPS[options.kind]}', chunk)`;
  // NOTE: one INSERT per chunk, in the loop's order, so chunk ids follow the statement's row
  // order (the drain orders a transaction's rows by id). A loop is as cheap as one INSERT …
  // SELECT of an array_agg for small statements, and unlike a window query over the
  // transition table it cuts chunks exactly, with no sort.
  return `CREATE OR REPLACE FUNCTION ${schema}.${name}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  chunk ${hstore}.hstore[] := '{}';
  one ${hstore}.hstore;
  size int;
  bytes bigint := 0;
BEGIN
  FOR one IN SELECT ${hstore}.hstore(x.*) FROM ${options.transitionTable} x LOOP
    size := pg_column_size(one);
    IF bytes > 0 AND (cardinality(chunk) >= ${MAX_CHUNK_ROWS}
                      OR bytes + size > ${MAX_CHUNK_BYTES}) THEN
      ${insert};
      chunk := '{}';
      bytes := 0;
    END IF;
    chunk := array_append(chunk, one);
    bytes := bytes + size;
  END LOOP;
  IF bytes > 0 THEN
    ${insert};
    ${options.onChanged}
  END IF;
  RETURN NULL;
END $fn$`;
}
