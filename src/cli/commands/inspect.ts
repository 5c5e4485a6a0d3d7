import { Command } from 'commander';
import { openCheckpoint, readSegmentHeader } from '../../segment/index.js';
import { decodeHeader } from '../../segment/segment-header.js';
import { action } from '../action.js';
import { type Input, inputKind, parseEnvelopes, readInputs } from './decrypt.js';

/**
 * `crypto-replicator inspect FILE`: show what the storage can see of an envelope, segment or
 * checkpoint, without any key, and check a segment's or checkpoint's signature against the
 * signer key it records. Exits non-zero when that check fails.
 *
 * @example
 * ```sh
 * crypto-replicator inspect twin/streams/9f86…/segments/00000000000000000001.seg
 * ```
 */
export function inspectCommand(): Command {
  return new Command('inspect')
    .description('show what the storage can see of an envelope or segment')
    .argument('<file>', 'an envelope (.json), segment (.seg) or checkpoint (.ckpt); "-" is stdin')
    .action(action(inspect));
}

async function inspect(file: string): Promise<void> {
  const [input] = await readInputs([file]);
  const kind = inputKind(input!.bytes);
  const lines =
    kind === 'segment'
      ? inspectSegment(input!)
      : kind === 'checkpoint'
        ? inspectCheckpoint(input!)
        : inspectEnvelopes(input!);
  process.stdout.write(lines.map((line) => `${line}\n`).join(''));
}

function inspectSegment(input: Input): string[] {
  // What the header says, readable by anyone.
  const header = decodeHeader(input.bytes, input.name);
  const lines = [
    `${input.name}: v2 segment, ${input.bytes.length} bytes`,
    `  stream:        ${header.streamId}`,
    `  sequence:      ${header.sequence}`,
    `  previous hash: ${header.previousHash.toString('hex')}`,
    `  created at:    ${header.createdAt.toISOString()}`,
    `  compression:   ${header.compression}`,
    `  encoding:      ${header.payloadEncoding}`,
    `  payload:       ${header.payloadLength} bytes encrypted (AES-256-GCM)`,
    `  signer key id: ${header.signerKeyId}`,
    ...header.recipients.map(
      (r) =>
        `  recipient:     ${r.type} key id ${r.keyId} (${r.wrappedKey.length} bytes wrapped key)`,
    ),
    '  hidden:        tables, operations, rows, transaction ids and commit times',
  ];

  // The signature against the recorded signer key: integrity, not origin.
  try {
    readSegmentHeader(input.bytes, { name: input.name });
  } catch (error) {
    process.stdout.write(lines.map((line) => `${line}\n`).join(''));
    throw error;
  }
  lines.push(
    '  signature:     valid for the signer key above (use verify --verify-key for origin)',
  );
  return lines;
}

function inspectCheckpoint(input: Input): string[] {
  const checkpoint = openCheckpoint(input.bytes, { name: input.name });
  return [
    `${input.name}: v2 checkpoint, ${input.bytes.length} bytes`,
    `  stream:        ${checkpoint.streamId}`,
    `  sequence:      ${checkpoint.sequence}`,
    `  head hash:     ${checkpoint.headHash.toString('hex')}`,
    `  created at:    ${checkpoint.createdAt.toISOString()}`,
    `  signer key id: ${checkpoint.signerKeyId}`,
    '  signature:     valid for the signer key above',
  ];
}

function inspectEnvelopes(input: Input): string[] {
  const lines: string[] = [];
  for (const { envelope, name } of parseEnvelopes(input)) {
    const { ciphertext, wrappedKey } = envelope.binary();
    lines.push(
      `${name}: v1 envelope ${envelope.version}`,
      `  timestamp:     ${envelope.timestamp}   (in the clear)`,
      `  table:         ${envelope.table}   (in the clear)`,
      `  operation:     ${envelope.operation}   (in the clear)`,
      `  key id:        ${envelope.key_id}`,
      `  data:          ${ciphertext.length} bytes encrypted (AES-256-GCM, row length visible)`,
      `  wrapped key:   ${wrappedKey.length} bytes (RSA-${wrappedKey.length * 8} OAEP-SHA256)`,
      '  note:          v1 binds none of the clear fields to the ciphertext',
    );
  }
  return lines;
}
