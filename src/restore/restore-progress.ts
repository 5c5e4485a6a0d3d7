import type pg from 'pg';

/** Where a restore of one stream stands, committed with the changes it describes. */
export interface RestoreProgress {
  streamId: string;
  /** Last segment whose transactions are all applied (0 before the first). */
  sequence: number;
  /** Hash of that segment (hex), what the next segment's previous hash must equal. */
  segmentHash: string;
  /** Position of the last applied transaction; later ones with a position not above it are skipped. */
  position: string | undefined;
  /** Commit time of the last applied transaction. */
  commitTime: string | undefined;
}

/** The schema holding restore bookkeeping in the target database. */
export const PROGRESS_SCHEMA = 'crypto_replicator_restore';

const CREATE_SQL = `
  CREATE SCHEMA IF NOT EXISTS ${PROGRESS_SCHEMA};
  CREATE TABLE IF NOT EXISTS ${PROGRESS_SCHEMA}.progress (
    stream_id text PRIMARY KEY,
    sequence bigint NOT NULL,
    segment_hash text NOT NULL,
    position text,
    commit_time text,
    updated_at timestamptz NOT NULL DEFAULT now()
  )`;

/**
 * Create the progress table when missing.
 *
 * @example
 * ```ts
 * await ensureProgressTable(client);
 * ```
 */
export async function ensureProgressTable(client: pg.ClientBase): Promise<void> {
  await client.query(CREATE_SQL);
}

/**
 * The recorded progress of a stream, or `undefined` when this target never restored it.
 *
 * @example
 * ```ts
 * const progress = await readProgress(client, streamId);
 * const next = (progress?.sequence ?? 0) + 1;
 * ```
 */
export async function readProgress(
  client: pg.ClientBase,
  streamId: string,
): Promise<RestoreProgress | undefined> {
  const exists = await client.query<{ found: string | null }>(
    `SELECT to_regclass('${PROGRESS_SCHEMA}.progress')::text AS found`,
  );
  if (exists.rows[0]?.found === null) return undefined;
  const result = await client.query<{
    sequence: string;
    segment_hash: string;
    position: string | null;
    commit_time: string | null;
  }>(
    `SELECT sequence, segment_hash, position, commit_time FROM ${PROGRESS_SCHEMA}.progress WHERE stream_id = $1`,
    [streamId],
  );
  const row = result.rows[0];
  if (row === undefined) return undefined;
  return {
    streamId,
    sequence: Number(row.sequence),
    segmentHash: row.segment_hash,
    position: row.position ?? undefined,
    commitTime: row.commit_time ?? undefined,
  };
}

/**
 * Record progress inside the caller's transaction, so it commits with the changes.
 *
 * @example
 * ```ts
 * await writeProgress(client, progress);
 * await client.query('COMMIT');
 * ```
 */
export async function writeProgress(
  client: pg.ClientBase,
  progress: RestoreProgress,
): Promise<void> {
  await client.query(
    `INSERT INTO ${PROGRESS_SCHEMA}.progress (stream_id, sequence, segment_hash, position, commit_time)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (stream_id) DO UPDATE SET sequence = EXCLUDED.sequence,
       segment_hash = EXCLUDED.segment_hash, position = EXCLUDED.position,
       commit_time = EXCLUDED.commit_time, updated_at = now()`,
    [
      progress.streamId,
      progress.sequence,
      progress.segmentHash,
      progress.position ?? null,
      progress.commitTime ?? null,
    ],
  );
}
