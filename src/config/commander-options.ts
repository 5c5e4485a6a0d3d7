import { type Command, Option } from 'commander';
import type { Setting } from './setting.js';

/**
 * Register a table of settings as options of a commander command: one option per flag, help
 * text naming the environment variable and the default. Commander applies no defaults itself;
 * {@link givenFlags} then reads only what was typed, and `resolveSettings` does the rest.
 *
 * @example
 * ```ts
 * const command = addSettingOptions(new Command('run'), RUN_SETTINGS);
 * ```
 */
export function addSettingOptions(command: Command, settings: readonly Setting[]): Command {
  for (const definition of settings) {
    if (definition.flag === undefined) continue;
    const flags =
      definition.placeholder === undefined
        ? definition.flag
        : `${definition.flag} <${definition.placeholder}>`;
    const extras: string[] = [];
    if (definition.env !== undefined) extras.push(`env ${definition.env}`);
    if (definition.defaultValue !== undefined && definition.placeholder !== undefined) {
      extras.push(`default ${String(definition.defaultValue)}`);
    }
    const help =
      extras.length === 0
        ? definition.description
        : `${definition.description} (${extras.join(', ')})`;
    const option = new Option(flags, help);
    if (definition.repeatable) {
      option.argParser((value: string, previous: string[] | undefined) => [
        ...(previous ?? []),
        value,
      ]);
    }
    command.addOption(option);
  }
  return command;
}

/**
 * The values typed on the command line, keyed by setting key (defaults and unset flags left
 * out, so that environment variables can take their place).
 *
 * @example
 * ```ts
 * const flags = givenFlags(command, RUN_SETTINGS); // { flushIntervalMs: '100' }
 * ```
 */
export function givenFlags(
  command: Command,
  settings: readonly Setting[],
): Record<string, unknown> {
  const values = command.opts();
  const given: Record<string, unknown> = {};
  for (const definition of settings) {
    if (definition.flag === undefined) continue;
    const attribute = new Option(definition.flag).attributeName();
    if (command.getOptionValueSource(attribute) !== 'cli') continue;
    given[definition.key] = values[attribute];
  }
  return given;
}
