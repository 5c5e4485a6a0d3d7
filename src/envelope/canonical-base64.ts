/** Standard base64 with padding (RFC 4648 §4), the only form v1 envelopes use. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decode standard padded base64, refusing every other spelling of the same bytes (URL-safe
 * alphabet, missing padding, whitespace, non-zero trailing bits). Returns undefined when the
 * text is not canonical.
 *
 * @example
 * ```ts
 * decodeCanonicalBase64('AAE='); // => <Buffer 00 01>
 * decodeCanonicalBase64('AAF='); // => undefined (trailing bits set)
 * ```
 */
export function decodeCanonicalBase64(text: string): Buffer | undefined {
  if (!BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  // Re-encoding catches non-zero trailing bits, the one ambiguity the pattern lets through.
  if (bytes.toString('base64') !== text) return undefined;
  return bytes;
}
