/**
 * The candidate a misspelt word most likely meant, for "did you mean" hints.
 * Case, '_' and '-' are ignored first, so `fixed_delay` finds `fixedDelay`; otherwise the
 * nearest by edit distance wins when it is close enough to be a plausible typo.
 */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  const normalized = normalize(word);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const other = normalize(candidate);
    if (other === normalized) return candidate;
    const distance = editDistance(normalized, other);
    if (distance < bestDistance) {
      bestDistance = distance;
      best = candidate;
    }
  }
  const allowed = Math.max(1, Math.min(3, Math.floor(normalized.length / 3)));
  return bestDistance <= allowed ? best : undefined;
}

function normalize(word: string): string {
  return word.toLowerCase().replace(/[_-]/g, '');
}

/** Damerau-Levenshtein (optimal string alignment): a swap of two neighbours costs one edit. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(d[(i - 1) * cols + j]! + 1, d[i * cols + j - 1]! + 1, d[(i - 1) * cols + j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, d[(i - 2) * cols + j - 2]! + 1);
      }
      d[i * cols + j] = value;
    }
  }
  return d[rows * cols - 1]!;
}
