import { expect } from 'vitest';
import type { CliResult } from '../support/cli.js';

/**
 * Assert that a command failed the way every command must: exit code `code`, one `error:` line
 * matching `message`, a `hint:` line when `hint` is set, no stack trace, no key material.
 */
export function expectCleanError(
  result: CliResult,
  code: number,
  message: RegExp,
  options: { hint?: boolean } = {},
): void {
  expect(result.code, result.stderr).toBe(code);
  const first = result.stderr.split('\n')[0] ?? '';
  expect(first).toMatch(/^error: /);
  expect(first).toMatch(message);
  if (options.hint === true) expect(result.stderr).toMatch(/^hint: /m);
  expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
  // No PEM block and no DER key in base64 (RSA keys start MII…, Ed25519 PKCS#8 MC4CAQAw).
  const output = result.stderr + result.stdout;
  expect(output).not.toMatch(/-----BEGIN [A-Z ]+-----\s*\n|MII[A-Za-z0-9+/]{20}|MC4CAQAw/);
}
