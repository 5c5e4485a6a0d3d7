import { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { action } from '../action.js';

// PLACEHOLDER: replaced by the implementation of this command.
export function compareCommand(): Command {
  return new Command('compare')
    .description('compare per-table row counts and digests of two databases')
    .action(
      action(() => {
        throw new UsageError('compare: not available in this build');
      }),
    );
}
