import type { VerifyKey } from '../keys/index.js';
import { openCheckpoint, parseObjectName } from '../segment/index.js';
import type { ObjectStore } from '../store/store.js';
import type { VerifyProblem } from './verify-types.js';

interface CursorOptions {
  store: ObjectStore;
  streamId: string;
  verifyKey?: VerifyKey;
  now: Date;
  problems: VerifyProblem[];
  /** Signer key ids seen on the stream's segments (a checkpoint must use one of them). */
  signers: Set<string>;
}

/**
 * Walks a stream's checkpoints alongside its segments (both listings are in sequence order),
 * so each checkpoint is compared with the hash of the segment it names while that hash is at
 * hand, and memory stays constant.
 *
 * @example
 * ```ts
 * const cursor = new CheckpointCursor({ store, streamId, now, problems, signers });
 * await cursor.advanceTo(segment.sequence, segment.hash);
 * await cursor.finish(lastSequence);
 * ```
 */
export class CheckpointCursor {
  count = 0;
  newest: { sequence: number; createdAt: string; ageSeconds: number } | undefined;
  private readonly options: CursorOptions;
  private readonly names: AsyncIterator<string>;
  private pending: { name: string; sequence: number } | undefined;
  private exhausted = false;

  constructor(options: CursorOptions) {
    this.options = options;
    const prefix = `streams/${options.streamId}/checkpoints/`;
    this.names = options.store.list(prefix)[Symbol.asyncIterator]();
  }

  /** Check every checkpoint up to `sequence`, whose segment hash is `hash` (if readable). */
  async advanceTo(sequence: number, hash: Buffer | undefined): Promise<void> {
    for (;;) {
      const next = await this.peek();
      if (next === undefined || next.sequence > sequence) return;
      this.pending = undefined;
      await this.check(next.name, next.sequence === sequence ? hash : undefined, next.sequence);
    }
  }

  /** Check the remaining checkpoints: they name segments beyond the end of the stream. */
  async finish(lastSequence: number): Promise<void> {
    let beyond: { name: string; sequence: number } | undefined;
    for (;;) {
      const next = await this.peek();
      if (next === undefined) break;
      this.pending = undefined;
      const valid = await this.check(next.name, undefined, next.sequence, true);
      if (valid) beyond = next;
    }
    if (beyond !== undefined) {
      this.options.problems.push({
        kind: 'truncated',
        object: beyond.name,
        message: `the stream ends at segment ${lastSequence}, but this checkpoint says it reached segment ${beyond.sequence}: the newest segments were removed`,
      });
    }
  }

  private async peek(): Promise<{ name: string; sequence: number } | undefined> {
    while (this.pending === undefined && !this.exhausted) {
      const next = await this.names.next();
      if (next.done) {
        this.exhausted = true;
        break;
      }
      const parsed = parseObjectName(next.value);
      if (parsed === undefined || parsed.kind !== 'checkpoint') {
        this.options.problems.push({
          kind: 'unexpected-object',
          object: next.value,
          message: 'not a checkpoint name',
        });
        continue;
      }
      this.pending = { name: next.value, sequence: parsed.sequence };
    }
    return this.pending;
  }

  /** Verify one checkpoint; returns true when it is authentic and in place. */
  private async check(
    name: string,
    segmentHash: Buffer | undefined,
    sequence: number,
    beyondEnd = false,
  ): Promise<boolean> {
    const { problems } = this.options;
    this.count++;
    const bytes = await this.options.store.get(name);
    if (bytes === undefined) return false;

    // Signature, and the name against the content.
    let checkpoint: ReturnType<typeof openCheckpoint>;
    try {
      const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      checkpoint = openCheckpoint(buffer, { verifyKey: this.options.verifyKey, name });
    } catch (error) {
      problems.push({ kind: 'checkpoint', object: name, message: (error as Error).message });
      return false;
    }
    if (checkpoint.streamId !== this.options.streamId || checkpoint.sequence !== sequence) {
      problems.push({
        kind: 'checkpoint',
        object: name,
        message: `it says stream ${checkpoint.streamId} sequence ${checkpoint.sequence}: moved or spliced in`,
      });
      return false;
    }
    if (this.options.verifyKey === undefined && this.options.signers.size > 0) {
      if (!this.options.signers.has(checkpoint.signerKeyId)) {
        problems.push({
          kind: 'signer',
          object: name,
          message: `signed by key ${checkpoint.signerKeyId}, not by the stream's signer`,
        });
        return false;
      }
    }

    // The head it names must be the segment we have at that sequence.
    if (!beyondEnd) {
      if (segmentHash === undefined) {
        problems.push({
          kind: 'checkpoint',
          object: name,
          message: `it names segment ${sequence}, which is missing or unreadable`,
        });
      } else if (!segmentHash.equals(checkpoint.headHash)) {
        problems.push({
          kind: 'checkpoint',
          object: name,
          message: `it names a segment ${sequence} with another hash: the segment was replaced`,
        });
      }
    }

    const createdAt = checkpoint.createdAt;
    const ageSeconds = Math.max(0, (this.options.now.getTime() - createdAt.getTime()) / 1000);
    this.newest = { sequence, createdAt: createdAt.toISOString(), ageSeconds };
    return true;
  }
}
