import type { LoadBalancerContext, Picker, UpstreamHost } from '../cluster.ts';
import { xxHash64 } from '../xx-hash64.ts';
import { high32, low32 } from './hash-bits.ts';
import { EMPTY_PICKER, type BalancerOptions, type HostSet, type LoadBalancer, type Random } from './load-balancer.ts';
import { hostShares, planPriorities, type PriorityLevel } from './priority-plan.ts';
import { hashedLevels, TieredPicker, type HostChooser } from './tiered-picker.ts';

export const DEFAULT_MINIMUM_RING_SIZE = 1024;
/** Envoy's default and largest maximum ring size. */
export const DEFAULT_MAXIMUM_RING_SIZE = 8_388_608;

export interface RingHashBalancerOptions extends BalancerOptions {
  /** Used for requests without a hash, which then land on a random ring entry. */
  readonly random: Random;
  readonly minimumRingSize?: number;
  readonly maximumRingSize?: number;
}

/**
 * RING_HASH (ketama-style consistent hashing), built as Envoy builds it with its default XX_HASH:
 * each host gets ring entries in proportion to its share (the least-weighted host gets a whole
 * number of them, at least minimumRingSize entries in all, at most maximumRingSize), entry i of a
 * host sits at xxHash64("<address>:<port>_<i>"), and a request goes to the first entry at or after
 * its hash, wrapping around. The same hash reaches the same host while the host set is stable, and
 * adding a host moves only the keys that now fall on its entries. A retry that must avoid hosts
 * walks on along the ring.
 */
export class RingHashBalancer implements LoadBalancer {
  readonly #options: RingHashBalancerOptions;
  #picker: Picker = EMPTY_PICKER;

  constructor(options: RingHashBalancerOptions) {
    this.#options = options;
  }

  update(hosts: HostSet): void {
    const { random, minimumRingSize = DEFAULT_MINIMUM_RING_SIZE, maximumRingSize = DEFAULT_MAXIMUM_RING_SIZE } = this.#options;
    this.#picker = new TieredPicker(planPriorities(hosts, this.#options), {
      chooser: (_group, level) => new Ring(level, minimumRingSize, maximumRingSize, random),
      levelChooser: hashedLevels(random),
      byLocality: false,
      onPanic: this.#options.onPanic,
    });
  }

  picker(): Picker {
    return this.#picker;
  }

  close(): void {}
}

class Ring implements HostChooser {
  /** Entry hashes as high and low 32-bit halves, sorted ascending. */
  readonly #hi: Uint32Array;
  readonly #lo: Uint32Array;
  readonly #hosts: readonly UpstreamHost[];
  /** Each host on the ring, once (a capped ring may leave a tiny-weighted host out). */
  readonly #members: readonly UpstreamHost[];
  readonly #random: Random;

  constructor(level: PriorityLevel, minimumSize: number, maximumSize: number, random: Random) {
    this.#random = random;
    const shares = level.hosts.length === 0 ? [] : hostShares(level);
    const entries: { hi: number; lo: number; host: UpstreamHost }[] = [];
    if (shares.length > 0) {
      const smallest = shares.reduce((min, s) => Math.min(min, s.share), Infinity);
      const scale = Math.min(Math.ceil(smallest * minimumSize) / smallest, maximumSize);
      // Running totals keep fractional entry counts fair across hosts.
      let current = 0;
      let target = 0;
      for (const { host, share } of shares) {
        target += scale * share;
        for (let i = 0; current < target; i++, current++) {
          const hash = xxHash64(`${host.id}_${i}`);
          entries.push({ hi: high32(hash), lo: low32(hash), host });
        }
      }
      entries.sort((a, b) => a.hi - b.hi || a.lo - b.lo);
    }
    this.#hi = Uint32Array.from(entries, (e) => e.hi);
    this.#lo = Uint32Array.from(entries, (e) => e.lo);
    this.#hosts = entries.map((e) => e.host);
    this.#members = [...new Set(this.#hosts)];
  }

  choose(context: LoadBalancerContext): UpstreamHost | undefined {
    const size = this.#hosts.length;
    if (size === 0) return undefined;
    const hash = context.hash;
    let index = hash === undefined ? Math.min(size - 1, Math.floor(this.#random() * size)) : this.#firstAtOrAfter(high32(hash), low32(hash));
    const host = this.#hosts[index]!;
    const avoid = context.avoid;
    if (avoid === undefined || !avoid.has(host) || this.#members.every((h) => avoid.has(h))) return host;
    for (;;) {
      index = (index + 1) % size;
      const next = this.#hosts[index]!;
      if (!avoid.has(next)) return next;
    }
  }

  /** The first entry whose hash is >= (hi, lo), or 0 past the last. */
  #firstAtOrAfter(hi: number, lo: number): number {
    const his = this.#hi;
    const los = this.#lo;
    let low = 0;
    let high = his.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const midHi = his[mid]!;
      if (midHi < hi || (midHi === hi && los[mid]! < lo)) low = mid + 1;
      else high = mid;
    }
    return low === his.length ? 0 : low;
  }
}
