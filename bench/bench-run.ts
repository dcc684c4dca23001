/** What the bench commands share around their measurements: the run's clock and report paragraphs. */

/** A bench run's clock: when it started, its deadline, and progress lines on stderr. */
export interface BenchClock {
  readonly started: number;
  /** `timeLimitS` after the start. */
  readonly deadline: number;
  /** Writes `[<seconds since the start> s] message` on stderr. */
  progress(message: string): void;
}

export function benchClock(timeLimitS: number): BenchClock {
  const started = Date.now();
  return {
    started,
    deadline: started + timeLimitS * 1000,
    progress(message) {
      process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${message}\n`);
    },
  };
}

/** The report's lines for what could not run (a failure's further lines indented under it), then a blank line; none without failures. */
export function couldNotRunLines(failures: readonly string[]): string[] {
  if (failures.length === 0) return [];
  return ['**Could not run:**', '', ...failures.map((f) => `- ${f.split('\n').join('\n  ')}`), ''];
}
