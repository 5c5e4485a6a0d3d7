import { parseTableName, splitTableList, type TableName } from '../change/change.js';
import { UsageError } from '../errors.js';

/**
 * Parse the `--tables` flag that install, restore and compare share: commas outside double
 * quotes separate entries; each is `table` or `schema.table`.
 *
 * @example
 * ```ts
 * parseTablesFlag('audit.events,"Odd Table"');
 * // => [{ schema: 'audit', name: 'events' }, { schema: 'public', name: 'Odd Table' }]
 * ```
 */
export function parseTablesFlag(text: string): TableName[] {
  return splitTableList(text).map((entry) => {
    try {
      return parseTableName(entry);
    } catch {
      throw new UsageError(`invalid --tables entry "${entry}": expected table or schema.table`, {
        hint: 'separate tables with commas; double-quote names with capitals, dots or spaces',
      });
    }
  });
}
