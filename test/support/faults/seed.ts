/** Environment variable that replays a scenario: `FAULTS_SEED=1234 npm run test:faults`. */
export const SEED_ENV = 'FAULTS_SEED';

/** A seeded pseudo-random source: same seed, same choices, so a failing scenario replays. */
export interface Random {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** A whole number in [min, max]. */
  int(min: number, max: number): number;
  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T;
}

/**
 * Make the random source of one scenario. The seed comes from `FAULTS_SEED` when set, else it
 * is drawn at random; either way it is printed with the scenario's name, so that a failure in
 * CI can be replayed exactly on a desk (the workload timing still varies: the seed fixes the
 * choices, not the scheduler).
 *
 * @example
 * ```ts
 * const random = scenarioRandom('kill the replicator (logical)');
 * const delayMs = random.int(100, 900);
 * ```
 */
export function scenarioRandom(scenario: string): Random {
  const given = process.env[SEED_ENV];
  const seed =
    given !== undefined && given !== '' ? Number(given) >>> 0 : Math.floor(Math.random() * 2 ** 31);
  console.log(`[faults] ${scenario}: seed ${seed} (replay with ${SEED_ENV}=${seed})`);
  return seededRandom(seed);
}

/**
 * A deterministic random source (mulberry32) for a given seed.
 *
 * @example
 * ```ts
 * seededRandom(7).int(1, 6); // the same number on every run
 * ```
 */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed,
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)] as (typeof items)[number],
  };
}

/**
 * True when the long form was asked for (`npm run test:faults -- --long` sets
 * `FAULTS_LONG=1`): 50 kills instead of a few, a backlog of one million rows instead of a
 * smaller one.
 *
 * @example
 * ```ts
 * const kills = longForm() ? 50 : 3;
 * ```
 */
export function longForm(): boolean {
  return process.env.FAULTS_LONG === '1' || process.argv.includes('--long');
}
