import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { EncryptedEnvelope, HybridDecryptor } from '../../envelope/index.js';
import { AuthenticationError, IntegrityError, UsageError } from '../../errors.js';
import {
  type Identity,
  loadIdentity,
  loadVerifyKey,
  readPassphraseFile,
  type VerifyKey,
} from '../../keys/index.js';
import { openSegment } from '../../segment/index.js';
import { CHECKPOINT_MAGIC, SEGMENT_MAGIC } from '../../segment/segment-constants.js';
import { action } from '../action.js';

interface DecryptOptions {
  identity?: string[];
  passphraseFile?: string;
  verifyKey?: string;
}

/** One input: its name for messages and its bytes. */
export interface Input {
  name: string;
  bytes: Buffer;
}

/** What an input holds, by its first bytes. */
export type InputKind = 'segment' | 'checkpoint' | 'envelopes';

/**
 * `crypto-replicator decrypt --identity PRIV.pem [FILE ...]`: open v1 envelopes and v2 segments
 * and print one JSON line per change. Each input is fully verified before any of it is printed.
 *
 * @example
 * ```sh
 * crypto-replicator decrypt --identity private.pem envelope.json
 * ```
 */
export function decryptCommand(): Command {
  return new Command('decrypt')
    .description('open v1 envelopes or v2 segments and print their changes as JSON lines')
    .argument('[files...]', 'envelope or segment files; "-" or none reads stdin')
    .option('--identity <priv.pem>', 'private recovery key (PKCS#1 or PKCS#8); repeatable', collect)
    .option('--passphrase-file <file>', 'passphrase of an encrypted --identity key')
    .option('--verify-key <pub.pem>', 'refuse segments not signed by this Ed25519 key')
    .action(action(decrypt));
}

async function decrypt(files: string[], options: DecryptOptions): Promise<void> {
  // Guard: at least one identity.
  const identityPaths = options.identity ?? [];
  if (identityPaths.length === 0) {
    throw new UsageError('decrypt: --identity is missing', {
      hint: 'pass the private recovery key, e.g. --identity private.pem',
    });
  }

  // Keys first: a wrong key or passphrase stops before any input is read.
  const passphrase =
    options.passphraseFile === undefined
      ? undefined
      : await readPassphraseFile(options.passphraseFile);
  const identities = await Promise.all(
    identityPaths.map((path) => loadIdentity(path, { passphrase })),
  );
  const verifyKey =
    options.verifyKey === undefined ? undefined : await loadVerifyKey(options.verifyKey);

  // Each input in turn, printed only once all of it opened.
  for (const input of await readInputs(files)) {
    const lines = openInput(input, identities, verifyKey);
    process.stdout.write(lines.map((line) => `${line}\n`).join(''));
  }
}

function openInput(
  input: Input,
  identities: Identity[],
  verifyKey: VerifyKey | undefined,
): string[] {
  const kind = inputKind(input.bytes);
  if (kind === 'checkpoint') {
    throw new UsageError(`decrypt "${input.name}": a checkpoint holds no changes`, {
      hint: `run "crypto-replicator inspect ${input.name}" to see it`,
    });
  }

  // v2: one segment, every change of every transaction.
  if (kind === 'segment') {
    const { header, transactions } = openSegment(input.bytes, {
      identities,
      verifyKey,
      name: input.name,
    });
    return transactions.flatMap((transaction) =>
      transaction.records.map((record) =>
        JSON.stringify({
          stream: header.streamId,
          sequence: header.sequence,
          xid: transaction.xid,
          commitTime: transaction.commitTime,
          position: transaction.position,
          ...(transaction.continues === true ? { continues: true } : {}),
          ...record,
        }),
      ),
    );
  }

  // v1: envelopes carry no signature, so a verify key cannot be honoured.
  if (verifyKey !== undefined) {
    throw new UsageError(
      `decrypt "${input.name}": v1 envelopes are not signed, --verify-key cannot apply`,
      {
        hint: 'drop --verify-key for v1 envelopes; only v2 segments are signed',
      },
    );
  }
  const decryptors = identities.map((identity) => new HybridDecryptor(identity));
  return parseEnvelopes(input).map(({ envelope, name }) => {
    const data = decryptWithAny(decryptors, envelope, name);
    return JSON.stringify({
      table: envelope.table,
      operation: envelope.operation,
      timestamp: envelope.timestamp,
      key_id: envelope.key_id,
      data,
    });
  });
}

/** Commander collector for repeatable options. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * Decrypt with the identity whose key id the envelope names, else try each in turn (the seed's
 * key ids may follow another scheme). The last failure is reported when none fits.
 */
function decryptWithAny(decryptors: HybridDecryptor[], envelope: EncryptedEnvelope, name: string) {
  const ordered = [
    ...decryptors.filter((d) => d.identity.keyId === envelope.key_id),
    ...decryptors.filter((d) => d.identity.keyId !== envelope.key_id),
  ];
  let failure: unknown;
  for (const decryptor of ordered) {
    try {
      return decryptor.decrypt(envelope, { name });
    } catch (error) {
      if (!(error instanceof AuthenticationError)) throw error;
      failure = error;
    }
  }
  throw failure;
}

/**
 * Split a v1 input into envelopes: one (indented) JSON object, or one envelope per line.
 *
 * @example
 * ```ts
 * parseEnvelopes({ name: 'a.json', bytes }); // => [{ envelope, name: 'a.json' }]
 * ```
 */
export function parseEnvelopes(input: Input): Array<{ envelope: EncryptedEnvelope; name: string }> {
  const text = input.bytes.toString('utf8');
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch {
    whole = undefined;
  }
  if (whole !== undefined) {
    return [
      {
        envelope: EncryptedEnvelope.fromJson(whole as object, { name: input.name }),
        name: input.name,
      },
    ];
  }
  const envelopes: Array<{ envelope: EncryptedEnvelope; name: string }> = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    if (lines[index]!.trim() === '') continue;
    const name = `${input.name} line ${index + 1}`;
    envelopes.push({ envelope: EncryptedEnvelope.fromJson(lines[index]!, { name }), name });
  }
  if (envelopes.length === 0) {
    throw new IntegrityError(`read "${input.name}": empty, expected an envelope or a segment`);
  }
  return envelopes;
}

/**
 * What an input holds, by its magic bytes: a v2 segment, a checkpoint, or v1 JSON.
 *
 * @example
 * ```ts
 * inputKind(sealed.bytes); // => 'segment'
 * ```
 */
export function inputKind(bytes: Buffer): InputKind {
  if (bytes.subarray(0, 4).equals(SEGMENT_MAGIC)) return 'segment';
  if (bytes.subarray(0, 4).equals(CHECKPOINT_MAGIC)) return 'checkpoint';
  return 'envelopes';
}

/**
 * Read the named files (`-` is stdin; no names read stdin), with one-line errors.
 *
 * @example
 * ```ts
 * const inputs = await readInputs(['a.seg', '-']);
 * ```
 */
export async function readInputs(files: string[]): Promise<Input[]> {
  const names = files.length === 0 ? ['-'] : files;
  const inputs: Input[] = [];
  for (const name of names) {
    if (name === '-') {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      inputs.push({ name: 'stdin', bytes: Buffer.concat(chunks) });
      continue;
    }
    try {
      inputs.push({ name, bytes: await readFile(name) });
    } catch (error) {
      const code = (error as { code?: string }).code;
      const cause =
        code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : code;
      throw new UsageError(`read "${name}": ${cause ?? 'cannot read'}`);
    }
  }
  return inputs;
}
