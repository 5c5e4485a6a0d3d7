/** What health checks read from the running replicator. */
export interface HealthInput {
  /** Lifecycle of the replicator. */
  state: 'idle' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';
  /** Why the replicator failed, without row data. */
  error?: string;
  /** Since when every store attempt has failed; absent while the store works. */
  storeFailingSince?: Date;
  /** When the oldest store request still in flight started; absent while none is. */
  storePutInFlightSince?: Date;
  /** Since when the capture source reports being disconnected; absent while connected. */
  captureDisconnectedSince?: Date;
  /** Age in seconds of the oldest change received but not yet stored (0 when none waits). */
  unstoredSeconds: number;
}

export interface HealthThresholds {
  /** Seconds of continuous store failure, or of one store request in flight, before liveness fails. */
  storeStallS: number;
  /** Seconds of lost database connection before liveness fails. */
  captureStallS: number;
  /** Seconds a received change may wait unstored before readiness fails. */
  readyMaxLagS: number;
}

/** The verdict of one check, with the reasons when it fails (for the response body). */
export interface HealthVerdict {
  ok: boolean;
  reasons: string[];
}

/**
 * Liveness (`/healthz`): fails when the replicator has stopped with an error, when the store has
 * failed continuously for longer than `storeStallS` or one store request has been in flight
 * that long (a slow or hung store stores nothing either), or when the database has been
 * unreachable for longer than `captureStallS`. A restart may cure these; an orchestrator may
 * restart on it.
 *
 * @example
 * ```ts
 * checkLiveness(replicator.health(), { storeStallS: 60, captureStallS: 60, readyMaxLagS: 30 });
 * ```
 */
export function checkLiveness(
  input: HealthInput,
  thresholds: HealthThresholds,
  now: Date = new Date(),
): HealthVerdict {
  const reasons: string[] = [];
  if (input.state === 'failed') reasons.push(`replicator failed: ${input.error ?? 'unknown'}`);
  const storeDown = secondsSince(input.storeFailingSince, now);
  if (storeDown !== undefined && storeDown > thresholds.storeStallS) {
    reasons.push(`store failing for ${Math.round(storeDown)} s`);
  }
  const putAge = secondsSince(input.storePutInFlightSince, now);
  if (putAge !== undefined && putAge > thresholds.storeStallS) {
    reasons.push(`store request in flight for ${Math.round(putAge)} s`);
  }
  const captureDown = secondsSince(input.captureDisconnectedSince, now);
  if (captureDown !== undefined && captureDown > thresholds.captureStallS) {
    reasons.push(`database unreachable for ${Math.round(captureDown)} s`);
  }
  return { ok: reasons.length === 0, reasons };
}

/**
 * Readiness (`/readyz`): live, running, and no received change has waited unstored for more
 * than `readyMaxLagS` (false while a backlog drains after a start).
 *
 * @example
 * ```ts
 * const { ok } = checkReadiness(replicator.health(), thresholds);
 * ```
 */
export function checkReadiness(
  input: HealthInput,
  thresholds: HealthThresholds,
  now: Date = new Date(),
): HealthVerdict {
  const reasons = [...checkLiveness(input, thresholds, now).reasons];
  if (input.state !== 'running') reasons.push(`replicator is ${input.state}`);
  if (input.unstoredSeconds > thresholds.readyMaxLagS) {
    reasons.push(`oldest unstored change is ${Math.round(input.unstoredSeconds)} s old`);
  }
  return { ok: reasons.length === 0, reasons };
}

function secondsSince(since: Date | undefined, now: Date): number | undefined {
  return since === undefined ? undefined : (now.getTime() - since.getTime()) / 1000;
}
