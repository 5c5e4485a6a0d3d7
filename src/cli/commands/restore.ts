import { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { action } from '../action.js';

// PLACEHOLDER: replaced by the implementation of this command.
export function restoreCommand(): Command {
  return new Command('restore')
    .description('rebuild a database (or JSON lines) from a store with the recovery key')
    .action(
      action(() => {
        throw new UsageError('restore: not available in this build');
      }),
    );
}
