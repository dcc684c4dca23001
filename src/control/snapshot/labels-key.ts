import type { Labels } from '../model/index.ts';

/** A canonical text of a label set (keys sorted), for cache and equality keys. */
export function labelsKey(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
