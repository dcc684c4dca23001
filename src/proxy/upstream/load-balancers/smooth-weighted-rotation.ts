/**
 * nginx's smooth weighted round robin: every turn each item gains its weight in credit, the item
 * with the most credit is chosen and pays the total weight. Weights 5,1,1 give a a b a c a a
 * rather than a a a a a b c, and the sequence is deterministic. Equal weights take an O(1) path.
 */
export class SmoothWeightedRotation<T> {
  readonly #items: readonly T[];
  readonly #weights: Float64Array;
  readonly #credit: Float64Array;
  readonly #total: number;
  readonly #uniform: boolean;
  #next = 0;

  /** Items with a weight of 0 or less are never chosen. */
  constructor(entries: readonly { readonly item: T; readonly weight: number }[]) {
    const kept = entries.filter((e) => e.weight > 0);
    this.#items = kept.map((e) => e.item);
    this.#weights = Float64Array.from(kept, (e) => e.weight);
    this.#credit = new Float64Array(kept.length);
    this.#total = kept.reduce((sum, e) => sum + e.weight, 0);
    this.#uniform = kept.every((e) => e.weight === kept[0]!.weight);
  }

  get size(): number {
    return this.#items.length;
  }

  /**
   * The next item, passing over those `skip` refuses (skipped items keep the credit they earn);
   * when every item is refused, the one the rotation would have chosen. Undefined when empty.
   */
  next(skip?: (item: T) => boolean): T | undefined {
    const items = this.#items;
    const n = items.length;
    if (n === 0) return undefined;
    if (this.#uniform) {
      let index = this.#next;
      if (skip !== undefined) {
        for (let step = 0; step < n; step++) {
          const candidate = (this.#next + step) % n;
          if (!skip(items[candidate]!)) {
            index = candidate;
            break;
          }
        }
      }
      this.#next = (index + 1) % n;
      return items[index];
    }
    const credit = this.#credit;
    let best = -1;
    let bestAny = 0;
    for (let i = 0; i < n; i++) {
      credit[i]! += this.#weights[i]!;
      if (credit[i]! > credit[bestAny]!) bestAny = i;
      if ((best < 0 || credit[i]! > credit[best]!) && (skip === undefined || !skip(items[i]!))) best = i;
    }
    const chosen = best < 0 ? bestAny : best;
    credit[chosen]! -= this.#total;
    return items[chosen];
  }
}
