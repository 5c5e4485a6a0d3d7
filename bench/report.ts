/** One measured figure, printed as a row of the benchmark table. */
export interface Figure {
  /** Which benchmark group, e.g. `format`, `capture`, `restore`. */
  group: string;
  name: string;
  value: number;
  unit: string;
  /** The baseline figure measured in the same run, when this row is a comparison. */
  baseline?: { name: string; value: number };
  /** The target ratio from the issue, e.g. `>= 400x`, shown beside the measured ratio. */
  target?: string;
}

/** Collects figures from every benchmark module and prints them as one table. */
export class BenchReport {
  readonly figures: Figure[] = [];

  add(figure: Figure): void {
    this.figures.push(figure);
    process.stderr.write(
      `  ${figure.group}: ${figure.name} = ${formatNumber(figure.value)} ${figure.unit}\n`,
    );
  }

  toMarkdown(): string {
    const lines = [
      '| group | figure | value | baseline (same run) | ratio | target |',
      '| --- | --- | ---: | --- | ---: | --- |',
    ];
    for (const f of this.figures) {
      const baseline = f.baseline ? `${f.baseline.name}: ${formatNumber(f.baseline.value)}` : '';
      const ratio =
        f.baseline && f.baseline.value !== 0 ? `${(f.value / f.baseline.value).toFixed(2)}x` : '';
      lines.push(
        `| ${f.group} | ${f.name} | ${formatNumber(f.value)} ${f.unit} | ${baseline} | ${ratio} | ${f.target ?? ''} |`,
      );
    }
    return lines.join('\n');
  }
}

export function formatNumber(value: number): string {
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toPrecision(3);
}

/** Peak resident set size of this process so far, in MiB. */
export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}
