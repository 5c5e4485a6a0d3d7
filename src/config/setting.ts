import type { z } from 'zod';

/**
 * One setting of a command: its flag, its environment variable, its default, and the zod schema
 * its text value must pass. The same table registers the CLI flags, resolves values, and is what
 * the README's Configuration section lists.
 */
export interface Setting<T = unknown> {
  /** Property name in the resolved settings object, e.g. `flushIntervalMs`. */
  key: string;
  /** Flag as typed, e.g. `--flush-interval`; absent for secrets read from the environment only. */
  flag?: string;
  /** Value placeholder in help text, e.g. `MS`; absent for switches. */
  placeholder?: string;
  /** Environment variable read when the flag is absent (the seed's names where they exist). */
  env?: string;
  /** Value used when neither flag nor variable is given; absent means "not set". */
  defaultValue?: T;
  /** Refuse to start when no value is given. */
  required?: boolean;
  /** The flag may be given several times (values collected in order). */
  repeatable?: boolean;
  /** Parses and checks the text value; its failure message is not shown, `expected` is. */
  schema: z.ZodType<T>;
  /** What a valid value looks like, for the error message: `expected ${expected}`. */
  expected: string;
  /** One line of help. */
  description: string;
  /** Never print the value (tokens, URLs with passwords). */
  secret?: boolean;
}

/**
 * Declare a setting with its value type inferred from the schema.
 *
 * @example
 * ```ts
 * const port = setting({ key: 'metricsPort', flag: '--metrics-port', placeholder: 'N',
 *   schema: z.coerce.number().int().min(0).max(65535), expected: 'a port number 0-65535',
 *   description: 'serve /metrics, /healthz and /readyz on this port' });
 * ```
 */
export function setting<T>(definition: Setting<T>): Setting<T> {
  return definition;
}
