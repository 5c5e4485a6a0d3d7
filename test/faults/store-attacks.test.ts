import { mkdtemp, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadIdentity,
  loadRecipient,
  loadSigningKey,
  loadVerifyKey,
} from '../../src/keys/index.js';
import { restore } from '../../src/restore/restore.js';
import { verifyStore } from '../../src/restore/verify-store.js';
import { checkpointName, sealSegment, segmentHash } from '../../src/segment/index.js';
import { FileStore } from '../../src/store/file-store.js';
import { type CliResult, runCli } from '../support/cli.js';
import { FAULT_KEYS } from '../support/faults/fault-keys.js';
import { createRig, drainAndCheck, type FaultRig } from '../support/faults/fault-rig.js';
import { FaultWorkload } from '../support/faults/fault-workload.js';
import { killAllReplicators } from '../support/faults/replicator-process.js';
import { scenarioRandom } from '../support/faults/seed.js';
import { copyStore, flipBit, segmentRegions } from '../support/faults/store-tamper.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';

/**
 * Attacks on stores written by the real replicator (CLI child process) from a real workload,
 * detected through the real `verify` and `restore` commands. test/restore/attacks.test.ts
 * covers the same attacks on small hand-made streams with the library; these check that what
 * the replicator really writes (many segments, checkpoints, split transactions) holds up.
 */
describe('attacks on a store written by the real replicator', { timeout: 180_000 }, () => {
  let server: TestPostgres;
  let rig: FaultRig;
  let other: FaultRig;
  let root: string;
  let targets = 0;

  // Two real stores: the one attacked, and another stream to splice from.
  beforeAll(async () => {
    server = await startPostgres();
    root = await mkdtemp(join(tmpdir(), 'cr-faults-attacks-'));
    const random = scenarioRandom('attacked store');
    for (const name of ['attacked', 'other']) {
      const r = await createRig(server, 'logical', `attack_${name}`);
      const replicator = await r.start({ args: ['--max-segment-bytes', '4096'] });
      await replicator.waitReady();
      const workload = new FaultWorkload({ databaseUrl: r.sourceUrl, random, largeRowEvery: 0 });
      workload.start();
      await workload.waitForCommits(name === 'attacked' ? 60 : 10);
      const { result } = await drainAndCheck(r, workload, replicator);
      expect(result.lost).toBe(0);
      if (name === 'attacked') rig = r;
      else other = r;
    }
  }, 240_000);
  afterAll(async () => {
    await killAllReplicators();
    await server?.destroy();
    await rig?.cleanup();
    await other?.cleanup();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  const attacked = () => copyStore(rig.storeUrl, root);
  const verifyCli = (dir: string, extra: string[] = []) =>
    runCli(['verify', '--store', dir, '--verify-key', FAULT_KEYS.signingPub, ...extra]);
  const restoreCli = async (dir: string, extra: string[] = []) => {
    const url = await server.createDatabase(`attack_target_${++targets}`);
    const result = await runCli([
      'restore',
      '--store',
      dir,
      '--identity',
      FAULT_KEYS.recoveryPem,
      '--verify-key',
      FAULT_KEYS.signingPub,
      '--to',
      url,
      ...extra,
    ]);
    return { ...result, url, database: `attack_target_${targets}` };
  };
  const rowsIn = async (database: string) =>
    Number(
      (
        await server
          .query<{ n: string }>('SELECT count(*) AS n FROM fault_events', [], database)
          .catch(() => [{ n: '0' }])
      )[0]!.n,
    );

  /** A refusal: non-zero exit, one `error:` line naming `object`, a hint, no stack trace. */
  function expectRefusal(result: CliResult, object: string | RegExp): void {
    expect(result.code, result.stdout + result.stderr).not.toBe(0);
    const all = result.stdout + result.stderr;
    expect(all).toMatch(object);
    expect(result.stderr).toMatch(/^error: /m);
    expect(result.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  }

  it('restores the intact store through the CLI and verify finds it intact', async () => {
    const copy = await attacked();
    const [checked, restored] = await Promise.all([verifyCli(copy.dir), restoreCli(copy.dir)]);
    expect(checked.code, checked.stdout + checked.stderr).toBe(0);
    expect(restored.code, restored.stderr).toBe(0);
    expect(await rowsIn(restored.database)).toBeGreaterThan(0);
    expect((await copy.sequences()).length).toBeGreaterThanOrEqual(6);
  });

  it('deleted segment: verify reports the gap, restore refuses at it', async () => {
    const copy = await attacked();
    const middle = (await copy.sequences())[3]!;
    await unlink(copy.segment(middle));
    const name = String(middle).padStart(20, '0');
    const [verified, restored] = await Promise.all([verifyCli(copy.dir), restoreCli(copy.dir)]);
    expectRefusal(verified, new RegExp(name));
    expectRefusal(restored, /gap|missing|segment/);
  });

  it('reordered segments (two swapped): both named by verify, restore refuses', async () => {
    const copy = await attacked();
    const [a, b] = [(await copy.sequences())[2]!, (await copy.sequences())[4]!];
    await rename(copy.segment(a), join(copy.dir, 'tmp'));
    await rename(copy.segment(b), copy.segment(a));
    await rename(join(copy.dir, 'tmp'), copy.segment(b));
    const [verified, restored] = await Promise.all([verifyCli(copy.dir), restoreCli(copy.dir)]);
    expectRefusal(verified, new RegExp(String(a).padStart(20, '0')));
    expect(verified.stdout + verified.stderr).toMatch(new RegExp(String(b).padStart(20, '0')));
    expectRefusal(restored, new RegExp(String(a).padStart(20, '0')));
  });

  it('duplicated segment with changed content at the next sequence: unauthentic, refused', async () => {
    const copy = await attacked();
    const sequences = await copy.sequences();
    const next = sequences.at(-1)! + 1;
    const bytes = await readFile(copy.segment(sequences[1]!));
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 100) ^ 0x01, bytes.length - 100);
    await writeFile(copy.segment(next), bytes);
    const name = String(next).padStart(20, '0');
    const [verified, restored] = await Promise.all([verifyCli(copy.dir), restoreCli(copy.dir)]);
    expectRefusal(verified, new RegExp(name));
    expectRefusal(restored, new RegExp(name));
  });

  it('duplicated segment replayed unchanged under another sequence: misplaced, refused', async () => {
    const copy = await attacked();
    const sequences = await copy.sequences();
    const next = sequences.at(-1)! + 1;
    await writeFile(copy.segment(next), await readFile(copy.segment(sequences[1]!)));
    const name = String(next).padStart(20, '0');
    const [verified, restored] = await Promise.all([verifyCli(copy.dir), restoreCli(copy.dir)]);
    expectRefusal(verified, new RegExp(name));
    expectRefusal(restored, new RegExp(name));
  });

  it('flipped bit in every region of a segment: each caught by verify and by restore', async () => {
    const copy = await attacked();
    const sequences = await copy.sequences();
    const sample = await readFile(copy.segment(2));
    const regions = segmentRegions(sample);
    const verifyKey = await loadVerifyKey(FAULT_KEYS.signingPub);
    const identity = await loadIdentity(FAULT_KEYS.recoveryPem, {});

    // One region per copy, through the library (21 CLI runs would take minutes), on a copy cut
    // down to the first two segments so that each check reads little.
    const missed: string[] = [];
    const small = await attacked();
    for (const sequence of (await small.sequences()).filter((s) => s > 2)) {
      await rm(small.segment(sequence));
    }
    for (const sequence of await small.checkpoints()) {
      await rm(join(small.dir, checkpointName(small.streamId, sequence)));
    }
    for (const { region, offset } of regions) {
      const one = await copyStore(small.dir, root);
      await flipBit(one.segment(2), offset, 3);
      const store = new FileStore(one.dir);
      const verified = await verifyStore({ store, verifyKey });
      const restored = await restore({ store, identities: [identity], verifyKey, dryRun: true })
        .then(() => 'accepted')
        .catch((error: Error) => error.message);
      if (verified.intact) missed.push(`verify missed ${region}`);
      if (restored === 'accepted') missed.push(`restore missed ${region}`);
      await rm(one.dir, { recursive: true, force: true });
    }
    expect(missed).toEqual([]);

    // And through the CLI: a flipped bit in every region at once, one region per segment.
    const flipped: string[] = [];
    for (const [index, { offset }] of regions.entries()) {
      const sequence = sequences[index % sequences.length]!;
      const bytes = await readFile(copy.segment(sequence));
      if (offset >= bytes.length) continue;
      await flipBit(copy.segment(sequence), Math.min(offset, bytes.length - 1), index % 8);
      flipped.push(String(sequence).padStart(20, '0'));
    }
    const [verified, restored] = await Promise.all([
      verifyCli(copy.dir, ['--json']),
      restoreCli(copy.dir),
    ]);
    expect(verified.code).not.toBe(0);
    for (const name of flipped) expect(verified.stdout).toContain(name);
    expectRefusal(restored, /segments\/\d{20}\.seg/);
  });

  it('segment replaced by one sealed for the same recipient by someone without the signing key: refused, nothing invented', async () => {
    const copy = await attacked();
    const sequences = await copy.sequences();
    const target = sequences[2]!;
    const previous = await readFile(copy.segment(target - 1));
    const forged = sealSegment({
      streamId: copy.streamId,
      sequence: target,
      previousHash: segmentHash(previous),
      transactions: [
        {
          xid: '1',
          commitTime: new Date().toISOString(),
          position: 'FFFFFFFF/FFFFFF00',
          records: [
            {
              kind: 'change',
              table: { schema: 'public', name: 'fault_events' },
              op: 'INSERT',
              new: {
                seq: '999999999',
                row_id: '999999999',
                writer: '7',
                payload: 'forged',
                at: '2026-01-01 00:00:00+00',
              },
            },
          ],
        },
      ],
      recipients: [await loadRecipient(FAULT_KEYS.recoveryPub)],
      signingKey: await loadSigningKey(FAULT_KEYS.otherSigningPem),
    });
    await writeFile(copy.segment(target), forged.bytes);
    const name = String(target).padStart(20, '0');
    const [verified, restored] = await Promise.all([verifyCli(copy.dir), restoreCli(copy.dir)]);
    expectRefusal(verified, new RegExp(name));
    expectRefusal(restored, new RegExp(name));
    const invented = await server
      .query('SELECT 1 FROM fault_events WHERE row_id = 999999999', [], restored.database)
      .catch(() => []);
    expect(invented).toEqual([]);
  });

  it('segment spliced in from another stream: misplaced, refused', async () => {
    const copy = await attacked();
    const donor = await copyStore(other.storeUrl, root);
    const target = (await copy.sequences())[2]!;
    await writeFile(copy.segment(target), await readFile(donor.segment(target, donor.streamId)));
    const name = String(target).padStart(20, '0');
    const [verified, restored] = await Promise.all([verifyCli(copy.dir), restoreCli(copy.dir)]);
    expectRefusal(verified, new RegExp(name));
    expectRefusal(restored, new RegExp(name));
  });

  it('truncated tail (newest segments removed, checkpoints kept): the stream ends early, refused', async () => {
    const copy = await attacked();
    const sequences = await copy.sequences();
    for (const sequence of sequences.slice(-2)) await unlink(copy.segment(sequence));
    const [verified, restored] = await Promise.all([verifyCli(copy.dir), restoreCli(copy.dir)]);
    expectRefusal(verified, /truncat|ends|checkpoint/i);
    expectRefusal(restored, /truncat|ends|checkpoint/i);
  });

  it('whole store rolled back to an earlier state: detected by verify given the head of an earlier drill report', async () => {
    // A drill on the intact store records its head.
    const intact = await attacked();
    const report = join(root, 'drill.json');
    const drill = await restoreCli(intact.dir, ['--report', report]);
    expect(drill.code, drill.stderr).toBe(0);

    // The attacker rolls everything back: newest segments and checkpoints gone, consistently.
    const copy = await attacked();
    const sequences = await copy.sequences();
    const keep = sequences[sequences.length - 3]!;
    for (const sequence of sequences.filter((s) => s > keep)) await unlink(copy.segment(sequence));
    for (const sequence of (await copy.checkpoints()).filter((s) => s > keep)) {
      await unlink(join(copy.dir, checkpointName(copy.streamId, sequence)));
    }

    // Without the earlier head the rolled-back store looks intact (the limit of the promise).
    expect((await verifyCli(copy.dir)).code).toBe(0);
    expectRefusal(
      await verifyCli(copy.dir, ['--expect-from-report', report]),
      /rollback|behind|head/i,
    );
  });
});
