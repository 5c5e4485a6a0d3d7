import { fileURLToPath } from 'node:url';

const fixture = (name: string) =>
  fileURLToPath(new URL(`../../fixtures/keys/${name}`, import.meta.url));

/** Test-only keys from test/fixtures/keys (never used outside tests). */
export const FAULT_KEYS = {
  recoveryPub: fixture('TEST-ONLY-recovery-3072.pub'),
  recoveryPem: fixture('TEST-ONLY-recovery-3072.pem'),
  signingPem: fixture('TEST-ONLY-signing.pem'),
  signingPub: fixture('TEST-ONLY-signing.pub'),
  otherSigningPem: fixture('TEST-ONLY-other-signing.pem'),
  otherSigningPub: fixture('TEST-ONLY-other-signing.pub'),
  otherRecoveryPem: fixture('TEST-ONLY-other-recovery-2048.pem'),
};
