export interface BackoffOptions {
  /** The first ceiling, in milliseconds (Envoy's xDS default: 500). */
  readonly baseMs?: number;
  /** No delay exceeds this (Envoy's xDS default: 30 s). */
  readonly maxMs?: number;
  /** Uniform in [0, 1). */
  readonly random: () => number;
}

export const DEFAULT_BACKOFF_BASE_MS = 500;
export const DEFAULT_BACKOFF_MAX_MS = 30_000;

/**
 * Jittered exponential back-off, as Envoy reconnects to its control plane: the n-th delay since
 * the last reset is uniform in [0, min(base · 2^n, max)), so that proxies cut off together do not
 * come back together.
 */
export class JitteredBackoff {
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  #ceilingMs: number;

  constructor(options: BackoffOptions) {
    const baseMs = options.baseMs ?? DEFAULT_BACKOFF_BASE_MS;
    const maxMs = options.maxMs ?? DEFAULT_BACKOFF_MAX_MS;
    if (!(baseMs > 0) || !(maxMs >= baseMs)) throw new RangeError(`back-off needs 0 < baseMs <= maxMs (got ${baseMs} and ${maxMs})`);
    this.#baseMs = baseMs;
    this.#maxMs = maxMs;
    this.#random = options.random;
    this.#ceilingMs = baseMs;
  }

  /** The delay before the next attempt; each call doubles the ceiling of the next, up to the maximum. */
  next(): number {
    const ceiling = this.#ceilingMs;
    this.#ceilingMs = Math.min(ceiling * 2, this.#maxMs);
    return Math.floor(this.#random() * ceiling);
  }

  /** Starts again from the base, after a healthy connection. */
  reset(): void {
    this.#ceilingMs = this.#baseMs;
  }
}
