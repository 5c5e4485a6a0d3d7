import { spawn } from 'node:child_process';

/**
 * `npm run test:faults [-- --long] [vitest arguments]`: run the fault suite with vitest.
 * `--long` selects the long form (50 kills, a backlog of one million rows) by setting
 * `FAULTS_LONG=1` for the test processes; `FAULTS_SEED=N` replays a scenario's choices.
 */
const args = process.argv.slice(2);
const long = args.includes('--long');
const rest = args.filter((arg) => arg !== '--long');
const child = spawn(
  process.execPath,
  ['node_modules/vitest/vitest.mjs', 'run', '--config', 'vitest.faults.config.ts', ...rest],
  {
    stdio: 'inherit',
    env: { ...process.env, FAULTS_LONG: long ? '1' : (process.env.FAULTS_LONG ?? '') },
  },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)));
