export { ok, err, type Result } from './result.ts';
export { assertNever } from './assert-never.ts';
export { closestMatch, editDistance } from './closest-match.ts';
export { parseDuration, formatDuration, type Milliseconds } from './duration.ts';
export type { Clock, Timers, TimerHandle } from './clock.ts';
export type { Logger, LogFields } from './logger.ts';
