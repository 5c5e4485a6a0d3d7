import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadVerifyKey } from '../../src/keys/index.js';
import { verifyStore } from '../../src/restore/verify-store.js';
import { FileStore } from '../../src/store/file-store.js';
import { expectHeld, formatCheck } from '../support/faults/checker.js';
import { FAULT_KEYS } from '../support/faults/fault-keys.js';
import { createRig, drainAndCheck, type FaultRig } from '../support/faults/fault-rig.js';
import { FaultWorkload } from '../support/faults/fault-workload.js';
import { killAllReplicators, tail } from '../support/faults/replicator-process.js';
import { scenarioRandom } from '../support/faults/seed.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';

describe('two replicators started by mistake against the same state folder or slot', () => {
  let server: TestPostgres;
  const rigs: FaultRig[] = [];

  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await killAllReplicators();
    await server?.destroy();
    for (const rig of rigs) await rig.cleanup();
  });

  it.each(['logical', 'outbox'] as const)(
    'refuses a second replicator (%s) on the same state folder or the same source, keeping the stream intact',
    async (mode) => {
      const random = scenarioRandom(`double start (${mode})`);
      const rig = await createRig(server, mode, `double_${mode}`);
      rigs.push(rig);
      const first = await rig.start();
      await first.waitReady();
      const workload = new FaultWorkload({ databaseUrl: rig.sourceUrl, random });
      workload.start();
      await workload.waitForCommits(random.int(5, 30));

      // The same state folder: the lock refuses the second one.
      const sameState = await rig.start();
      const sameStateCode = await sameState.exited;
      console.log(
        `[faults] second replicator, same state folder (${mode}): exit ${sameStateCode}: ` +
          tail(sameState.output(), 2),
      );

      // Another state folder, the same slot or outbox (and the same store): refused too.
      const sameSource = await rig.start({ stateDir: join(rig.work, 'state-2') });
      const sameSourceCode = await Promise.race([
        sameSource.exited,
        new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 30_000)),
      ]);
      console.log(
        `[faults] second replicator, same ${mode === 'logical' ? 'slot' : 'outbox'} (${mode}): ` +
          `exit ${sameSourceCode}: ${tail(sameSource.output(), 2)}`,
      );
      sameSource.kill('SIGKILL');

      // The first one carried on: nothing lost, and the store holds one intact stream.
      await workload.waitForCommits(20);
      const { result, exitCode } = await drainAndCheck(rig, workload, first);
      console.log(formatCheck(`double start (${mode})`, result));
      const verified = await verifyStore({
        store: new FileStore(rig.storeUrl),
        verifyKey: await loadVerifyKey(FAULT_KEYS.signingPub),
      });

      expect(sameStateCode).not.toBe(0);
      expect(sameState.output()).toMatch(/another replicator/);
      expect(exitCode).toBe(0);
      expect(verified.problems).toEqual([]);
      expect(verified.streams).toHaveLength(1);
      expectHeld(result);
      // Refusing means exiting with an error, not waiting for the slot or outbox to be free.
      expect(sameSourceCode).not.toBe('still running');
      expect(sameSourceCode).not.toBe(0);
    },
    240_000,
  );
});
