import { UsageError } from '../errors.js';
import { RUN_SETTINGS, type RunSettings } from './run-settings.js';
import type { Setting } from './setting.js';

/** Where a value came from, for error messages. */
type Source = { kind: 'flag'; name: string } | { kind: 'env'; name: string };

/**
 * Resolve a table of settings: a flag given on the command line wins, then its environment
 * variable, then its default. Every value passes its schema; the first that does not, or a
 * missing required one, throws a UsageError naming the flag or variable and what was expected.
 *
 * @example
 * ```ts
 * const values = resolveSettings(RUN_SETTINGS, { flushIntervalMs: '100' }, process.env);
 * values.flushIntervalMs; // => 100
 * ```
 */
export function resolveSettings(
  settings: Setting[],
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): Record<string, unknown> {
  const resolved: Record<string, unknown> = {};
  for (const definition of settings) {
    // Flag first, then environment, then default.
    let raw: unknown;
    let source: Source | undefined;
    const flagValue = flags[definition.key];
    const envValue = definition.env === undefined ? undefined : env[definition.env];
    if (flagValue !== undefined && definition.flag !== undefined) {
      raw = flagValue;
      source = { kind: 'flag', name: definition.flag };
    } else if (envValue !== undefined && envValue !== '' && definition.env !== undefined) {
      raw = definition.repeatable ? [envValue] : envValue;
      source = { kind: 'env', name: definition.env };
    }

    // Nothing given: the default, or a refusal when the setting is required.
    if (source === undefined) {
      if (definition.required) throw missing(definition);
      if (definition.defaultValue !== undefined) resolved[definition.key] = definition.defaultValue;
      continue;
    }

    // Given: it must pass the schema.
    const parsed = definition.schema.safeParse(raw);
    if (!parsed.success) throw invalid(definition, source, raw);
    resolved[definition.key] = parsed.data;
  }
  return resolved;
}

/**
 * Resolve the settings of `crypto-replicator run`, applying the seed's `DEBUG=true` (debug logs
 * unless a log level is given explicitly).
 *
 * @example
 * ```ts
 * const settings = resolveRunSettings({ mode: 'logical' }, process.env);
 * ```
 */
export function resolveRunSettings(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): RunSettings {
  const values = resolveSettings(RUN_SETTINGS, flags, env) as unknown as RunSettings;
  const levelGiven = flags.logLevel !== undefined || (env.LOG_LEVEL ?? '') !== '';
  if (!levelGiven && /^(1|true|yes)$/i.test(env.DEBUG ?? '')) values.logLevel = 'debug';
  values.recipients ??= [];
  if (values.recipients.length === 0 && values.recipientsFile === undefined) {
    throw new UsageError('missing recipient: refusing to seal for nobody', {
      hint: 'pass --recipient PUB.pem (or RSA_PUBLIC_KEY_PATH) or --recipients-file FILE; make a pair with "crypto-replicator keygen"',
    });
  }
  return values;
}

function missing(definition: Setting): UsageError {
  const names = [definition.flag, definition.env].filter((n) => n !== undefined);
  return new UsageError(`missing ${names[0]}: expected ${definition.expected}`, {
    hint: `pass ${names.join(' or set ')}`,
  });
}

function invalid(definition: Setting, source: Source, raw: unknown): UsageError {
  const text = Array.isArray(raw) ? String(raw.at(-1)) : String(raw);
  const shown = definition.secret ? '' : ` ${JSON.stringify(text)}`;
  const other =
    source.kind === 'flag'
      ? definition.env === undefined
        ? ''
        : ` (or ${definition.env})`
      : definition.flag === undefined
        ? ''
        : ` (or ${definition.flag})`;
  return new UsageError(`invalid ${source.name}${shown}: expected ${definition.expected}`, {
    hint: `fix ${source.name}${other}`,
  });
}
