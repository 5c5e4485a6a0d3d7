import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The sample table, named as in the seed's trigger example. */
export const SAMPLE_TABLE = 'public.nis2_audit_log';

/** Changes written per transaction: small transactions, as an application makes them. */
export const CHANGES_PER_TRANSACTION = 40;

/** SQL that creates the sample audit-log table (idempotent). */
export const SAMPLE_TABLE_SQL = `
CREATE TABLE IF NOT EXISTS public.nis2_audit_log (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  actor       text NOT NULL,
  action      text NOT NULL,
  resource    text NOT NULL,
  outcome     text NOT NULL,
  source_ip   inet,
  details     jsonb NOT NULL
)`;

/** What the workload wrote, for the summary and the store search. */
export interface WorkloadResult {
  inserts: number;
  updates: number;
  deletes: number;
  transactions: number;
  /** Rows left in the table. */
  rows: number;
}

export interface WorkloadOptions {
  databaseUrl: string;
  /** Rows to insert; about half as many updates and a fifth as many deletes follow. */
  rows: number;
  /** A value written into every row: the store search looks for it. */
  marker: string;
  /** Called after each committed transaction with the changes written so far. */
  onProgress?: (written: number, total: number) => void;
  /** Checked between transactions: stop early when it returns true (Ctrl-C). */
  aborted?: () => boolean;
}

const ACTIONS = ['login', 'logout', 'read', 'export', 'update-policy', 'grant-role'];
const RESOURCES = ['payroll', 'crm', 'scada-gateway', 'vpn', 'backup-console', 'hr-records'];

/**
 * A value that appears in every sample row and nowhere else: a store that could read what it
 * holds would contain it.
 *
 * @example
 * ```ts
 * newMarker(); // => 'demo-marker-3f9a1c0e7b52d4a8'
 * ```
 */
export function newMarker(): string {
  return `demo-marker-${randomBytes(8).toString('hex')}`;
}

/**
 * The changes a workload of `rows` inserts writes: inserts, updates, deletes.
 *
 * @example
 * ```ts
 * plannedChanges(2000); // => { inserts: 2000, updates: 1000, deletes: 400 }
 * ```
 */
export function plannedChanges(rows: number): {
  inserts: number;
  updates: number;
  deletes: number;
} {
  return { inserts: rows, updates: Math.floor(rows / 2), deletes: Math.floor(rows / 5) };
}

/**
 * Write an audit-log workload: inserts, updates of earlier rows and deletes, interleaved in
 * transactions of about {@link CHANGES_PER_TRANSACTION} changes.
 *
 * @example
 * ```ts
 * const result = await runSampleWorkload({ databaseUrl, rows: 2000, marker: newMarker() });
 * ```
 */
export async function runSampleWorkload(options: WorkloadOptions): Promise<WorkloadResult> {
  const planned = plannedChanges(options.rows);
  const total = planned.inserts + planned.updates + planned.deletes;
  const client = new pg.Client({ connectionString: options.databaseUrl });
  // A server shutting down (Ctrl-C) fails the pending query; the event itself is not news.
  client.on('error', () => {});
  await client.connect();
  const result: WorkloadResult = { inserts: 0, updates: 0, deletes: 0, transactions: 0, rows: 0 };
  const live: string[] = [];

  try {
    // Each transaction inserts, then updates and deletes rows inserted earlier.
    let step = 0;
    while (result.inserts < planned.inserts && options.aborted?.() !== true) {
      const insertCount = Math.min(20, planned.inserts - result.inserts);
      await client.query('BEGIN');
      const ids = await insertRows(client, insertCount, options.marker, step);
      live.push(...ids);
      result.inserts += ids.length;

      const updateCount = Math.min(10, planned.updates - result.updates, live.length);
      for (let i = 0; i < updateCount; i++) {
        const id = live[(step * 7 + i * 13) % live.length]!;
        await client.query(
          `UPDATE public.nis2_audit_log
              SET outcome = $2,
                  details = details || jsonb_build_object('reviewed', true, 'by', $3::text)
            WHERE id = $1`,
          [id, i % 3 === 0 ? 'denied' : 'reviewed', options.marker],
        );
        result.updates++;
      }

      const deleteCount = Math.min(4, planned.deletes - result.deletes, live.length);
      for (let i = 0; i < deleteCount; i++) {
        const index = (step * 11 + i * 5) % live.length;
        const [id] = live.splice(index, 1);
        await client.query('DELETE FROM public.nis2_audit_log WHERE id = $1', [id]);
        result.deletes++;
      }
      await client.query('COMMIT');
      result.transactions++;
      step++;
      options.onProgress?.(result.inserts + result.updates + result.deletes, total);
    }

    // Rows the table holds now: what the restored copy must hold too.
    const count = await client.query<{ n: string }>(
      'SELECT count(*) AS n FROM public.nis2_audit_log',
    );
    result.rows = Number(count.rows[0]?.n ?? 0);
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}

/** Insert `count` sample rows in one statement; returns their ids. */
async function insertRows(
  client: pg.Client,
  count: number,
  marker: string,
  step: number,
): Promise<string[]> {
  const values: string[] = [];
  const params: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const n = step * 20 + i;
    const base = params.length;
    values.push(
      `($${base + 1}, $${base + 2}, $${base + 3}, 'success', ` +
        `$${base + 4}::inet, $${base + 5}::jsonb)`,
    );
    params.push(
      `${marker}-user${n % 97}@example.test`,
      ACTIONS[n % ACTIONS.length],
      RESOURCES[n % RESOURCES.length],
      `10.${n % 250}.${(n * 7) % 250}.${(n * 13) % 250}`,
      JSON.stringify({ session: n, note: `sample audit event ${n}`, tag: marker }),
    );
  }
  const inserted = await client.query<{ id: string }>(
    `INSERT INTO public.nis2_audit_log (actor, action, resource, outcome, source_ip, details)
     VALUES ${values.join(', ')} RETURNING id`,
    params,
  );
  return inserted.rows.map((row) => row.id);
}

/**
 * Create the sample table on a database.
 *
 * @example
 * ```ts
 * await createSampleTable(databaseUrl);
 * ```
 */
export async function createSampleTable(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(SAMPLE_TABLE_SQL);
  } finally {
    await client.end();
  }
}
