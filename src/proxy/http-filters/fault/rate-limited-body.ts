import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import type { Clock, TimerHandle, Timers } from '../../../core/index.ts';

/** Envoy's stream rate limiter hands out bytes every 50 ms. */
const FILL_INTERVAL_MS = 50;

/**
 * A response body slowed to a fixed rate, as Envoy's response rate limit fault does it: a token
 * bucket of one second's worth of bytes, filled continuously and starting with one fill
 * interval's worth; every 50 ms as many buffered bytes go out as there are tokens. Backpressure
 * holds: the next chunk of the source is taken only once the last one is out.
 */
export class RateLimitedBody extends Transform {
  readonly #bytesPerSecond: number;
  readonly #timers: Timers;
  readonly #clock: Clock;
  #tokens: number;
  #filledAt: number;
  #pending: Buffer | undefined;
  #callback: TransformCallback | undefined;
  #timer: TimerHandle | undefined;

  constructor(bytesPerSecond: number, timers: Timers, clock: Clock) {
    super();
    this.#bytesPerSecond = bytesPerSecond;
    this.#timers = timers;
    this.#clock = clock;
    this.#tokens = (bytesPerSecond * FILL_INTERVAL_MS) / 1000;
    this.#filledAt = clock.now();
  }

  /** The body (a stream or a whole buffer) behind a limiter; destroying the limiter destroys the source. */
  static wrap(body: Readable | Buffer, bytesPerSecond: number, timers: Timers, clock: Clock): RateLimitedBody {
    const limiter = new RateLimitedBody(bytesPerSecond, timers, clock);
    if (Buffer.isBuffer(body)) limiter.end(body);
    // A failing source fails the limiter, which the connection manager sees as a broken body.
    else pipeline(body, limiter, () => {});
    return limiter;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#pending = chunk;
    this.#callback = callback;
    this.#release();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = undefined;
    this.#callback = undefined;
    callback(error);
  }

  readonly #release = (): void => {
    this.#timer = undefined;
    const pending = this.#pending;
    if (pending === undefined) return;
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#bytesPerSecond, this.#tokens + ((now - this.#filledAt) * this.#bytesPerSecond) / 1000);
    this.#filledAt = now;
    const count = Math.min(Math.floor(this.#tokens), pending.length);
    this.#tokens -= count;
    if (count === pending.length) {
      const callback = this.#callback;
      this.#pending = undefined;
      this.#callback = undefined;
      callback?.(null, pending);
      return;
    }
    if (count > 0) this.push(pending.subarray(0, count));
    this.#pending = pending.subarray(count);
    this.#timer = this.#timers.setTimeout(this.#release, FILL_INTERVAL_MS);
  };
}
