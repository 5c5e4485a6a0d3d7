/**
 * A JSON value parsed without losing anything: numbers keep their exact digits, and every
 * value keeps its source text (`raw`), so a json/jsonb column can be passed on unchanged.
 */
export type LosslessJson =
  | { type: 'null'; raw: string }
  | { type: 'boolean'; value: boolean; raw: string }
  | { type: 'number'; raw: string }
  | { type: 'string'; value: string; raw: string }
  | { type: 'array'; items: LosslessJson[]; raw: string }
  | { type: 'object'; entries: Array<[string, LosslessJson]>; raw: string };

const WHITESPACE = /\s/;

/**
 * Parse JSON text keeping number digits and source text. Throws SyntaxError on bad input.
 *
 * @example
 * ```ts
 * parseLossless('{"n": 9007199254740993}'); // entries[0][1].raw === '9007199254740993'
 * ```
 */
export function parseLossless(text: string): LosslessJson {
  let at = 0;
  const skip = () => {
    while (at < text.length && WHITESPACE.test(text[at]!)) at++;
  };
  const fail = (): never => {
    throw new SyntaxError(`invalid JSON at offset ${at}`);
  };

  const value = (): LosslessJson => {
    skip();
    const start = at;
    const ch = text[at];
    if (ch === '{') {
      at++;
      const entries: Array<[string, LosslessJson]> = [];
      skip();
      if (text[at] === '}') at++;
      else {
        for (;;) {
          skip();
          const key = value();
          if (key.type !== 'string') fail();
          skip();
          if (text[at++] !== ':') fail();
          entries.push([(key as { value: string }).value, value()]);
          skip();
          const next = text[at++];
          if (next === '}') break;
          if (next !== ',') fail();
        }
      }
      return { type: 'object', entries, raw: text.slice(start, at) };
    }
    if (ch === '[') {
      at++;
      const items: LosslessJson[] = [];
      skip();
      if (text[at] === ']') at++;
      else {
        for (;;) {
          items.push(value());
          skip();
          const next = text[at++];
          if (next === ']') break;
          if (next !== ',') fail();
        }
      }
      return { type: 'array', items, raw: text.slice(start, at) };
    }
    if (ch === '"') {
      at++;
      while (at < text.length && text[at] !== '"') at += text[at] === '\\' ? 2 : 1;
      if (at >= text.length) fail();
      at++;
      const raw = text.slice(start, at);
      return { type: 'string', value: JSON.parse(raw) as string, raw };
    }
    for (const [word, parsed] of [
      ['null', { type: 'null' }],
      ['true', { type: 'boolean', value: true }],
      ['false', { type: 'boolean', value: false }],
    ] as const) {
      if (text.startsWith(word, at)) {
        at += word.length;
        return { ...parsed, raw: word } as LosslessJson;
      }
    }
    const number = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(at, at + 400));
    if (number === null) return fail();
    at += number[0].length;
    return { type: 'number', raw: number[0] };
  };

  const result = value();
  skip();
  if (at !== text.length) fail();
  return result;
}
