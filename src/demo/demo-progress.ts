import cliProgress from 'cli-progress';

/** One phase's progress display: a bar on a terminal, a few plain lines otherwise. */
export interface PhaseProgress {
  update(done: number): void;
  /** Finish the phase with a closing line. */
  done(line: string): void;
}

export interface DemoOutput {
  /** Print one line of the demo's narrative. */
  line(text: string): void;
  /** Start a counted phase, e.g. "writing changes" out of 3,400. */
  phase(label: string, total: number): PhaseProgress;
}

/** Plain-line mode prints at most this many progress lines per phase. */
const PLAIN_STEPS = 4;

/**
 * The demo's output: progress bars on a terminal, and on anything else (CI logs, pipes) plain
 * lines at a few milestones so the log stays readable.
 *
 * @example
 * ```ts
 * const out = createDemoOutput(process.stdout);
 * const writing = out.phase('writing changes', 3400);
 * writing.update(1700);
 * writing.done('wrote 3,400 changes');
 * ```
 */
export function createDemoOutput(stream: NodeJS.WriteStream): DemoOutput {
  const tty = stream.isTTY === true && process.env.CI === undefined;
  const line = (text: string) => {
    stream.write(`${text}\n`);
  };
  return {
    line,
    phase: (label, total) =>
      tty ? barPhase(stream, label, total) : plainPhase(line, label, total),
  };
}

function barPhase(stream: NodeJS.WriteStream, label: string, total: number): PhaseProgress {
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `  ${label.padEnd(22)} {bar} {percentage}% | {value}/{total} | {eta_formatted} left`,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return {
    update: (done) => bar.update(Math.min(done, total)),
    done: (text) => {
      bar.stop();
      stream.write(`${text}\n`);
    },
  };
}

function plainPhase(line: (text: string) => void, label: string, total: number): PhaseProgress {
  let nextMark = 1;
  return {
    update: (done) => {
      // One line when one or more quarter marks were crossed since the last line.
      let crossed = false;
      while (nextMark < PLAIN_STEPS && done >= (total * nextMark) / PLAIN_STEPS) {
        nextMark++;
        crossed = true;
      }
      // Clamped as the bar is: a restore also counts the snapshot's changes, which the total
      // (the changes written) leaves out; the phase's closing line says how many there were.
      if (crossed)
        line(`  ${label}: ${formatCount(Math.min(done, total))} of ${formatCount(total)}`);
    },
    done: (text) => line(text),
  };
}

/**
 * A count with thousands separators, independent of the machine's locale.
 *
 * @example
 * ```ts
 * formatCount(12345); // => '12,345'
 * ```
 */
export function formatCount(value: number): string {
  return Math.round(value)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
