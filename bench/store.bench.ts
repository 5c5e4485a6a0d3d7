import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { FileStore } from '../src/store/file-store.js';
import { HttpStore } from '../src/store/http-store.js';
import { S3Store } from '../src/store/s3-store.js';
import type { ObjectStore } from '../src/store/store.js';
import { startVault } from '../src/vault/start-vault.js';
import { radosgwInstalled, startRadosgw } from '../test/support/radosgw.js';
import type { BenchReport } from './report.js';
import { sized } from './smoke.js';

const GROUP = 'store';
/** Segment size for the throughput rows: a typical sealed segment. */
const SEGMENT_BYTES = 1024 * 1024;
const SEGMENTS = sized(48, 4);
/** Uploads in flight at once, as a replicator pipeline or a fleet of seed clients would send. */
const CONCURRENCY = 8;
const ENVELOPES = sized(1500, 200);
const BULK_SIZE = 100;
const SMALL_SEGMENT_BYTES = 16 * 1024;
const SMALL_SEGMENTS = sized(600, 20);
const WRITE_TOKEN = 'bench-only-write-token-0123456789abcdef';
const READ_TOKEN = 'bench-only-read-token-0123456789abcdef';

/**
 * `npm run bench -- store`: segments and MB/s stored through the folder, the vault (HTTP on
 * loopback over a folder) and S3 (a local radosgw, when installed), and the request rates the
 * vault sustains for v1 envelopes one POST per row, in bulk, and for segment uploads.
 */
export async function run(report: BenchReport): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'cr-bench-store-'));
  const cleanups: Array<() => Promise<void>> = [];
  try {
    const payloads = Array.from({ length: SEGMENTS }, () => randomBytes(SEGMENT_BYTES));

    // Baseline: the local folder.
    const folder = await segmentThroughput(new FileStore(join(root, 'folder')), payloads);
    addThroughput(report, 'folder', folder);

    // The vault over a folder, through the HTTPS client store (plain HTTP on loopback).
    const vault = await startVault({
      store: new FileStore(join(root, 'vault')),
      writeToken: WRITE_TOKEN,
      readToken: READ_TOKEN,
      port: 0,
      limits: { ratePerSecond: 1_000_000, burst: 1_000_000 },
    });
    cleanups.push(() => vault.close());
    const viaVault = await segmentThroughput(
      new HttpStore(new URL(vault.url), { token: WRITE_TOKEN }),
      payloads,
    );
    addThroughput(report, 'vault', viaVault, folder);

    // S3 through a real radosgw started here, when the packages are installed.
    if (radosgwInstalled()) {
      const rgw = await startRadosgw();
      cleanups.push(() => rgw.destroy());
      const credentials = { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey };
      const admin = new S3Client({
        endpoint: rgw.endpoint,
        region: rgw.region,
        forcePathStyle: true,
        credentials,
      });
      await admin.send(new CreateBucketCommand({ Bucket: 'bench' }));
      admin.destroy();
      const s3 = new S3Store({ bucket: 'bench', prefix: 'b', endpoint: rgw.endpoint, credentials });
      addThroughput(
        report,
        's3 (radosgw, memstore)',
        await segmentThroughput(s3, payloads),
        folder,
      );
    } else {
      report.add({ group: GROUP, name: 's3: skipped, radosgw not installed', value: 0, unit: '' });
    }

    // Request rates the vault sustains: the seed's one POST per row, bulk, and segments.
    const single = await envelopeRate(vault.url, 'single');
    report.add({
      group: GROUP,
      name: 'vault v1 envelopes, one POST per row',
      value: single,
      unit: 'envelopes/s',
    });
    const bulk = await envelopeRate(vault.url, 'bulk');
    report.add({
      group: GROUP,
      name: `vault v1 envelopes, bulk of ${BULK_SIZE}`,
      value: bulk,
      unit: 'envelopes/s',
      baseline: { name: 'one POST per row', value: single },
    });
    const small = await smallSegmentRate(vault.url);
    report.add({
      group: GROUP,
      name: `vault segment uploads (${SMALL_SEGMENT_BYTES / 1024} KiB)`,
      value: small,
      unit: 'requests/s',
      baseline: { name: 'one POST per row', value: single },
    });
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await rm(root, { recursive: true, force: true });
  }
}

interface Throughput {
  segmentsPerSecond: number;
  megabytesPerSecond: number;
}

async function segmentThroughput(store: ObjectStore, payloads: Buffer[]): Promise<Throughput> {
  const stream = randomBytes(16).toString('hex');
  const names = payloads.map(
    (_, i) => `streams/${stream}/segments/${String(i + 1).padStart(20, '0')}.seg`,
  );
  const started = process.hrtime.bigint();
  await inParallel(payloads.length, (i) => store.put(names[i]!, payloads[i]!));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await store.close();
  const bytes = payloads.reduce((sum, p) => sum + p.byteLength, 0);
  return {
    segmentsPerSecond: payloads.length / seconds,
    megabytesPerSecond: bytes / 1e6 / seconds,
  };
}

function addThroughput(report: BenchReport, name: string, t: Throughput, base?: Throughput): void {
  report.add({
    group: GROUP,
    name: `${name}: ${SEGMENT_BYTES / 1024 / 1024} MiB segments stored`,
    value: t.segmentsPerSecond,
    unit: 'segments/s',
    baseline: base && { name: 'folder', value: base.segmentsPerSecond },
  });
  report.add({
    group: GROUP,
    name: `${name}: throughput`,
    value: t.megabytesPerSecond,
    unit: 'MB/s',
    baseline: base && { name: 'folder', value: base.megabytesPerSecond },
  });
}

/** v1 envelopes per second, sent one per POST or in bulk requests. */
async function envelopeRate(url: string, mode: 'single' | 'bulk'): Promise<number> {
  const envelope = () => ({
    version: '1.0',
    timestamp: new Date().toISOString(),
    table: 'orders',
    operation: 'INSERT',
    encrypted_data: randomBytes(200).toString('base64'),
    encrypted_key: randomBytes(384).toString('base64'),
    iv: randomBytes(12).toString('base64'),
    tag: randomBytes(16).toString('base64'),
    key_id: 'ab'.repeat(16),
  });
  const headers = { authorization: `Bearer ${WRITE_TOKEN}`, 'content-type': 'application/json' };
  const prefix = `${mode}-${randomBytes(4).toString('hex')}`;
  const requests = mode === 'single' ? ENVELOPES : ENVELOPES / BULK_SIZE;
  const bodies = Array.from({ length: requests }, (_, r) =>
    mode === 'single'
      ? JSON.stringify(envelope())
      : JSON.stringify({
          items: Array.from({ length: BULK_SIZE }, (_, i) => ({
            id: `${prefix}-${r}-${i}`,
            envelope: envelope(),
          })),
        }),
  );

  const started = process.hrtime.bigint();
  await inParallel(requests, async (r) => {
    const response = await fetch(`${url}/envelopes${mode === 'bulk' ? '/bulk' : ''}`, {
      method: 'POST',
      headers: mode === 'single' ? { ...headers, 'idempotency-key': `${prefix}-${r}` } : headers,
      body: bodies[r],
    });
    if (response.status !== 201) throw new Error(`vault answered ${response.status}`);
    await response.arrayBuffer();
  });
  return ENVELOPES / (Number(process.hrtime.bigint() - started) / 1e9);
}

async function smallSegmentRate(url: string): Promise<number> {
  const store = new HttpStore(new URL(url), { token: WRITE_TOKEN });
  const payloads = Array.from({ length: SMALL_SEGMENTS }, () => randomBytes(SMALL_SEGMENT_BYTES));
  const result = await segmentThroughput(store, payloads);
  return result.segmentsPerSecond;
}

/** Run `count` tasks with at most {@link CONCURRENCY} in flight. */
async function inParallel(count: number, task: (index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next;
      next += 1;
      await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, worker));
}
