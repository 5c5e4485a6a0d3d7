import { Command } from 'commander';
import { action, reportError } from './action.js';

/** A command: its name and one-line summary for `--help`, and how to load it. */
interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<Command>;
}

/**
 * Every command, in the order `--help` lists them. One place, no registration by import.
 * Modules load lazily: starting `crypto-replicator verify` must not pay for the S3 SDK,
 * Fastify and the PostgreSQL drivers that other commands need.
 */
const COMMANDS: CommandEntry[] = [
  {
    name: 'demo',
    summary: 'run the whole promise end to end on an embedded PostgreSQL in about a minute',
    load: async () => (await import('./commands/demo.js')).demoCommand(),
  },
  {
    name: 'keygen',
    summary: 'write a recovery key pair (RSA) and a signing key pair (Ed25519)',
    load: async () => (await import('./commands/keygen.js')).keygenCommand(),
  },
  {
    name: 'install',
    summary: 'create the triggers, outbox, publication or slot a capture mode needs',
    load: async () => (await import('./commands/install.js')).installCommand(),
  },
  {
    name: 'uninstall',
    summary: 'remove what install created',
    load: async () => (await import('./commands/install.js')).uninstallCommand(),
  },
  {
    name: 'run',
    summary: 'follow a PostgreSQL database and store sealed segments of its changes',
    load: async () => (await import('./commands/run.js')).runCommand(),
  },
  {
    name: 'verify',
    summary: 'check a store for completeness and authenticity without the private key',
    load: async () => (await import('./commands/verify.js')).verifyCommand(),
  },
  {
    name: 'restore',
    summary: 'rebuild a database (or JSON lines) from a store with the recovery key',
    load: async () => (await import('./commands/restore.js')).restoreCommand(),
  },
  {
    name: 'compare',
    summary: 'compare per-table row counts and digests of two databases',
    load: async () => (await import('./commands/compare.js')).compareCommand(),
  },
  {
    name: 'keys',
    summary: 'list the recipient and signing keys a store uses (keys list)',
    load: async () => (await import('./commands/keys.js')).keysCommand(),
  },
  {
    name: 'vault',
    summary: 'serve the Cloud Receiver API, storing what it cannot read',
    load: async () => (await import('./commands/vault.js')).vaultCommand(),
  },
  {
    name: 'encrypt',
    summary: 'seal JSON lines from stdin as v1 envelopes or one v2 segment',
    load: async () => (await import('./commands/encrypt.js')).encryptCommand(),
  },
  {
    name: 'decrypt',
    summary: 'open v1 envelopes or v2 segments and print their changes as JSON lines',
    load: async () => (await import('./commands/decrypt.js')).decryptCommand(),
  },
  {
    name: 'inspect',
    summary: 'show what the storage can see of an envelope or segment',
    load: async () => (await import('./commands/inspect.js')).inspectCommand(),
  },
];

/** The first argument that is not an option: the command the user asked for, if any. */
function requestedCommand(argv: string[]): string | undefined {
  const first = argv.slice(2).find((arg) => !arg.startsWith('-'));
  // `crypto-replicator help run` asks for the help of `run`.
  if (first === 'help') return argv.slice(2).filter((arg) => !arg.startsWith('-'))[1];
  return first;
}

/**
 * Build the program. The requested command is loaded whole; the others appear only as
 * summaries, which is all `--help` shows of them.
 */
export async function buildProgram(argv: string[] = process.argv): Promise<Command> {
  const program = new Command('crypto-replicator')
    .description(
      'Encrypted, signed, verifiable twin of a PostgreSQL database in storage that cannot read it',
    )
    .version(process.env.npm_package_version ?? '0.1.0')
    .option('--debug', 'show stack traces and debug logs')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) });
  const wanted = requestedCommand(argv);
  for (const entry of COMMANDS) {
    const command =
      entry.name === wanted
        ? await entry.load()
        : new Command(entry.name).description(entry.summary);
    program.addCommand(command.exitOverride());
  }
  return program;
}

/**
 * Parse the command line and run the command, with the error handling every command shares.
 *
 * @example
 * ```ts
 * await runProgram(process.argv);
 * ```
 */
export async function runProgram(argv: string[] = process.argv): Promise<void> {
  const program = await buildProgram(argv);
  try {
    await program.parseAsync(argv);
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
