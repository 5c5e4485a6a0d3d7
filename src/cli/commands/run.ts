import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { createCaptureSource } from '../../capture/index.js';
import { addSettingOptions, givenFlags } from '../../config/commander-options.js';
import { readRecipientsFile } from '../../config/recipients-file.js';
import { resolveRunSettings } from '../../config/resolve-settings.js';
import { RUN_SETTINGS, type RunSettings } from '../../config/run-settings.js';
import { UsageError } from '../../errors.js';
import { loadRecipient, loadSigningKey } from '../../keys/index.js';
import { createLogger, type Logger, redactUrl } from '../../log/logger.js';
import { ReplicatorMetrics } from '../../observability/metrics.js';
import {
  type ObservabilityServer,
  startObservabilityServer,
} from '../../observability/observability-server.js';
import { Replicator } from '../../pipeline/replicator.js';
import { readState } from '../../pipeline/state-file.js';
import { openStore, redactStoreUrl } from '../../store/open-store.js';
import { action, debugEnabled } from '../action.js';

/**
 * `crypto-replicator run`: follow a PostgreSQL database and store sealed segments of its
 * changes until SIGTERM or SIGINT. Every option is a flag and an environment variable (the
 * seed's names where they exist); see the README's "Configuration".
 *
 * @example
 * ```sh
 * crypto-replicator run --database-url postgresql://app@db/app --mode logical \
 *   --store ./twin --recipient keys/recovery.pub --metrics-port 9464
 * ```
 */
export function runCommand(): Command {
  const command = new Command('run').description(
    'follow a PostgreSQL database and store sealed segments of its changes',
  );
  addSettingOptions(command, RUN_SETTINGS);
  command.action(
    action(async (_options: unknown, self: Command) => {
      const settings = resolveRunSettings(givenFlags(self, RUN_SETTINGS), process.env);
      await run(settings);
    }),
  );
  return command;
}

async function run(settings: RunSettings): Promise<void> {
  const logger = createLogger({ level: debugEnabled() ? 'debug' : settings.logLevel });

  // Keys first: a missing or wrong key stops here, before anything connects.
  const listed =
    settings.recipientsFile === undefined ? [] : await readRecipientsFile(settings.recipientsFile);
  const paths = [...settings.recipients, ...listed];
  const recipients = await Promise.all(paths.map((path) => loadRecipient(path)));
  const signingKey =
    settings.signingKey === undefined ? undefined : await loadSigningKey(settings.signingKey);
  if (settings.mode === 'notify') {
    logger.warn(
      { mode: 'notify' },
      'notify mode loses changes made while the replicator is not listening; prefer outbox or logical',
    );
  }

  // The store, the capture source and the replicator that joins them.
  const store = await openStore(settings.store, {
    token: await readToken(settings),
    s3Endpoint: settings.s3Endpoint,
    s3Region: settings.s3Region,
    insecureHttp: settings.insecureHttp,
    logger,
  });
  const previous = await readState(settings.stateDir).catch(() => undefined);
  const source = createCaptureSource({
    mode: settings.mode,
    databaseUrl: settings.databaseUrl,
    tables: settings.tables,
    channel: settings.channel,
    slotName: settings.slot,
    publicationName: settings.publication,
    snapshot: settings.snapshot,
    spoolDir: join(settings.stateDir, 'spool'),
    spoolMaxBytes: settings.spoolMaxBytes,
    resumePosition: previous?.lastAcknowledgedPosition,
    logger,
  });
  const metrics = new ReplicatorMetrics();
  const replicator = new Replicator({
    source,
    store,
    recipients,
    signingKey,
    stateDir: settings.stateDir,
    format: settings.format,
    flushIntervalMs: settings.flushIntervalMs,
    maxSegmentBytes: settings.maxSegmentBytes,
    checkpointIntervalMs: settings.checkpointIntervalS * 1000,
    logger,
    metrics,
  });

  // Health and metrics answer while the replicator starts (a snapshot may take a while).
  let server: ObservabilityServer | undefined;
  const removeSignals = onStopSignals(logger, () => replicator.stop());
  try {
    if (settings.metricsPort !== undefined) {
      server = await startObservabilityServer({
        port: settings.metricsPort,
        host: settings.metricsHost,
        metrics,
        health: () => replicator.health(),
        thresholds: settings,
        logger,
      });
    }
    logger.info(
      {
        mode: settings.mode,
        format: settings.format,
        database: redactUrl(settings.databaseUrl),
        store: redactStoreUrl(store.url),
        stateDir: settings.stateDir,
        flushIntervalMs: settings.flushIntervalMs,
      },
      'replicator starting',
    );
    await replicator.start();
    await replicator.finished;
  } finally {
    removeSignals();
    await server?.close();
    await store.close();
  }
}

/**
 * On the first SIGTERM or SIGINT: stop taking changes, store and acknowledge what was received,
 * exit 0. A second signal exits at once (unstored changes stay in the source).
 */
function onStopSignals(logger: Logger, stop: () => Promise<void>): () => void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second stop signal: exiting without waiting');
      process.exit(130);
    }
    stopping = true;
    logger.info({ signal }, 'stop requested: storing what was received');
    void stop();
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
}

async function readToken(settings: RunSettings): Promise<string | undefined> {
  if (settings.tokenFile === undefined) return settings.token;
  try {
    const token = (await readFile(settings.tokenFile, 'utf8')).trim();
    if (token === '') throw new Error('the file is empty');
    return token;
  } catch (error) {
    throw new UsageError(`read token file "${settings.tokenFile}": ${(error as Error).message}`, {
      hint: 'write the store token alone in the file given to --token-file (mode 0600)',
    });
  }
}
