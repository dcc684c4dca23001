/** Kubernetes equality-based label selection, as `selector.matchLabels` and `workloadSelector.labels` use it. */

export type Labels = Readonly<Record<string, string>>;

/** Whether `labels` carry every key of `selector` with the same value. An empty selector selects everything. */
export function selectorMatches(selector: Labels, labels: Labels): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/** `app=reviews,version=v1`, keys sorted, as istioctl prints a selector. */
export function formatSelector(selector: Labels): string {
  return Object.keys(selector).sort().map((key) => `${key}=${selector[key] ?? ''}`).join(',');
}
