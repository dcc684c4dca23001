import * as os from 'node:os';
import type { LoadResult } from './proxy-compare-loadgen.ts';

/** A run during which other processes used more than this % of a core is repeated. */
export const FOREIGN_LIMIT = 10;
/** ... or during which the VM's host took more than this % of the CPU (steal). */
export const STEAL_LIMIT = 2;

/** CPU taken from the benchmark by other processes and by the VM's host, in % of one core. */
const interference = (r: LoadResult): number => (Number.isNaN(r.foreignCpu) ? 0 : r.foreignCpu) + r.steal * os.cpus().length;
const disturbed = (r: LoadResult): boolean => r.foreignCpu > FOREIGN_LIMIT || r.steal > STEAL_LIMIT;

/**
 * Measures, and while other processes or the host disturbed the run, measures again (at most
 * `retries` times, not past `deadline`), keeping the quietest; counts the runs repeated.
 */
export class QuietRuns {
  repeated = 0;
  readonly #retries: number;
  readonly #deadline: number;
  readonly #progress: (message: string) => void;

  constructor(retries: number, deadline: number, progress: (message: string) => void) {
    this.#retries = retries;
    this.#deadline = deadline;
    this.#progress = progress;
  }

  async measure(label: string, run: () => Promise<LoadResult>): Promise<LoadResult> {
    let best = await run();
    for (let attempt = 0; attempt < this.#retries && disturbed(best) && Date.now() < this.#deadline; attempt++) {
      this.repeated++;
      this.#progress(`  ${label}: other processes used ${best.foreignCpu.toFixed(0)}% of a core, steal ${best.steal.toFixed(1)}%; again`);
      const again = await run();
      if (interference(again) < interference(best)) best = again;
    }
    return best;
  }
}
