import { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { action } from '../action.js';

// PLACEHOLDER: replaced by the implementation of this command.
export function installCommand(): Command {
  return new Command('install')
    .description('create the triggers, outbox, publication or slot a capture mode needs')
    .action(
      action(() => {
        throw new UsageError('install: not available in this build');
      }),
    );
}
export function uninstallCommand(): Command {
  return new Command('uninstall').description('remove what install created').action(
    action(() => {
      throw new UsageError('uninstall: not available in this build');
    }),
  );
}
