export interface RestartBackoffSettings {
  /** The delay before the first restart, and after a run that reset the backoff. */
  readonly initialMs: number;
  /** The delay never grows past this. */
  readonly maxMs: number;
  /** A run that lasted at least this long counts as healthy: the next delay starts over. */
  readonly resetAfterMs: number;
}

/**
 * The delay before restarting a crashed process: doubling from `initialMs` up to `maxMs`, so that a
 * process that crashes at once does not spin, and back to `initialMs` once a run lasted
 * `resetAfterMs`, so that a rare crash of a long-lived process is restarted quickly.
 */
export class RestartBackoff {
  readonly #settings: RestartBackoffSettings;
  #next: number;

  /** Unset settings are 1s initially, at most 30s, reset after a 10s run. */
  constructor({ initialMs = 1000, maxMs = 30_000, resetAfterMs = 10_000 }: Partial<RestartBackoffSettings> = {}) {
    if (!(initialMs > 0) || !Number.isFinite(initialMs)) throw new RangeError(`backoff initialMs must be a positive number, not ${initialMs}`);
    if (!(maxMs >= initialMs) || !Number.isFinite(maxMs)) throw new RangeError(`backoff maxMs (${maxMs}) must be a number at least initialMs (${initialMs})`);
    if (!(resetAfterMs >= 0)) throw new RangeError(`backoff resetAfterMs must not be negative, not ${resetAfterMs}`);
    this.#settings = { initialMs, maxMs, resetAfterMs };
    this.#next = initialMs;
  }

  /** The delay before restarting a process whose run lasted `ranForMs`; each call is one restart. */
  delayAfter(ranForMs: number): number {
    if (ranForMs >= this.#settings.resetAfterMs) this.#next = this.#settings.initialMs;
    const delay = this.#next;
    this.#next = Math.min(delay * 2, this.#settings.maxMs);
    return delay;
  }

  /** Starts over, as for a process that was stopped and started again. */
  reset(): void {
    this.#next = this.#settings.initialMs;
  }
}
