import { createHash, timingSafeEqual } from 'node:crypto';
import { UsageError } from '../errors.js';

/** What a bearer token allows: `write` appends objects, `read` lists and reads them. */
export type TokenRole = 'write' | 'read';

/** Shortest token the vault accepts, in characters: guessing must be hopeless. */
export const MIN_TOKEN_LENGTH = 24;

/**
 * Decides which role a request's `Authorization: Bearer …` header carries. Tokens are compared
 * as SHA-256 digests with `timingSafeEqual`, so the time taken says nothing about how much of a
 * guess was right or how long the real token is; both tokens are always compared.
 *
 * @example
 * ```ts
 * const check = new TokenCheck({ writeToken, readToken });
 * check.roleOf(request.headers.authorization); // 'write' | 'read' | undefined
 * ```
 */
export class TokenCheck {
  readonly #write: Buffer;
  readonly #read: Buffer;

  constructor(tokens: { writeToken: string; readToken: string }) {
    const named: Array<[string, string]> = [
      ['write', tokens.writeToken],
      ['read', tokens.readToken],
    ];
    for (const [kind, token] of named) {
      if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
        throw new UsageError(
          `load vault ${kind} token: shorter than ${MIN_TOKEN_LENGTH} characters or contains spaces`,
          { hint: 'generate one with: openssl rand -hex 32 > token-file' },
        );
      }
    }
    if (tokens.writeToken === tokens.readToken) {
      throw new UsageError('load vault tokens: the write token and the read token are the same', {
        hint: 'use two different tokens so that the replicator cannot read and restore cannot write',
      });
    }
    this.#write = digest(tokens.writeToken);
    this.#read = digest(tokens.readToken);
  }

  roleOf(authorization: string | undefined): TokenRole | undefined {
    const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(authorization ?? '');
    const given = digest(match?.[1] ?? '');
    // Compare against both before deciding, so both branches cost the same.
    const isWrite = timingSafeEqual(given, this.#write);
    const isRead = timingSafeEqual(given, this.#read);
    if (match === null) return undefined;
    if (isWrite) return 'write';
    if (isRead) return 'read';
    return undefined;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
