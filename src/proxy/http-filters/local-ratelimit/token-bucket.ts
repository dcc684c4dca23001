/** A token bucket's shape, as `envoy.type.v3.TokenBucket` gives it. */
export interface TokenBucketSpec {
  readonly maxTokens: number;
  readonly tokensPerFill: number;
  /** Whole milliseconds, at least 50. */
  readonly fillIntervalMs: number;
}

/**
 * Envoy's local rate limit bucket: it starts full, each request takes one token, and every fill
 * interval adds `tokensPerFill` tokens, never beyond `maxTokens`. Fills are worked out from the
 * time passed whenever the bucket is used, so no timer runs; the intervals count from the
 * bucket's first use (Envoy counts them from when the config loads: the same rate, another phase).
 */
export class TokenBucket {
  readonly spec: TokenBucketSpec;
  #tokens: number;
  /** When the current interval began; undefined until first used. */
  #intervalStart: number | undefined;

  constructor(spec: TokenBucketSpec) {
    this.spec = spec;
    this.#tokens = spec.maxTokens;
  }

  /** Takes a token at `now` (ms); false when none is left. */
  tryTake(now: number): boolean {
    this.#fill(now);
    if (this.#tokens === 0) return false;
    this.#tokens--;
    return true;
  }

  /** The tokens left at `now`. */
  remaining(now: number): number {
    this.#fill(now);
    return this.#tokens;
  }

  /** Milliseconds from `now` until the next fill, in (0, fillIntervalMs]. */
  untilNextFill(now: number): number {
    this.#fill(now);
    return this.spec.fillIntervalMs - (now - (this.#intervalStart ?? now));
  }

  #fill(now: number): void {
    const start = this.#intervalStart;
    // A wall clock stepped back starts the interval again rather than stalling the bucket.
    if (start === undefined || now < start) {
      this.#intervalStart = now;
      return;
    }
    const { maxTokens, tokensPerFill, fillIntervalMs } = this.spec;
    const fills = Math.floor((now - start) / fillIntervalMs);
    if (fills === 0) return;
    this.#tokens = Math.min(maxTokens, this.#tokens + fills * tokensPerFill);
    this.#intervalStart = start + fills * fillIntervalMs;
  }
}
