import { readFile, stat } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { UsageError } from '../../errors.js';
import { createLogger, type Logger } from '../../log/logger.js';
import { FileStore } from '../../store/file-store.js';
import { isLoopback, openStore } from '../../store/open-store.js';
import type { ObjectStore } from '../../store/store.js';
import { startVault } from '../../vault/start-vault.js';
import { DEFAULT_VAULT_LIMITS } from '../../vault/vault-server.js';
import { action, debugEnabled } from '../action.js';

interface VaultFlags {
  dataDir?: string;
  s3?: string;
  s3Endpoint?: string;
  s3Region?: string;
  s3VirtualHosted?: boolean;
  s3ConditionalWrites?: boolean;
  s3ObjectLockDays?: string;
  s3ObjectLockMode: string;
  host: string;
  basePath?: string;
  port: string;
  writeTokenFile: string;
  readTokenFile: string;
  tlsCert?: string;
  tlsKey?: string;
  maxEnvelopeBytes?: string;
  maxObjectBytes?: string;
  rateLimit?: string;
}

/**
 * `crypto-replicator vault`: serve the Cloud Receiver API over a folder or an S3 bucket, holding
 * no key. Stops gracefully on SIGTERM or SIGINT.
 *
 * @example
 * ```sh
 * crypto-replicator vault --data-dir /srv/vault --port 8443 \
 *   --write-token-file write.token --read-token-file read.token \
 *   --tls-cert vault.crt --tls-key vault.key --host 0.0.0.0
 * ```
 */
export function vaultCommand(): Command {
  return new Command('vault')
    .description('serve the Cloud Receiver API, storing what it cannot read')
    .option('--data-dir <dir>', 'folder the objects are stored in')
    .option('--s3 <url>', 'store the objects in s3://bucket/prefix instead of a folder')
    .option('--s3-endpoint <url>', 'S3-compatible endpoint (MinIO, Ceph, R2, …)')
    .option('--s3-region <region>', 'S3 region (default: AWS_REGION or us-east-1)')
    .option(
      '--s3-virtual-hosted',
      'address buckets as bucket.endpoint (default with an endpoint: path style)',
    )
    .option(
      '--no-s3-conditional-writes',
      'for services that ignore If-None-Match: check-then-put (racy between two vaults)',
    )
    .option('--s3-object-lock-days <n>', 'write-once retention of each object, in days')
    .addOption(
      new Option('--s3-object-lock-mode <mode>', 'object lock mode')
        .choices(['COMPLIANCE', 'GOVERNANCE'])
        .default('COMPLIANCE'),
    )
    .option('--host <address>', 'address to listen on (0.0.0.0 for every interface)', '127.0.0.1')
    .option('--port <n>', 'TCP port to listen on (0 picks a free one)', '8443')
    .option('--base-path <path>', 'serve the API under this path, e.g. /api')
    .requiredOption('--write-token-file <file>', 'file holding the token that may only append')
    .requiredOption('--read-token-file <file>', 'file holding the token that may only read')
    .option('--tls-cert <file>', 'PEM certificate chain: serve HTTPS')
    .option('--tls-key <file>', 'PEM private key of the certificate')
    .addOption(
      new Option('--max-envelope-bytes <n>', 'largest v1 envelope body').default(
        String(DEFAULT_VAULT_LIMITS.envelopeBytes),
      ),
    )
    .addOption(
      new Option('--max-object-bytes <n>', 'largest segment or checkpoint body').default(
        String(DEFAULT_VAULT_LIMITS.objectBytes),
      ),
    )
    .addOption(
      new Option('--rate-limit <n>', 'requests per second per client address').default(
        String(DEFAULT_VAULT_LIMITS.ratePerSecond),
      ),
    )
    .action(action(async (flags: VaultFlags) => serveVault(flags)));
}

async function serveVault(flags: VaultFlags): Promise<void> {
  // Guard: every flag checked before anything starts.
  const port = wholeNumber('--port', flags.port, 0, 65_535);
  const envelopeBytes = wholeNumber('--max-envelope-bytes', flags.maxEnvelopeBytes!, 1024);
  const objectBytes = wholeNumber('--max-object-bytes', flags.maxObjectBytes!, 1024);
  const ratePerSecond = wholeNumber('--rate-limit', flags.rateLimit!, 1);
  if ((flags.dataDir === undefined) === (flags.s3 === undefined)) {
    throw new UsageError('start vault: pass exactly one of --data-dir and --s3', {
      hint: 'e.g. --data-dir /srv/vault, or --s3 s3://bucket/prefix for a vault that scales out',
    });
  }
  const lockDays =
    flags.s3ObjectLockDays === undefined
      ? undefined
      : wholeNumber('--s3-object-lock-days', flags.s3ObjectLockDays, 1, 36_500);
  if (lockDays !== undefined && flags.s3 === undefined) {
    throw new UsageError('start vault: --s3-object-lock-days needs --s3', {
      hint: 'object lock is a feature of S3 buckets created with object lock enabled',
    });
  }
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
    throw new UsageError('start vault: --tls-cert and --tls-key go together');
  }
  const log = createLogger({ level: debugEnabled() ? 'debug' : 'info' });
  const writeToken = await readToken('--write-token-file', flags.writeTokenFile, log);
  const readTokenValue = await readToken('--read-token-file', flags.readTokenFile, log);
  const tls =
    flags.tlsCert === undefined
      ? undefined
      : {
          cert: await readInput('--tls-cert', flags.tlsCert),
          key: await readInput('--tls-key', flags.tlsKey!),
        };
  if (tls === undefined && !isLoopback(flags.host)) {
    log.warn({ host: flags.host }, 'serving plain http beyond loopback: tokens travel in clear');
  }

  // Open the backing store, then serve until a signal asks to stop.
  const store: ObjectStore =
    flags.s3 !== undefined
      ? await openStore(flags.s3, {
          s3Endpoint: flags.s3Endpoint,
          s3Region: flags.s3Region,
          s3ForcePathStyle: flags.s3VirtualHosted === true ? false : undefined,
          s3ConditionalWrites: flags.s3ConditionalWrites,
          s3ObjectLock:
            lockDays === undefined
              ? undefined
              : {
                  mode: flags.s3ObjectLockMode as 'COMPLIANCE' | 'GOVERNANCE',
                  retainDays: lockDays,
                },
          logger: log,
        })
      : new FileStore(flags.dataDir!, { logger: log });
  const vault = await startVault({
    store,
    writeToken,
    readToken: readTokenValue,
    host: flags.host,
    port,
    basePath: flags.basePath,
    tls,
    logger: log,
    limits: { envelopeBytes, objectBytes, ratePerSecond, burst: ratePerSecond * 2 },
  });
  log.info({ url: vault.url, store: store.url }, 'vault listening');
  process.stdout.write(`vault listening on ${vault.url}\n`);

  // Graceful shutdown: finish requests in flight, then close the store.
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log.info({ signal }, 'vault stopping');
  await vault.close();
  log.info({ signal }, 'vault stopped');
}

function wholeNumber(flag: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || value < min || value > max) {
    throw new UsageError(`invalid ${flag} ${JSON.stringify(text)}: expected ${min} to ${max}`);
  }
  return value;
}

async function readInput(flag: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new UsageError(`read ${flag} ${path}: ${(error as NodeJS.ErrnoException).code}`, {
      cause: error,
      hint: `check that ${path} exists and is readable`,
    });
  }
}

/** Read a token file (trailing newline ignored); warn when others may read it. */
async function readToken(flag: string, path: string, log: Logger): Promise<string> {
  const token = (await readInput(flag, path)).toString('utf8').trim();
  const mode = (await stat(path)).mode;
  if ((mode & 0o077) !== 0) {
    log.warn({ file: path }, 'token file is readable by group or others: chmod 600 it');
  }
  return token;
}
