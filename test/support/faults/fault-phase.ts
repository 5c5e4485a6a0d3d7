import { waitFor } from '../wait-for.js';
import type { FaultRig } from './fault-rig.js';
import { timeToCatchUp } from './fault-rig.js';
import { type HealthObservations, watchHealth } from './health-watch.js';
import type { ReplicatorProcess } from './replicator-process.js';

/** What one fault did to a running replicator. */
export interface PhaseResult {
  fault: string;
  /** Milliseconds the fault lasted. */
  faultMs: number;
  /** What /healthz said while the fault lasted. */
  health: HealthObservations;
  /** Milliseconds from the fault's end until the source's end was stored and acknowledged. */
  catchUpMs?: number;
}

/**
 * Run one fault against a running replicator: `begin` injects it; the fault lasts until
 * `/healthz` has reported it (or `holdMs` for faults that need not make it unhealthy, such as
 * a slow store), then `end` removes it; the phase waits for the replicator to be healthy again
 * and measures the time to catch up.
 *
 * @example
 * ```ts
 * const phase = await runFault({ rig, replicator, fault: 'source crash',
 *   begin: () => server.crash(), end: () => server.start() });
 * expect(phase.health.unhealthy).toBeGreaterThan(0);
 * ```
 */
export async function runFault(options: {
  rig: FaultRig;
  replicator: ReplicatorProcess;
  fault: string;
  begin: () => Promise<void> | void;
  end: () => Promise<void> | void;
  /** Keep the fault this long instead of until /healthz fails. */
  holdMs?: number;
  /** How long /healthz may take to report the fault (default 30 s). */
  reportTimeoutMs?: number;
}): Promise<PhaseResult> {
  const { rig, replicator } = options;
  const watch = watchHealth(() => replicator.probe('/healthz'), 150);
  const started = Date.now();
  await options.begin();

  // The fault lasts until health reported it (with a deadline), or for a fixed time.
  try {
    if (options.holdMs !== undefined) {
      const until = Date.now() + options.holdMs;
      await waitFor(() => Date.now() >= until, { timeoutMs: options.holdMs + 5000 });
    } else {
      await waitFor(() => watch.snapshot().unhealthy > 0, {
        timeoutMs: options.reportTimeoutMs ?? 30_000,
        what: `/healthz to report "${options.fault}"`,
      });
    }
  } finally {
    await options.end();
  }
  const faultMs = Date.now() - started;

  // Healthy again, and everything written before now stored.
  await waitFor(async () => (await replicator.probe('/healthz'))?.status === 200, {
    timeoutMs: 60_000,
    what: `/healthz to recover after "${options.fault}"`,
  });
  const health = await watch.stop();
  const catchUpMs = rig.mode === 'notify' ? undefined : await timeToCatchUp(rig);
  return { fault: options.fault, faultMs, health, catchUpMs };
}

/**
 * One line per phase for the test log and docs/RELIABILITY.md.
 *
 * @example
 * ```ts
 * console.log(formatPhase('logical', phase));
 * ```
 */
export function formatPhase(mode: string, phase: PhaseResult): string {
  const h = phase.health;
  return (
    `[faults] ${phase.fault} (${mode}): lasted ${phase.faultMs} ms; /healthz ${h.unhealthy} of ` +
    `${h.probes} probes failing (${h.reasons.join('; ') || 'no reason given'}); catch-up ` +
    `${phase.catchUpMs === undefined ? 'n/a' : `${phase.catchUpMs} ms`}`
  );
}
