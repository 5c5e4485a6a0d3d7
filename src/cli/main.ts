#!/usr/bin/env node
import { Command } from 'commander';
import { action, reportError } from './action.js';
import { compareCommand } from './commands/compare.js';
import { decryptCommand } from './commands/decrypt.js';
import { demoCommand } from './commands/demo.js';
import { encryptCommand } from './commands/encrypt.js';
import { inspectCommand } from './commands/inspect.js';
import { installCommand, uninstallCommand } from './commands/install.js';
import { keygenCommand } from './commands/keygen.js';
import { keysCommand } from './commands/keys.js';
import { restoreCommand } from './commands/restore.js';
import { runCommand } from './commands/run.js';
import { vaultCommand } from './commands/vault.js';
import { verifyCommand } from './commands/verify.js';

/** Every command, in the order `--help` lists them. One place, no registration by import. */
const COMMANDS: Array<() => Command> = [
  demoCommand,
  keygenCommand,
  installCommand,
  uninstallCommand,
  runCommand,
  verifyCommand,
  restoreCommand,
  compareCommand,
  keysCommand,
  vaultCommand,
  encryptCommand,
  decryptCommand,
  inspectCommand,
];

export function buildProgram(): Command {
  const program = new Command('crypto-replicator')
    .description(
      'Encrypted, signed, verifiable twin of a PostgreSQL database in storage that cannot read it',
    )
    .version(process.env.npm_package_version ?? '0.1.0')
    .option('--debug', 'show stack traces and debug logs')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) });
  for (const make of COMMANDS) {
    program.addCommand(make().exitOverride());
  }
  return program;
}

async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    // Commander throws on --help/--version (exit 0) and on usage mistakes it already printed.
    const code = (error as { code?: string; exitCode?: number }).code;
    if (typeof code === 'string' && code.startsWith('commander.')) {
      const exitCode = (error as { exitCode: number }).exitCode;
      process.exitCode = exitCode === 0 ? 0 : 2;
      return;
    }
    process.exitCode = reportError(error);
  }
}

// `action` is re-exported for command modules that want the same error handling.
export { action };

await main();
