import { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { action } from '../action.js';

// PLACEHOLDER: replaced by the implementation of this command.
export function demoCommand(): Command {
  return new Command('demo')
    .description('run the whole promise end to end on an embedded PostgreSQL in about a minute')
    .action(
      action(() => {
        throw new UsageError('demo: not available in this build');
      }),
    );
}
