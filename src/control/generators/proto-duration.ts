import { parseDuration } from '../../core/index.ts';

/**
 * A duration as Istio's YAML writes it (`1h`, `100ms`, `1m30s`) in proto3 JSON form, seconds with
 * up to nine decimals (`3600s`, `0.100s`, `90s`). The input has passed validation, so a value that
 * does not parse is a bug.
 */
export function protoDuration(text: string): string {
  const parsed = parseDuration(text);
  if (!parsed.ok) throw new Error(`protoDuration: ${parsed.error}`);
  return protoDurationFromMs(parsed.value);
}

export function protoDurationFromMs(ms: number): string {
  const nanos = Math.round(ms * 1e6);
  const seconds = Math.floor(nanos / 1e9);
  const fraction = nanos % 1e9;
  return fraction === 0 ? `${seconds}s` : `${seconds}.${String(fraction).padStart(9, '0').replace(/0+$/, '')}s`;
}

/** Whole seconds, for the fields Envoy counts in seconds (TCP keepalive). */
export function durationSeconds(text: string): number {
  const parsed = parseDuration(text);
  if (!parsed.ok) throw new Error(`durationSeconds: ${parsed.error}`);
  return Math.max(1, Math.floor(parsed.value / 1000));
}
