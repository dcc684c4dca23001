import type { ResourceKind } from '../generators/generator.ts';
import type { ChangedKinds, Clock, PushSettings, TimerHandle, Timers } from './ads-server-options.ts';

export interface PushDebouncerOptions {
  readonly settings: PushSettings;
  readonly clock: Clock;
  readonly timers: Timers;
  /** Called once per burst with every kind the burst changed. */
  flush(changed: ChangedKinds): void;
}

/**
 * Collapses a burst of snapshot changes into one push: it flushes once no change has come for
 * the quiet period, or when the first change of the burst is `debounceMaxMs` old, whichever
 * comes first, so that a steady stream of changes still reaches proxies.
 */
export class PushDebouncer {
  readonly #options: PushDebouncerOptions;
  #pending: Set<ResourceKind> | 'all' | undefined;
  #firstAt = 0;
  #timer: TimerHandle | undefined;

  constructor(options: PushDebouncerOptions) {
    this.#options = options;
  }

  notify(changed: ChangedKinds): void {
    const { clock, timers, settings } = this.#options;
    const now = clock.now();
    if (this.#pending === undefined) {
      this.#pending = new Set();
      this.#firstAt = now;
    }
    if (changed === 'all' || this.#pending === 'all') this.#pending = 'all';
    else for (const kind of changed) this.#pending.add(kind);
    if (this.#timer !== undefined) timers.clearTimeout(this.#timer);
    const delay = Math.max(0, Math.min(settings.debounceQuietMs, this.#firstAt + settings.debounceMaxMs - now));
    this.#timer = timers.setTimeout(() => this.#fire(), delay);
  }

  /** Drops a pending push. */
  close(): void {
    if (this.#timer !== undefined) this.#options.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = undefined;
  }

  #fire(): void {
    const pending = this.#pending;
    this.#timer = undefined;
    this.#pending = undefined;
    if (pending !== undefined) this.#options.flush(pending);
  }
}
