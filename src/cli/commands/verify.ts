import { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { action } from '../action.js';

// PLACEHOLDER: replaced by the implementation of this command.
export function verifyCommand(): Command {
  return new Command('verify')
    .description('check a store for completeness and authenticity without the private key')
    .action(
      action(() => {
        throw new UsageError('verify: not available in this build');
      }),
    );
}
