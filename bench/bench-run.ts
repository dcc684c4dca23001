/** What the bench commands share around their measurements: the run's clock and report paragraphs. */
import * as os from 'node:os';
import { QuietRuns } from './quiet-runs.ts';

/** A bench run's clock: when it started, its deadline, and progress lines on stderr. */
export interface BenchClock {
  readonly started: number;
  /** `timeLimitS` after the start. */
  readonly deadline: number;
  /** Writes `[<seconds since the start> s] message` on stderr. */
  progress(message: string): void;
  /** Runs measurements again when the machine disturbed them, within the deadline. */
  readonly quiet: QuietRuns;
}

export function benchClock(timeLimitS: number, retries: number): BenchClock {
  const started = Date.now();
  const deadline = started + timeLimitS * 1000;
  const progress = (message: string): void => {
    process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${message}\n`);
  };
  return { started, deadline, progress, quiet: new QuietRuns(retries, deadline, progress) };
}

/** Exits (status 2) unless this is Linux with two cores: `pinned` gets one, the load generator and upstream the other. */
export function requireTwoCores(bench: string, pinned: string): void {
  if (process.platform === 'linux' && os.cpus().length >= 2) return;
  process.stderr.write(`${bench} needs Linux with at least 2 cores (${pinned} gets one, the load generator and upstream the other).\n`);
  process.exit(2);
}

/** The report's lines for what could not run (a failure's further lines indented under it), then a blank line; none without failures. */
export function couldNotRunLines(failures: readonly string[]): string[] {
  if (failures.length === 0) return [];
  return ['**Could not run:**', '', ...failures.map((f) => `- ${f.split('\n').join('\n  ')}`), ''];
}
