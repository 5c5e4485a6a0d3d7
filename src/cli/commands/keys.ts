import { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { action } from '../action.js';

// PLACEHOLDER: replaced by the implementation of this command.
export function keysCommand(): Command {
  return new Command('keys').description('list the recipient and signing keys a store uses').action(
    action(() => {
      throw new UsageError('keys: not available in this build');
    }),
  );
}
