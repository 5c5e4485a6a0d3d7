import pg from 'pg';

/** DDL for a table holding every type the change model promises to carry exactly. */
export const TYPE_MATRIX_DDL = [
  `CREATE TYPE "Mood Type" AS ENUM ('sad', 'ok', 'it''s fine')`,
  'CREATE DOMAIN positive AS integer CHECK (VALUE > 0)',
  'CREATE TYPE pair AS (x integer, label text, feeling "Mood Type")',
  `CREATE TABLE "Type Matrix" (
    id bigint PRIMARY KEY,
    big bigint, num numeric(40,0), num_special numeric, bin bytea, arr integer[],
    txt_arr text[], doc jsonb, ts timestamptz, span interval, feeling "Mood Type",
    pos positive, pt pair, f8 double precision, f4 real, note text, flag boolean
  )`,
];

/** Two rows covering the edge values; read back with `readRows` for the expected text. */
export const TYPE_MATRIX_INSERT = `INSERT INTO "Type Matrix" VALUES
  (1, 9007199254740993, 1234567890123456789012345678901234567890, 'NaN', '\\x00ff10',
   '{1,NULL,3}', '{"a b","c\\"d",NULL,"NULL"}', '{"k": [1, null, "x"], "n": 12345678901234567890.5}',
   '2026-12-03 17:01:02.123456+00', '1 year 2 mons 3 days 04:05:06.789', 'it''s fine', 7,
   '(1,"a, b","it''s fine")', 'Infinity', '-Infinity',
   'Zoë 👩‍👩‍👧 e\u0301 "quoted" \\ back, comma (paren)', true),
  (2, -9223372036854775808, -99999999999999999999999999999999999999, 'Infinity', '',
   '{}', '{}', 'null', '-infinity', '-00:00:00.000001', 'sad', 1, '(,,)',
   'NaN', '1.17549e-38', '', false),
  (3, NULL, NULL, '-Infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   '-0', NULL, NULL, NULL)`;

/** Rows as PostgreSQL's text output, keyed by id: the expected values. */
export async function readRows(
  url: string,
  table: string,
): Promise<Map<string, Record<string, string | null>>> {
  const client = new pg.Client({
    connectionString: url,
    types: { getTypeParser: () => (value: string) => value },
  });
  await client.connect();
  try {
    const { rows } = await client.query<Record<string, string | null>>(`SELECT * FROM ${table}`);
    return new Map(rows.map((row) => [row.id!, row]));
  } finally {
    await client.end();
  }
}

/** Random text that PostgreSQL cannot compress, so it is stored out of line (TOAST). */
export function incompressible(bytes: number): string {
  let out = '';
  while (out.length < bytes) out += Math.random().toString(36).slice(2);
  return out.slice(0, bytes);
}
