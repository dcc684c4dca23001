interface Entry<T> {
  deadline: number;
  /** Breaks deadline ties in the order entries were (re)added. */
  order: number;
  readonly item: T;
}

/**
 * Earliest deadline first, as Envoy schedules weighted hosts: an item of weight w is due 1/w after
 * it was last chosen, and its weight is read again each time it is chosen, so a weight that
 * changes (least request's weight / (active + 1)) takes effect on the item's next turn.
 */
export class EdfScheduler<T> {
  readonly #heap: Entry<T>[] = [];
  #order = 0;

  constructor(items: readonly T[], weight: (item: T) => number) {
    for (const item of items) this.#push({ deadline: 1 / weight(item), order: this.#order++, item });
  }

  /**
   * Chooses the item due first, passing over those `skip` refuses (they keep their turn); when every
   * item is refused, the one due first. The chosen item is due again 1/weight later.
   */
  pickAndAdd(weight: (item: T) => number, skip?: (item: T) => boolean): T | undefined {
    const held: Entry<T>[] = [];
    let chosen = this.#pop();
    while (chosen !== undefined && skip !== undefined && skip(chosen.item)) {
      held.push(chosen);
      chosen = this.#pop();
    }
    if (chosen === undefined) chosen = held.shift();
    for (const entry of held) this.#push(entry);
    if (chosen === undefined) return undefined;
    chosen.deadline += 1 / weight(chosen.item);
    chosen.order = this.#order++;
    this.#push(chosen);
    return chosen.item;
  }

  #before(a: Entry<T>, b: Entry<T>): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.order < b.order);
  }

  #swap(a: number, b: number): void {
    const heap = this.#heap;
    const entry = heap[a]!;
    heap[a] = heap[b]!;
    heap[b] = entry;
  }

  #push(entry: Entry<T>): void {
    const heap = this.#heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#before(heap[i]!, heap[parent]!)) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #pop(): Entry<T> | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && this.#before(heap[left]!, heap[smallest]!)) smallest = left;
      if (right < heap.length && this.#before(heap[right]!, heap[smallest]!)) smallest = right;
      if (smallest === i) break;
      this.#swap(i, smallest);
      i = smallest;
    }
    return top;
  }
}
