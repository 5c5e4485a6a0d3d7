import { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { action } from '../action.js';

// PLACEHOLDER: replaced by the implementation of this command.
export function vaultCommand(): Command {
  return new Command('vault')
    .description('serve the Cloud Receiver API, storing what it cannot read')
    .action(
      action(() => {
        throw new UsageError('vault: not available in this build');
      }),
    );
}
