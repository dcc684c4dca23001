import { parseDuration } from '../../core/index.ts';
import type { Problems } from './problems.ts';

/**
 * A proto3 JSON duration ("1.5s") in whole milliseconds, truncated as Envoy reads route durations;
 * undefined when unset or wrong (the problem is recorded).
 */
export function durationMs(text: string | undefined, at: string, problems: Problems): number | undefined {
  if (text === undefined) return undefined;
  const parsed = parseDuration(text);
  if (!parsed.ok) {
    problems.add(at, parsed.error);
    return undefined;
  }
  return Math.floor(parsed.value);
}
