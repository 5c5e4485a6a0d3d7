import { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { action } from '../action.js';

// PLACEHOLDER: replaced by the implementation of this command.
export function keygenCommand(): Command {
  return new Command('keygen')
    .description('write a recovery key pair (RSA) and a signing key pair (Ed25519)')
    .action(
      action(() => {
        throw new UsageError('keygen: not available in this build');
      }),
    );
}
