import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Transaction } from '../../src/change/change.js';
import { parseEnvelopes } from '../../src/cli/commands/decrypt.js';
import { HybridDecryptor } from '../../src/envelope/index.js';
import { AuthenticationError, IntegrityError } from '../../src/errors.js';
import { loadIdentity, loadVerifyKey } from '../../src/keys/index.js';
import { openCheckpoint, openSegment, segmentHash } from '../../src/segment/index.js';
import { encodeTextFields } from '../../src/segment/text-fields-codec.js';
import { keyPath } from './fixture-keys.js';

const VECTORS = fileURLToPath(new URL('../fixtures/vectors/', import.meta.url));

/** The sidecar of a vector: what opening it must give. */
interface Expectation {
  format: 'v1' | 'v2-segment' | 'v2-checkpoint';
  outcome:
    | 'ok'
    | 'bad header'
    | 'bad payload'
    | 'failed authentication'
    | 'no matching key'
    | 'truncated';
  description: string;
  identity?: string;
  verifyKey?: string;
  name?: string;
  hash?: string;
  /** v2: the payload encoding the header must name. */
  payloadEncoding?: string;
  expected?: unknown;
}

/** Map an error to the outcome vocabulary of the sidecars. */
function outcomeOf(error: unknown): string {
  const message = (error as Error).message;
  if (error instanceof IntegrityError && /: truncated: /.test(message)) return 'truncated';
  if (error instanceof IntegrityError && /: bad payload: /.test(message)) return 'bad payload';
  if (error instanceof IntegrityError && /bad (header|envelope)/.test(message)) {
    return /not JSON/.test(message) ? 'truncated' : 'bad header';
  }
  if (error instanceof AuthenticationError && /no matching key/.test(message)) {
    return 'no matching key';
  }
  if (error instanceof AuthenticationError) return 'failed authentication';
  return `unexpected ${(error as Error).name}: ${message}`;
}

async function open(folder: string, file: string, expect: Expectation): Promise<unknown> {
  const bytes = readFileSync(`${VECTORS}${folder}/${file}`);
  const name = expect.name ?? file;
  const verifyKey = expect.verifyKey ? await loadVerifyKey(keyPath(expect.verifyKey)) : undefined;
  if (expect.format === 'v2-checkpoint') {
    const checkpoint = openCheckpoint(bytes, { verifyKey, name });
    return {
      streamId: checkpoint.streamId,
      sequence: checkpoint.sequence,
      headHash: checkpoint.headHash.toString('hex'),
      createdAt: checkpoint.createdAt.toISOString(),
    };
  }
  const identity = await loadIdentity(keyPath(expect.identity!));
  if (expect.format === 'v2-segment') {
    if (expect.hash !== undefined) {
      expect_(segmentHash(bytes).toString('hex')).toBe(expect.hash);
    }
    const opened = openSegment(bytes, { identities: [identity], verifyKey, name });
    if (expect.payloadEncoding !== undefined) {
      expect_(opened.header.payloadEncoding).toBe(expect.payloadEncoding);
    }
    return opened.transactions;
  }
  const decryptor = new HybridDecryptor(identity);
  return parseEnvelopes({ name, bytes }).map(({ envelope, name: envelopeName }) => ({
    table: envelope.table,
    operation: envelope.operation,
    data: decryptor.decrypt(envelope, { name: envelopeName }),
  }));
}

const expect_ = expect;

describe.each(['v1', 'v2'])('%s test vectors', (folder) => {
  const files = readdirSync(`${VECTORS}${folder}`).filter((f) => !f.endsWith('.expect.json'));

  it('has a sidecar for every vector and covers every outcome', () => {
    const outcomes = new Set<string>();
    for (const file of files) {
      const sidecar = JSON.parse(readFileSync(`${VECTORS}${folder}/${file}.expect.json`, 'utf8'));
      outcomes.add(sidecar.outcome);
    }
    const every = ['ok', 'bad header', 'failed authentication', 'no matching key', 'truncated'];
    // Only v2 has an authenticated payload that can still be malformed.
    expect(outcomes).toEqual(new Set(folder === 'v2' ? [...every, 'bad payload'] : every));
  });

  it.each(files)('%s gives the outcome its sidecar states', async (file) => {
    const sidecar: Expectation = JSON.parse(
      readFileSync(`${VECTORS}${folder}/${file}.expect.json`, 'utf8'),
    );
    let outcome = 'ok';
    let result: unknown;
    try {
      result = await open(folder, file, sidecar);
    } catch (error) {
      outcome = outcomeOf(error);
    }
    expect(outcome, sidecar.description).toBe(sidecar.outcome);
    if (sidecar.outcome === 'ok') expect(result).toEqual(sidecar.expected);
  });
});

describe('the worked example of docs/FORMAT.md', () => {
  it('shows the exact bytes of ok-example.seg', () => {
    const doc = readFileSync(
      fileURLToPath(new URL('../../docs/FORMAT.md', import.meta.url)),
      'utf8',
    );
    const dump = [...doc.matchAll(/^([0-9a-f]{4}) {2}([0-9a-f]+)$/gm)];
    const bytes = readFileSync(`${VECTORS}v2/ok-example.seg`);
    expect(dump.map((line) => Number.parseInt(line[1]!, 16))).toEqual(
      Array.from({ length: Math.ceil(bytes.length / 32) }, (_, i) => i * 32),
    );
    expect(Buffer.from(dump.map((line) => line[2]).join(''), 'hex')).toEqual(bytes);
  });
});

describe('the text-fields example of docs/FORMAT.md 2.5.2', () => {
  it('is the payload the codec writes for the transactions of ok-text-fields.seg', () => {
    const doc = readFileSync(
      fileURLToPath(new URL('../../docs/FORMAT.md', import.meta.url)),
      'utf8',
    );
    const block = /```text-fields\n([^`]*)```/.exec(doc);
    expect(block).not.toBeNull();
    const shown = block![1]!.replaceAll('\n', '').replaceAll('\u2400', '\u0000');
    const sidecar: Expectation = JSON.parse(
      readFileSync(`${VECTORS}v2/ok-text-fields.seg.expect.json`, 'utf8'),
    );
    expect(encodeTextFields(sidecar.expected as Transaction[])?.toString('utf8')).toBe(shown);
  });
});
