import { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { action } from '../action.js';

// PLACEHOLDER: replaced by the implementation of this command.
export function encryptCommand(): Command {
  return new Command('encrypt')
    .description('seal JSON lines from stdin as v1 envelopes or one v2 segment')
    .action(
      action(() => {
        throw new UsageError('encrypt: not available in this build');
      }),
    );
}
