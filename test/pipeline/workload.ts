import pg from 'pg';

/** Tables the pipeline tests write to; an odd name with a space and capitals among them. */
export const WORKLOAD_DDL = `
  CREATE TABLE public.accounts (id bigint PRIMARY KEY, owner text NOT NULL, balance numeric(40,2),
    tags text[], meta jsonb);
  CREATE TABLE public."Audit Log" (id serial PRIMARY KEY, "Event" text, at timestamptz);
`;

/** Run statements in one transaction on a fresh connection. */
export async function inTransaction(url: string, statements: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    for (const sql of statements) await client.query(sql);
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
}

/**
 * A mixed workload: single inserts, a multi-statement transaction, updates (one of a primary
 * key), deletes, a truncate, and concurrent writers. `base` keeps ids of repeated rounds apart.
 */
export async function writeWorkload(url: string, base = 0): Promise<void> {
  // Inserts, one transaction each, with values that must round-trip exactly.
  for (let i = 1; i <= 20; i++) {
    const id = base + i;
    await inTransaction(url, [
      `INSERT INTO accounts VALUES (${id}, 'owner ${id} ✓', ${id}123456789012345678901234567890.25,
        ARRAY['a','b"c'], '{"k": null, "n": ${id}}')`,
    ]);
  }

  // A multi-statement transaction touching both tables.
  await inTransaction(url, [
    `UPDATE accounts SET balance = balance + 1 WHERE id BETWEEN ${base + 1} AND ${base + 5}`,
    `INSERT INTO "Audit Log" ("Event", at) VALUES ('moved ${base}', '2026-12-03 17:00:00.123456+00')`,
    `DELETE FROM accounts WHERE id = ${base + 6}`,
    `UPDATE accounts SET id = ${base + 1000} WHERE id = ${base + 7}`,
  ]);

  // Concurrent writers, each committing its own small transactions.
  await Promise.all(
    [0, 1, 2, 3].map(async (writer) => {
      for (let j = 0; j < 10; j++) {
        const id = base + 100 + writer * 10 + j;
        await inTransaction(url, [
          `INSERT INTO accounts (id, owner, meta) VALUES (${id}, 'writer ${writer}', 'null')`,
        ]);
      }
    }),
  );
}

/** Truncate the audit table and write one more row after it. */
export async function writeTruncate(url: string): Promise<void> {
  await inTransaction(url, [
    'TRUNCATE "Audit Log"',
    `INSERT INTO "Audit Log" ("Event", at) VALUES ('after truncate', now())`,
  ]);
}
