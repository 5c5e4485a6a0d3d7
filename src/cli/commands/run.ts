import { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { action } from '../action.js';

// PLACEHOLDER: replaced by the implementation of this command.
export function runCommand(): Command {
  return new Command('run')
    .description('follow a PostgreSQL database and store sealed segments of its changes')
    .action(
      action(() => {
        throw new UsageError('run: not available in this build');
      }),
    );
}
