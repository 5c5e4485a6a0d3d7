/** What a health watch saw while it ran. */
export interface HealthObservations {
  probes: number;
  /** Answers with status 200. */
  healthy: number;
  /** Answers with another status (the endpoint reported trouble). */
  unhealthy: number;
  /** No answer at all (the process was down). */
  unanswered: number;
  /** Distinct reasons given by failing answers. */
  reasons: string[];
}

/**
 * Poll a replicator's `/healthz` (or `/readyz`) every `intervalMs` in the background and
 * record what it said, so a scenario can show that health reported a fault while it lasted.
 *
 * @example
 * ```ts
 * const watch = watchHealth(() => replicator.probe('/healthz'));
 * // ... fault ...
 * const seen = await watch.stop();
 * expect(seen.unhealthy).toBeGreaterThan(0);
 * ```
 */
export function watchHealth(
  probe: () => Promise<{ status: number; body: string } | undefined>,
  intervalMs = 200,
): { stop(): Promise<HealthObservations>; snapshot(): HealthObservations } {
  const seen: HealthObservations = {
    probes: 0,
    healthy: 0,
    unhealthy: 0,
    unanswered: 0,
    reasons: [],
  };
  let running = true;
  const loop = (async () => {
    while (running) {
      const answer = await probe();
      seen.probes += 1;
      if (answer === undefined) seen.unanswered += 1;
      else if (answer.status === 200) seen.healthy += 1;
      else {
        seen.unhealthy += 1;
        for (const reason of reasonsOf(answer.body)) {
          // Keep reasons distinct once the seconds are masked ("store failing for N s").
          const shape = reason.replace(/\d+/g, 'N');
          if (!seen.reasons.includes(shape)) seen.reasons.push(shape);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    snapshot: () => ({ ...seen, reasons: [...seen.reasons] }),
    async stop() {
      running = false;
      await loop;
      return seen;
    },
  };
}

function reasonsOf(body: string): string[] {
  try {
    const parsed = JSON.parse(body) as { reasons?: unknown };
    return Array.isArray(parsed.reasons) ? parsed.reasons.map(String) : [body.slice(0, 80)];
  } catch {
    return [body.slice(0, 80)];
  }
}
