import type { Clock, Timers } from '../core/index.ts';

/** The system's clock and timers, injected by the composition roots into everything below main/. */
export const systemClock: Clock = { now: () => Date.now() };
export const systemTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
