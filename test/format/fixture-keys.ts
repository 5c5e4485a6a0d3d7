import { fileURLToPath } from 'node:url';

const KEYS = fileURLToPath(new URL('../fixtures/keys/', import.meta.url));

/** Path of a TEST-ONLY key file under test/fixtures/keys. */
export function keyPath(file: string): string {
  return `${KEYS}${file}`;
}

export const TEST_PASSPHRASE = 'TEST-ONLY passphrase';
