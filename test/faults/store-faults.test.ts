import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadVerifyKey } from '../../src/keys/index.js';
import { verifyStore } from '../../src/restore/verify-store.js';
import { FileStore } from '../../src/store/file-store.js';
import { type RunningVault, startVault } from '../../src/vault/start-vault.js';
import { expectHeld, formatCheck } from '../support/faults/checker.js';
import { FAULT_KEYS } from '../support/faults/fault-keys.js';
import { formatPhase, runFault } from '../support/faults/fault-phase.js';
import {
  createRig,
  drainAndCheck,
  type FaultMode,
  type FaultRig,
} from '../support/faults/fault-rig.js';
import { FaultWorkload } from '../support/faults/fault-workload.js';
import { killAllReplicators } from '../support/faults/replicator-process.js';
import { longForm, scenarioRandom } from '../support/faults/seed.js';
import { startTcpProxy, type TcpProxy } from '../support/faults/tcp-proxy.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';

// Test-only tokens for a vault that lives for this file.
const WRITE = 'faults-write-token-0123456789abcdef';
const READ = 'faults-read-token-0123456789abcdef';

/** Modes run: logical and outbox in CI; notify (which may lose, see RELIABILITY) in the long form. */
const MODES: FaultMode[] = longForm() ? ['logical', 'outbox', 'notify'] : ['logical', 'outbox'];

describe('store faults: the vault erroring, down, slow, and cut in the middle of an object', () => {
  let server: TestPostgres;
  let vaultDir: string;
  let vault: RunningVault;
  let vaultPort: number;
  let proxy: TcpProxy;
  let rig: FaultRig;

  const startOurVault = async (port: number) =>
    startVault({ store: new FileStore(vaultDir), writeToken: WRITE, readToken: READ, port });

  beforeAll(async () => {
    server = await startPostgres();
    vaultDir = await mkdtemp(join(tmpdir(), 'cr-faults-vault-'));
    vault = await startOurVault(0);
    vaultPort = Number(new URL(vault.url).port);
    proxy = await startTcpProxy({ targetPort: vaultPort });
  });
  afterAll(async () => {
    await killAllReplicators();
    await proxy?.close();
    await vault?.close();
    await server?.destroy();
    await rig?.cleanup();
    if (vaultDir !== undefined) await rm(vaultDir, { recursive: true, force: true });
  });

  it.each(MODES)(
    'stores everything after 503s, a stopped vault, a slow link and cut uploads (%s)',
    async (mode) => {
      const random = scenarioRandom(`store faults (${mode})`);
      // A vault folder of its own for each mode, so the restore reads this mode's stream only.
      await rig?.cleanup();
      await vault.close();
      await rm(vaultDir, { recursive: true, force: true });
      vaultDir = await mkdtemp(join(tmpdir(), `cr-faults-vault-${mode}-`));
      vault = await startOurVault(vaultPort);
      rig = await createRig(server, mode, `store_${mode}`, {
        storeUrl: vault.url,
        token: WRITE,
        readToken: READ,
      });
      const replicator = await rig.start({ storeUrl: `http://127.0.0.1:${proxy.port}` });
      await replicator.waitReady();
      const workload = new FaultWorkload({ databaseUrl: rig.sourceUrl, random });
      workload.start();
      const phases = [];

      // The store answers every request with 503 Service Unavailable.
      await workload.waitForCommits(random.int(10, 50));
      phases.push(
        await runFault({
          rig,
          replicator,
          fault: 'store answers 503',
          begin: () => {
            proxy.setMode({ kind: 'http-error', status: 503 });
            proxy.cutAll();
          },
          end: () => proxy.setMode({ kind: 'pass' }),
        }),
      );

      // The vault process stopped: connections refused, then the vault started again.
      await workload.waitForCommits(random.int(10, 50));
      phases.push(
        await runFault({
          rig,
          replicator,
          fault: 'store down (vault stopped, connections refused)',
          // The long form keeps the store down for two minutes after health has reported it.
          holdMs: longForm() ? 120_000 : undefined,
          begin: async () => {
            await proxy.refuse();
            await vault.close();
          },
          end: async () => {
            vault = await startOurVault(vaultPort);
            await proxy.listen();
          },
        }),
      );

      // Every connection cut after a few hundred bytes: uploads fail in the middle of an object.
      await workload.waitForCommits(random.int(10, 50));
      const cutAfter = random.int(100, 1500);
      phases.push(
        await runFault({
          rig,
          replicator,
          fault: `store connection cut after ${cutAfter} bytes of each upload`,
          begin: () => {
            proxy.setMode({ kind: 'cut-after', bytes: cutAfter });
            proxy.cutAll();
          },
          end: () => proxy.setMode({ kind: 'pass' }),
        }),
      );

      // A slow store: every chunk held back 1.5 s, until /healthz reports a request in flight
      // for longer than the rig's --health-store-stall (1 s).
      await workload.waitForCommits(random.int(10, 50));
      phases.push(
        await runFault({
          rig,
          replicator,
          fault: 'store slow (1.5 s per chunk)',
          begin: () => proxy.setMode({ kind: 'delay', ms: 1500 }),
          end: () => proxy.setMode({ kind: 'pass' }),
        }),
      );

      // Drain, stop, restore from the vault and check; the vault holds no broken object.
      await workload.waitForCommits(20);
      const { result, exitCode } = await drainAndCheck(rig, workload, replicator);
      for (const phase of phases) console.log(formatPhase(mode, phase));
      console.log(formatCheck(`store faults (${mode})`, result));
      const verified = await verifyStore({
        store: new FileStore(vaultDir),
        verifyKey: await loadVerifyKey(FAULT_KEYS.signingPub),
      });

      expect(exitCode).toBe(0);
      for (const phase of phases) expect(phase.health.unhealthy).toBeGreaterThan(0);
      expect(phases[0]!.health.reasons.join()).toMatch(/store failing/);
      expect(phases[3]!.health.reasons.join()).toMatch(/store request in flight/);
      expect(verified.problems).toEqual([]);
      // notify promises nothing for changes made while it was not listening: reported above.
      if (mode === 'notify') return;
      expectHeld(result);
    },
    300_000,
  );
});
