import { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { action } from '../action.js';

// PLACEHOLDER: replaced by the implementation of this command.
export function decryptCommand(): Command {
  return new Command('decrypt')
    .description('open v1 envelopes or v2 segments and print their changes as JSON lines')
    .action(
      action(() => {
        throw new UsageError('decrypt: not available in this build');
      }),
    );
}
