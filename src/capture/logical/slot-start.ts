import type pg from 'pg';
import type { TableName } from '../../change/change.js';
import type { Logger } from '../../log/logger.js';
import { lostSlotError, readSlot, type SlotState } from './logical-slot.js';
import { prepareSnapshotRedo, type SnapshotRedo, snapshotUnfinished } from './snapshot-redo.js';

/** What a start does with the slot. */
export interface SlotStart {
  /** The slot to resume; undefined: create one (exporting a snapshot when one is wanted). */
  slot: SlotState | undefined;
  /** How a snapshot taken now is numbered, and that it first empties the tables. */
  redo: SnapshotRedo | undefined;
}

/**
 * Decide how capture starts on its slot: an existing slot is resumed; a missing one is created
 * (with its snapshot) only when no stored position says this stream already had one, which
 * would mean changes were lost. A snapshot never stored whole is taken again in a new slot
 * (docs/CAPTURE.md, "A snapshot cut short"); on a new stream that is the slot `install` made.
 *
 * @example
 * ```ts
 * const { slot, redo } = await planSlotStart(control, options, tables, logger);
 * ```
 */
export async function planSlotStart(
  control: pg.Client,
  options: { slotName: string; snapshot: boolean; resumePosition?: string },
  tables: TableName[],
  logger: Logger,
): Promise<SlotStart> {
  const { slotName, resumePosition } = options;
  const slot = await readSlot(control, slotName);
  if (slot?.walStatus === 'lost') {
    throw lostSlotError(slotName, 'the slot was invalidated (wal_status lost)');
  }
  const unfinished = snapshotUnfinished(options);
  if (slot === undefined && resumePosition !== undefined && !unfinished) {
    throw lostSlotError(
      slotName,
      `the slot is missing although the stream stored position ${resumePosition}`,
    );
  }

  // A snapshot goes in after a TRUNCATE and above every position that may be stored.
  if (slot !== undefined && unfinished) {
    const redo = await prepareSnapshotRedo(control, slotName, tables, resumePosition, {
      drop: true,
    });
    // A new stream on the slot `install` made: nothing was stored from it, nothing is lost.
    if (resumePosition === undefined) {
      logger.info(
        { slot: slotName, floor: redo.floor },
        'new stream: replication slot made again to export the initial snapshot',
      );
    } else {
      logger.warn(
        { slot: slotName, resumePosition, floor: redo.floor },
        'initial snapshot was not stored: slot dropped, snapshot taken again',
      );
    }
    return { slot: undefined, redo };
  }
  if (slot === undefined && options.snapshot) {
    const redo = await prepareSnapshotRedo(control, slotName, tables, resumePosition, {
      drop: false,
    });
    return { slot: undefined, redo };
  }
  return { slot, redo: undefined };
}
