import type { VerifyKey } from '../keys/index.js';
import {
  type Checkpoint,
  openCheckpoint,
  parseObjectName,
  readSegmentHeader,
  segmentHash,
  segmentName,
} from '../segment/index.js';
import type { ObjectStore } from '../store/store.js';

/** A problem the listing shows before anything is decrypted or applied. */
export interface PlanProblem {
  object: string;
  message: string;
  /** Segments from here on cannot be restored because of it. */
  fromSequence: number;
}

/** What the listing of one stream says, read before restoring it. */
export interface StreamPlan {
  streamId: string;
  segments: number;
  lastSequence: number;
  /** Last sequence reachable from 1 without a gap or listing problem. */
  intactThrough: number;
  firstCreatedAt?: Date;
  /** The last segment: sequence, hash (hex), seal time; undefined if unreadable. */
  head?: { sequence: number; hash: string; createdAt: Date };
  /** Why the first segment header did not verify (a wrong verify key shows here first). */
  firstHeaderError?: Error;
  /** The newest checkpoint that verifies. */
  checkpoint?: Checkpoint & { name: string };
  /** Sequence the stream must reach (the newest checkpoint's), when more than it holds. */
  missingTail?: { from: number; to: number; object: string };
  problems: PlanProblem[];
}

/**
 * List a stream's segments and checkpoints (names only, constant memory), read the first and
 * last segment headers and the newest checkpoint, and report gaps and a removed tail before
 * anything is applied.
 *
 * @example
 * ```ts
 * const plan = await planStream(store, streamId, verifyKey);
 * if (plan.problems.length > 0) refuse(plan.problems[0]);
 * ```
 */
export async function planStream(
  store: ObjectStore,
  streamId: string,
  verifyKey: VerifyKey | undefined,
): Promise<StreamPlan> {
  const prefix = `streams/${streamId}/`;
  const plan: StreamPlan = {
    streamId,
    segments: 0,
    lastSequence: 0,
    intactThrough: 0,
    problems: [],
  };

  // Segment names: contiguous from 1, all well formed.
  let expected = 1;
  let intact = true;
  for await (const name of store.list(`${prefix}segments/`)) {
    const parsed = parseObjectName(name);
    if (parsed === undefined || parsed.kind !== 'segment' || parsed.streamId !== streamId) {
      plan.problems.push({ object: name, message: 'not a segment name', fromSequence: expected });
      intact = false;
      continue;
    }
    if (parsed.sequence !== expected && intact) {
      plan.problems.push({
        object: name,
        message: `segment(s) ${expected}${parsed.sequence - 1 > expected ? ` to ${parsed.sequence - 1}` : ''} missing before it`,
        fromSequence: expected,
      });
      intact = false;
    }
    if (intact) plan.intactThrough = parsed.sequence;
    plan.segments++;
    plan.lastSequence = parsed.sequence;
    expected = parsed.sequence + 1;
  }

  // First and last headers: when the stream began, and its head.
  const first = await readHeader(store, streamId, 1, verifyKey);
  plan.firstCreatedAt = first?.header?.createdAt;
  plan.firstHeaderError = first?.error;
  if (plan.lastSequence > 0) {
    plan.head = (await readHeader(store, streamId, plan.lastSequence, verifyKey))?.header;
  }

  // The newest authentic checkpoint tells how far the stream reached.
  let newest: string | undefined;
  for await (const name of store.list(`${prefix}checkpoints/`)) newest = name;
  if (newest !== undefined) {
    const bytes = await store.get(newest);
    try {
      if (bytes === undefined) throw new Error('listed but gone');
      const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      plan.checkpoint = { ...openCheckpoint(buffer, { verifyKey, name: newest }), name: newest };
    } catch (error) {
      plan.problems.push({
        object: newest,
        message: (error as Error).message,
        fromSequence: plan.intactThrough + 1,
      });
    }
  }
  if (plan.checkpoint !== undefined && plan.checkpoint.sequence > plan.lastSequence) {
    plan.missingTail = {
      from: plan.lastSequence + 1,
      to: plan.checkpoint.sequence,
      object: plan.checkpoint.name,
    };
    plan.problems.push({
      object: plan.checkpoint.name,
      message: `the stream ends at segment ${plan.lastSequence}, but this checkpoint says it reached segment ${plan.checkpoint.sequence}: the newest segments were removed`,
      fromSequence: plan.lastSequence + 1,
    });
  }
  return plan;
}

async function readHeader(
  store: ObjectStore,
  streamId: string,
  sequence: number,
  verifyKey: VerifyKey | undefined,
): Promise<
  { header?: { sequence: number; hash: string; createdAt: Date }; error?: Error } | undefined
> {
  const name = segmentName(streamId, sequence);
  const bytes = await store.get(name);
  if (bytes === undefined) return undefined;
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    const header = readSegmentHeader(buffer, { name, verifyKey });
    const hash = segmentHash(buffer).toString('hex');
    return { header: { sequence, hash, createdAt: header.createdAt } };
  } catch (error) {
    // Reported with its object name when the restore reaches it.
    return { error: error as Error };
  }
}
