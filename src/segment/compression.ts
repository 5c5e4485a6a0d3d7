import {
  brotliCompressSync,
  brotliDecompressSync,
  constants,
  deflateRawSync,
  inflateRawSync,
} from 'node:zlib';
import type { CompressionName } from './segment-constants.js';

/** Brotli quality the writer uses: fast, and still well under the size target (see BENCHMARKS). */
export const BROTLI_QUALITY = 1;

/**
 * Compress a payload with the named algorithm.
 *
 * @example
 * ```ts
 * const packed = compress('brotli', payload);
 * ```
 */
export function compress(algorithm: CompressionName, payload: Buffer): Buffer {
  if (algorithm === 'none') return payload;
  if (algorithm === 'deflateRaw') return deflateRawSync(payload, { level: 6 });
  return brotliCompressSync(payload, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
      [constants.BROTLI_PARAM_SIZE_HINT]: payload.length,
    },
  });
}

/**
 * Decompress a payload, refusing to produce more than `maxBytes` (a decompression bomb is
 * stopped, not buffered). Throws the zlib error on malformed input or when over the limit.
 *
 * @example
 * ```ts
 * const payload = decompress('brotli', packed, MAX_SEGMENT_PLAINTEXT_BYTES);
 * ```
 */
export function decompress(algorithm: CompressionName, packed: Buffer, maxBytes: number): Buffer {
  if (algorithm === 'none') {
    if (packed.length > maxBytes) throw new RangeError(`payload over ${maxBytes} bytes`);
    return packed;
  }
  if (algorithm === 'deflateRaw') return inflateRawSync(packed, { maxOutputLength: maxBytes });
  return brotliDecompressSync(packed, { maxOutputLength: maxBytes });
}
