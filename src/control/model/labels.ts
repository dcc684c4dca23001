export type Labels = Readonly<Record<string, string>>;

/** True when every label of `selector` is on `labels` (an empty selector matches everything). */
export function labelsMatch(selector: Labels | undefined, labels: Labels): boolean {
  if (selector === undefined) return true;
  for (const [key, value] of Object.entries(selector)) if (labels[key] !== value) return false;
  return true;
}
