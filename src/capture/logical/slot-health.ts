import type pg from 'pg';
import type { Logger } from '../../log/logger.js';
import type { CaptureStatus } from '../capture-source.js';
import { describeError } from '../text-client.js';
import { lostSlotError, readSlot } from './logical-slot.js';
import { destroySocket, withDeadline } from './receive-deadline.js';
import { slotHolder } from './slot-owner.js';

/** How often the slot's lag is read and a status update is sent to the server. */
export const SLOT_STATUS_INTERVAL_MS = 5_000;
/** Lag above which a warning is logged (bytes of WAL the slot holds back). */
export const SLOT_LAG_WARN_BYTES = 1024 ** 3;
/** How long a slot lookup may take before the control connection is presumed dead. */
const LOOKUP_TIMEOUT_MS = 10_000;

export interface SlotHealthOptions {
  slotName: string;
  logger: Logger;
  /** The control connection (made again after a loss). */
  control: () => Promise<pg.Client>;
  /** The source's status, whose `backlog` and `problem` this keeps. */
  state: CaptureStatus;
  /** The slot is gone for good: stop capture with this error. */
  onLost: (error: Error) => void;
}

/**
 * Watches a replication slot through the control connection: its lag (exported as the
 * backlog, with a warning past SLOT_LAG_WARN_BYTES), and whether it was dropped or invalidated,
 * which stops capture loudly (`onLost`) instead of reconnecting forever.
 *
 * @example
 * ```ts
 * const health = new SlotHealth({ slotName, logger, control, state, onLost: fail });
 * health.seen(); setInterval(() => void health.check(), SLOT_STATUS_INTERVAL_MS);
 * ```
 */
export class SlotHealth {
  private slotSeen = false;

  constructor(private readonly options: SlotHealthOptions) {}

  /** The slot existed when capture started: from now on its absence means it was lost. */
  seen(): void {
    this.slotSeen = true;
  }

  /** Read the slot's lag; fail when it is gone. */
  async check(): Promise<void> {
    const { slotName, state, logger } = this.options;
    try {
      const slot = await readSlot(await this.options.control(), slotName);
      if (slot === undefined || slot.walStatus === 'lost') {
        await this.failIfLost();
        return;
      }
      state.backlog = slot.lagBytes;
      if (slot.lagBytes > SLOT_LAG_WARN_BYTES) {
        logger.warn({ slot: slotName, lagBytes: slot.lagBytes }, 'replication slot lag is growing');
      }
    } catch (error) {
      state.problem ??= `slot status: ${describeError(error)}`;
    }
  }

  /** What status().problem says after a stream failure: a slot held elsewhere is named so. */
  async describeFailure(error: unknown): Promise<string> {
    const { slotName } = this.options;
    if ((error as { code?: string }).code === '55006') {
      const pid = await this.options
        .control()
        .then((control) => slotHolder(control, slotName))
        .catch(() => undefined);
      return `replication slot "${slotName}" is held by another process${pid === undefined ? '' : ` (pid ${pid})`}`;
    }
    return `replication stream: ${describeError(error)}`;
  }

  /** Throw (after `onLost`) when the slot seen at start was dropped or invalidated. */
  async failIfLost(): Promise<void> {
    const { slotName } = this.options;
    let slot: Awaited<ReturnType<typeof readSlot>>;
    try {
      const control = await this.options.control();
      slot = await withDeadline(readSlot(control, slotName), LOOKUP_TIMEOUT_MS, () =>
        destroySocket(control),
      );
    } catch {
      return; // the server is unreachable: that is a reconnect, not a lost slot
    }
    if (!this.slotSeen) return;
    if (slot === undefined || slot.walStatus === 'lost') {
      const what =
        slot === undefined
          ? 'the slot was dropped while in use'
          : 'the slot was invalidated (wal_status lost)';
      const error = lostSlotError(slotName, what);
      this.options.logger.error({ slot: slotName }, error.message);
      this.options.state.problem = error.message;
      this.options.onLost(error);
      throw error;
    }
  }
}
