#!/usr/bin/env node
import {
  boundedLaunch,
  followLauncher,
  HeapSettingError,
  MAX_HEAP_ENV,
  runBounded,
} from './bounded-heap.js';

/**
 * The `crypto-replicator` executable. Long-running commands re-execute this file once with a
 * bounded V8 heap (see bounded-heap.ts); everything else, and the bounded process itself,
 * loads the program. NOTE: only node: built-ins are imported before that decision, so the
 * launcher that stays behind to forward signals is as small as a Node process can be.
 */
async function main(): Promise<void> {
  let launch: ReturnType<typeof boundedLaunch>;
  try {
    launch = boundedLaunch({ argv: process.argv, execArgv: process.execArgv, env: process.env });
  } catch (error) {
    if (!(error instanceof HeapSettingError)) throw error;
    process.stderr.write(`error: ${error.message}\n`);
    process.stderr.write(`hint: unset ${MAX_HEAP_ENV} to use the default bound\n`);
    process.exitCode = 2;
    return;
  }
  if (launch !== undefined) {
    process.exitCode = await runBounded(launch);
    return;
  }

  followLauncher();
  const { runProgram } = await import('./program.js');
  await runProgram(process.argv);
}

await main();
