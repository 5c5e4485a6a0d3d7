import { join } from 'node:path';
import type { CaptureSource, CaptureStatus } from '../src/capture/capture-source.js';
import type { ChangeRecord, Transaction } from '../src/change/change.js';
import type { Recipient } from '../src/keys/index.js';
import { ReplicatorMetrics } from '../src/observability/metrics.js';
import { Replicator } from '../src/pipeline/replicator.js';
import { FileStore } from '../src/store/file-store.js';

/** Rows per synthetic transaction, as in the backlog the capture benchmark writes. */
const ROWS_PER_TRANSACTION = 10_000;

/**
 * A capture source that makes transactions in memory, shaped like the benchmark's rows. It lets
 * the benchmark measure the pipeline alone (batch, seal, store, checkpoint, state), without
 * PostgreSQL or pgoutput decoding, to tell the two costs apart.
 */
function syntheticSource(rows: number): CaptureSource {
  let stopped = false;
  return {
    mode: 'logical',
    async start() {},
    async *transactions() {
      for (let t = 0; t * ROWS_PER_TRANSACTION < rows && !stopped; t++) {
        const records: ChangeRecord[] = [];
        for (let i = 0; i < ROWS_PER_TRANSACTION; i++) {
          const id = String(t * ROWS_PER_TRANSACTION + i);
          records.push({
            kind: 'change',
            table: { schema: 'public', name: 'bench' },
            op: 'INSERT',
            new: {
              id,
              payload: `${id.padStart(32, 'f')} payload`,
              n: '7',
              at: '2026-12-03 17:00:00+00',
            },
          });
        }
        const tx: Transaction = {
          xid: String(t),
          commitTime: new Date().toISOString(),
          position: String(t + 1),
          records,
        };
        yield tx;
      }
      // Like a real source: the stream stays open until stopped.
      while (!stopped) await new Promise((resolve) => setTimeout(resolve, 50));
    },
    async acknowledge() {},
    async stop() {
      stopped = true;
    },
    status(): CaptureStatus {
      return { connected: true };
    },
  };
}

/**
 * Rows per second the pipeline stores when changes cost nothing to capture.
 *
 * @example
 * ```ts
 * const rate = await pipelineCeiling({ rows: 300_000, recipient, work });
 * ```
 */
export async function pipelineCeiling(options: {
  rows: number;
  recipient: Recipient;
  work: string;
}): Promise<number> {
  const metrics = new ReplicatorMetrics();
  const replicator = new Replicator({
    source: syntheticSource(options.rows),
    store: new FileStore(join(options.work, 'store-ceiling')),
    recipients: [options.recipient],
    stateDir: join(options.work, 'state-ceiling'),
    metrics,
  });
  const started = performance.now();
  await replicator.start();
  for (;;) {
    const stored = (await metrics.changesStored.get()).values[0]?.value ?? 0;
    if (stored >= options.rows) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const rate = options.rows / ((performance.now() - started) / 1000);
  await replicator.stop();
  return rate;
}
