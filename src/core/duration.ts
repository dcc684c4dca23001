import { err, ok, type Result } from './result.ts';

/** A span of time in milliseconds (fractions allowed: `1us` is 0.001). */
export type Milliseconds = number;

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/**
 * Parses a duration as Istio's YAML writes it (Go duration syntax: `1.5s`, `100ms`, `1h30m`).
 * A bare number has no unit and is refused, as Istio refuses it.
 */
export function parseDuration(text: string): Result<Milliseconds, string> {
  if (text.length === 0) return err('empty duration');
  let position = 0;
  let total = 0;
  PART.lastIndex = 0;
  while (position < text.length) {
    PART.lastIndex = position;
    const match = PART.exec(text);
    if (match === null) {
      return err(`"${text}" is not a duration (expected a number with a unit: ns, us, ms, s, m, h, e.g. "1.5s" or "100ms")`);
    }
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
    position = PART.lastIndex;
  }
  return ok(total);
}

export function formatDuration(ms: Milliseconds): string {
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
