import { describe, expect, it } from 'vitest';
import { checkLiveness, checkReadiness, type HealthInput } from '../../src/observability/health.js';
import { ReplicatorMetrics } from '../../src/observability/metrics.js';
import { startObservabilityServer } from '../../src/observability/observability-server.js';

const THRESHOLDS = { storeStallS: 60, captureStallS: 60, readyMaxLagS: 30 };
const NOW = new Date('2026-12-03T17:00:00Z');
const ago = (seconds: number) => new Date(NOW.getTime() - seconds * 1000);
const RUNNING: HealthInput = { state: 'running', unstoredSeconds: 0 };

describe('health checks', () => {
  it('are live and ready while running and caught up', () => {
    expect(checkLiveness(RUNNING, THRESHOLDS, NOW).ok).toBe(true);
    expect(checkReadiness(RUNNING, THRESHOLDS, NOW).ok).toBe(true);
  });

  it('stay live through a short store outage and fail once it outlasts the threshold', () => {
    expect(checkLiveness({ ...RUNNING, storeFailingSince: ago(59) }, THRESHOLDS, NOW).ok).toBe(
      true,
    );
    const verdict = checkLiveness({ ...RUNNING, storeFailingSince: ago(61) }, THRESHOLDS, NOW);
    expect(verdict).toEqual({ ok: false, reasons: ['store failing for 61 s'] });
  });

  it('fail when one store request has been in flight beyond the threshold (a slow store)', () => {
    const slow = { ...RUNNING, storePutInFlightSince: ago(59) };
    expect(checkLiveness(slow, THRESHOLDS, NOW).ok).toBe(true);
    const verdict = checkLiveness({ ...RUNNING, storePutInFlightSince: ago(75) }, THRESHOLDS, NOW);
    expect(verdict).toEqual({ ok: false, reasons: ['store request in flight for 75 s'] });
  });

  it('fail when the database has been unreachable beyond the threshold', () => {
    const verdict = checkLiveness(
      { ...RUNNING, captureDisconnectedSince: ago(90) },
      THRESHOLDS,
      NOW,
    );
    expect(verdict.reasons).toEqual(['database unreachable for 90 s']);
  });

  it('report not ready while a backlog older than the lag limit drains', () => {
    const verdict = checkReadiness({ ...RUNNING, unstoredSeconds: 45 }, THRESHOLDS, NOW);
    expect(verdict.ok).toBe(false);
    expect(checkLiveness({ ...RUNNING, unstoredSeconds: 45 }, THRESHOLDS, NOW).ok).toBe(true);
  });

  it('report not ready before the replicator runs and not live once it failed', () => {
    expect(checkReadiness({ ...RUNNING, state: 'starting' }, THRESHOLDS, NOW).ok).toBe(false);
    expect(
      checkLiveness({ ...RUNNING, state: 'failed', error: 'slot lost' }, THRESHOLDS, NOW).ok,
    ).toBe(false);
  });
});

describe('metrics and health server', () => {
  it('serves the named metrics and answers health probes with 200 or 503', async () => {
    const metrics = new ReplicatorMetrics();
    metrics.bind(() => ({
      mode: 'logical',
      source: { connected: true, lagSeconds: 1.5, backlog: 4096 },
      lastStoredSequence: 42,
      lastAcknowledgedPosition: '0/16B3748',
      pendingTransactions: 3,
      storePutInFlightSince: new Date(Date.now() - 30_000),
    }));
    metrics.segmentsStored.inc(2);
    let health: HealthInput = RUNNING;
    const server = await startObservabilityServer({
      port: 0,
      host: '127.0.0.1',
      metrics,
      health: () => health,
      thresholds: THRESHOLDS,
    });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const text = await (await fetch(`${base}/metrics`)).text();
      expect(text).toContain('crypto_replicator_segments_stored_total 2');
      expect(text).toContain('crypto_replicator_last_stored_sequence 42');
      expect(text).toContain('crypto_replicator_last_acknowledged_position 23803720');
      expect(text).toContain('crypto_replicator_lag_bytes 4096');
      expect(text).toContain('crypto_replicator_lag_seconds 1.5');
      const requestAge = /^crypto_replicator_store_request_age_seconds (\S+)$/m.exec(text)?.[1];
      expect(Number(requestAge)).toBeGreaterThanOrEqual(30);
      for (const name of ['changes_captured_total', 'store_errors_total', 'store_retries_total']) {
        expect(text).toContain(`crypto_replicator_${name}`);
      }

      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      health = { ...RUNNING, state: 'failed', error: 'slot lost' };
      const failed = await fetch(`${base}/healthz`);
      expect(failed.status).toBe(503);
      expect(await failed.json()).toEqual({
        status: 'fail',
        reasons: ['replicator failed: slot lost'],
      });
      expect((await fetch(`${base}/readyz`)).status).toBe(503);
      expect((await fetch(`${base}/other`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
