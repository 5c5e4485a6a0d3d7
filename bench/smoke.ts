/**
 * `BENCH_SMOKE=1`: a run that only checks every figure is still produced (the bench smoke
 * test); its numbers mean nothing. Modules with fixed sizes shrink them with {@link sized}.
 */
export const SMOKE = process.env.BENCH_SMOKE === '1';

/**
 * The full size, or the small one in a smoke run.
 *
 * @example
 * ```ts
 * const ROUNDS = sized(7, 1);
 * ```
 */
export function sized(full: number, smoke: number): number {
  return SMOKE ? smoke : full;
}
