import { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { action } from '../action.js';

// PLACEHOLDER: replaced by the implementation of this command.
export function inspectCommand(): Command {
  return new Command('inspect')
    .description('show what the storage can see of an envelope or segment')
    .action(
      action(() => {
        throw new UsageError('inspect: not available in this build');
      }),
    );
}
