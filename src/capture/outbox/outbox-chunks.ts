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
 * Largest row (bytes of its hstore value) the one-statement path takes: MAX_CHUNK_ROWS of them
 * stay within MAX_CHUNK_BYTES.
 */
export const FAST_ROW_BYTES = Math.floor(MAX_CHUNK_BYTES / MAX_CHUNK_ROWS);

/**
 * The statement trigger function that writes a statement's rows into the outbox as chunk rows:
 * the rows as hstore values in an array (`new_rows` for INSERT, `old_rows` for DELETE). A
 * statement of at most MAX_CHUNK_ROWS rows, none over FAST_ROW_BYTES, is one chunk written by
 * one INSERT … SELECT; any other is cut row by row, a new chunk whenever the next row would
 * pass MAX_CHUNK_ROWS or MAX_CHUNK_BYTES.
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
  const op = CHUNK_OPS[options.kind];
  const insert = `INSERT INTO ${schema}.outbox (table_schema, table_name, op, ${column})
      VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, '${op}', chunk)`;
  // NOTE: each SQL statement a trigger runs costs about 10 µs per application statement, more
  // than a 10-row statement's data, so the common case is one statement. Its LIMIT and FILTER
  // keep the array it builds small whatever the statement holds (at most MAX_CHUNK_ROWS + 1
  // rows of at most FAST_ROW_BYTES); HAVING then writes it only when it took every row. HAVING
  // names the same aggregate, which PostgreSQL computes once (a separate bool_and over the row
  // sizes cost about 2.5 µs per 10-row statement, a fifteenth of the function). Rows
  // of one INSERT or DELETE statement do not depend on each other, so their order inside it
  // does not change what a restore applies; across chunks the loop keeps it anyway, one
  // INSERT per chunk in turn, so chunk ids follow the statement (the drain orders by id).
  return `CREATE OR REPLACE FUNCTION ${schema}.${name}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  chunk ${hstore}.hstore[] := '{}';
  one ${hstore}.hstore;
  size int;
  bytes bigint := 0;
BEGIN
  INSERT INTO ${schema}.outbox (table_schema, table_name, op, ${column})
  SELECT TG_TABLE_SCHEMA, TG_TABLE_NAME, '${op}',
         array_agg(r) FILTER (WHERE pg_column_size(r) <= ${FAST_ROW_BYTES})
    FROM (SELECT ${hstore}.hstore(x.*) AS r FROM ${options.transitionTable} x
           LIMIT ${MAX_CHUNK_ROWS + 1}) s
  HAVING count(*) BETWEEN 1 AND ${MAX_CHUNK_ROWS}
     AND cardinality(array_agg(r) FILTER (WHERE pg_column_size(r) <= ${FAST_ROW_BYTES})) = count(*);
  IF FOUND THEN
    ${options.onChanged}
    RETURN NULL;
  END IF;

  -- Too many rows or a large row for one chunk (or no row at all): cut chunks in turn.
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
