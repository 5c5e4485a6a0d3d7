import { describe, expect, it } from 'vitest';
import { parseTablesFlag } from '../../src/cli/tables-flag.js';
import { UsageError } from '../../src/errors.js';

describe('the --tables flag', () => {
  it('keeps a comma inside a double-quoted name as part of that name', () => {
    expect(parseTablesFlag('audit.events, "Odd, Table"')).toEqual([
      { schema: 'audit', name: 'events' },
      { schema: 'public', name: 'Odd, Table' },
    ]);
  });

  it('rejects an empty entry as a usage error naming it', () => {
    expect(() => parseTablesFlag('a,,b')).toThrow(UsageError);
    expect(() => parseTablesFlag('a,,b')).toThrow(/invalid --tables entry ""/);
  });
});
