import type { TableName } from '../change/change.js';
import { UsageError } from '../errors.js';
import { type Logger, silentLogger } from '../log/logger.js';
import type { CaptureMode, CaptureSource } from './capture-source.js';
import type { LivenessOptions } from './liveness.js';
import { REPLICATION_NAME_PATTERN } from './logical/logical-slot.js';
import { LogicalCaptureSource } from './logical/logical-source.js';
import { NotifyCaptureSource } from './notify/notify-source.js';
import { OutboxCaptureSource } from './outbox/outbox-source.js';

export type { CaptureMode, CaptureSource, CaptureStatus } from './capture-source.js';
export type { InstallOptions, InstallReport } from './install.js';
export { captureSql, installCapture, uninstallCapture } from './install.js';
export type { LivenessOptions } from './liveness.js';

/** The seed's channel name (`LISTEN_CHANNEL`). */
export const DEFAULT_CHANNEL = 'nis2_changes';
/** Default name of the logical replication slot and of the publication. */
export const DEFAULT_SLOT = 'crypto_replicator';
export const DEFAULT_PUBLICATION = 'crypto_replicator';
/** Default size cap of the notify spool. */
export const DEFAULT_SPOOL_MAX_BYTES = 256 * 1024 * 1024;

export interface CaptureOptions {
  mode: CaptureMode;
  databaseUrl: string;
  /** Tables to follow; default: every table the mode's install covers. */
  tables?: TableName[];
  /** notify: LISTEN channel, default `nis2_changes`. */
  channel?: string;
  /** logical: replication slot name, default `crypto_replicator`. */
  slotName?: string;
  /** logical: publication name, default `crypto_replicator`. */
  publicationName?: string;
  /** Emit existing rows first (default true). */
  snapshot?: boolean;
  /** notify: folder of the durable local spool (required in notify mode). */
  spoolDir?: string;
  /** notify: spool size cap in bytes (default 256 MiB); see docs/CAPTURE.md for when full. */
  spoolMaxBytes?: number;
  /**
   * The last position the pipeline stored for this stream, if any. In logical mode a missing
   * slot is then an error (changes were lost) instead of a reason to create a new one.
   */
  resumePosition?: string;
  /**
   * notify: when its quiet LISTEN connection is probed (`SELECT 1`) and how long it has to
   * answer before it is presumed dead and made again (default 15 s and 10 s).
   */
  liveness?: LivenessOptions;
  logger?: Logger;
}

/** Mode → implementation: the one place a capture mode is chosen. */
const SOURCES: Record<CaptureMode, (options: CaptureOptions, logger: Logger) => CaptureSource> = {
  logical: (options, logger) =>
    new LogicalCaptureSource({
      databaseUrl: options.databaseUrl,
      slotName: options.slotName ?? DEFAULT_SLOT,
      publicationName: options.publicationName ?? DEFAULT_PUBLICATION,
      tables: options.tables,
      snapshot: options.snapshot ?? true,
      resumePosition: options.resumePosition,
      logger,
    }),
  outbox: (options, logger) =>
    new OutboxCaptureSource({
      databaseUrl: options.databaseUrl,
      tables: options.tables,
      snapshot: options.snapshot ?? true,
      logger,
    }),
  notify: (options, logger) => {
    if (options.spoolDir === undefined) {
      throw new UsageError('start notify capture: no spool folder', {
        hint: 'pass spoolDir (the CLI uses <state dir>/spool)',
      });
    }
    return new NotifyCaptureSource({
      databaseUrl: options.databaseUrl,
      channel: options.channel ?? DEFAULT_CHANNEL,
      tables: options.tables,
      snapshot: options.snapshot ?? true,
      spoolDir: options.spoolDir,
      spoolMaxBytes: options.spoolMaxBytes ?? DEFAULT_SPOOL_MAX_BYTES,
      liveness: options.liveness,
      logger,
    });
  },
};

/**
 * Create the capture source for a mode. Nothing connects until `start()`.
 *
 * @example
 * ```ts
 * const source = createCaptureSource({ mode: 'logical', databaseUrl: process.env.DATABASE_URL! });
 * await source.start();
 * for await (const tx of source.transactions()) {
 *   await storeDurably(tx);
 *   await source.acknowledge(tx.position);
 * }
 * ```
 */
export function createCaptureSource(options: CaptureOptions): CaptureSource {
  const make = SOURCES[options.mode];
  if (make === undefined) {
    throw new UsageError(
      `invalid capture mode "${String(options.mode)}": expected notify, outbox or logical`,
    );
  }
  for (const [what, name] of [
    ['slot', options.slotName],
    ['publication', options.publicationName],
  ] as const) {
    if (name !== undefined && !REPLICATION_NAME_PATTERN.test(name)) {
      throw new UsageError(
        `invalid ${what} name "${name}": expected lowercase letters, digits and _ (at most 63)`,
      );
    }
  }
  return make(options, options.logger ?? silentLogger);
}
