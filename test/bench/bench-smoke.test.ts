import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const execFileAsync = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Sizes that make every group run in seconds; the figures of such a run mean nothing. */
const SMOKE_ENV = {
  BENCH_SMOKE: '1',
  BENCH_CAPTURE_ROWS: '5000',
  BENCH_WRITE_ROWS: '200',
  BENCH_WRITE_ROUNDS: '1',
  BENCH_EXPLAIN_STATEMENTS: '50',
  BENCH_LATENCY_SECONDS: '2',
  BENCH_LAG_SECONDS: '1',
  BENCH_RESTORE_CHANGES: '40000',
  BENCH_RESTORE_ROUNDS: '1',
};

/** Figures each group must print (the issues' targets among them). */
const EXPECTED: Record<string, RegExp[]> = {
  format: [/v2 open/, /v2 seal/, /stored bytes/],
  capture: [
    /source writes, outbox installed/,
    /source writes, logical installed/,
    /source writes, outbox floor: empty outbox row/,
    /insert trigger per 10-row INSERT, outbox installed/,
    /replicator drain to folder store/,
    /replicator drain to folder store, outbox mode, .* inserted/,
    /replicator drain to folder store, outbox mode, .* updated/,
    /commit→stored latency .* p99/,
    /replicator peak RSS/,
  ],
  store: [/folder/, /vault/],
  restore: [/COPY .* \(baseline/, /restore .* into a fresh database/, /peak RSS/, /verify/],
};

// NOTE: this runs `npm run bench`'s entry point with tiny sizes and asserts only that every
// group finishes and prints its figures as numbers: a benchmark that stopped working (as the
// capture group once did, after install began creating the slot) fails here, not on the day
// someone needs the figures. It asserts no speed.
describe('npm run bench (smoke: tiny sizes)', () => {
  it('runs every group and prints each expected figure with a number', async () => {
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', 'bench/main.ts'], {
      cwd: ROOT,
      env: { ...process.env, ...SMOKE_ENV },
      maxBuffer: 16 * 1024 * 1024,
    });
    const rows = stdout
      .split('\n')
      .filter(
        (line) => line.startsWith('| ') && !line.startsWith('| group') && !line.startsWith('| ---'),
      )
      .map((line) => line.split('|').map((cell) => cell.trim()));
    for (const [group, figures] of Object.entries(EXPECTED)) {
      const ofGroup = rows.filter((cells) => cells[1] === group);
      for (const figure of figures) {
        const row = ofGroup.find((cells) => figure.test(cells[2] ?? ''));
        expect(row, `${group}: a figure matching ${figure}`).toBeDefined();
        const value = Number((row![3] ?? '').split(' ')[0]!.replaceAll(',', ''));
        expect(Number.isFinite(value), `${group}: ${row![2]} = ${row![3]}`).toBe(true);
      }
    }
  }, 300_000);
});
