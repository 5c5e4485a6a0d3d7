import { BenchReport } from './report.js';

/**
 * `npm run bench [-- GROUP ...]`: runs every benchmark module (or the named groups) and prints
 * one table of figures, each comparison against a baseline measured in the same run.
 */
const MODULES: Record<string, () => Promise<{ run: (report: BenchReport) => Promise<void> }>> = {
  // group name → module; each module adds its figures to the shared report.
  format: () => import('./format.bench.js'),
  capture: () => import('./capture.bench.js'),
  store: () => import('./store.bench.js'),
  restore: () => import('./restore.bench.js'),
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
  const report = new BenchReport();
  for (const [group, load] of Object.entries(MODULES)) {
    if (wanted.length > 0 && !wanted.includes(group)) continue;
    process.stderr.write(`bench ${group}…\n`);
    const module = await load();
    await module.run(report);
  }
  process.stdout.write(`${report.toMarkdown()}\n`);
}

await main();
