import type { LoadBalancerContext, Picker, UpstreamHost } from '../cluster.ts';
import { xxHash64 } from '../xx-hash64.ts';
import { hashModulo } from './hash-bits.ts';
import { EMPTY_PICKER, type BalancerOptions, type HostSet, type LoadBalancer, type Random } from './load-balancer.ts';
import { hostShares, planPriorities, type PriorityLevel } from './priority-plan.ts';
import { hashedLevels, TieredPicker, type HostChooser } from './tiered-picker.ts';

/** Envoy's default table size; the size must be prime. */
export const DEFAULT_MAGLEV_TABLE_SIZE = 65537;

export interface MaglevBalancerOptions extends BalancerOptions {
  /** Used for requests without a hash, which then land on a random table slot. */
  readonly random: Random;
  /** A prime; the table holds this many slots. */
  readonly tableSize?: number;
}

/**
 * MAGLEV: Google's Maglev consistent hashing (Eisenbud et al., NSDI 2016), as Envoy builds it.
 * Each host, in order of its `address:port`, gets a permutation of the table's slots, from
 * offset = xxHash64(key) mod M and skip = xxHash64(key, seed 1) mod (M - 1) + 1, and the hosts take
 * turns claiming the next free slot of their permutation until the table is full; a host of lower
 * weight takes a turn less often (in proportion to its share against the largest). A request goes
 * to slot hash mod M. Tables built from the same hosts are identical, and a host set change moves
 * few slots. A retry that must avoid hosts probes the following slots.
 */
export class MaglevBalancer implements LoadBalancer {
  readonly #options: MaglevBalancerOptions;
  #picker: Picker = EMPTY_PICKER;

  constructor(options: MaglevBalancerOptions) {
    this.#options = options;
  }

  update(hosts: HostSet): void {
    const { random, tableSize = DEFAULT_MAGLEV_TABLE_SIZE } = this.#options;
    this.#picker = new TieredPicker(planPriorities(hosts, this.#options), {
      chooser: (_group, level) => new MaglevTable(level, tableSize, random),
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

const UNCLAIMED = 0xffffffff;
/** A turn's credit reaching 1 within this of it counts as whole: ratios of floating shares are inexact. */
const EPSILON = 1e-9;

class MaglevTable implements HostChooser {
  readonly #size: number;
  /** Slot -> index into #hosts. */
  readonly #slots: Uint32Array;
  readonly #hosts: readonly UpstreamHost[];
  readonly #random: Random;

  constructor(level: PriorityLevel, size: number, random: Random) {
    this.#size = size;
    this.#random = random;
    const shares = level.hosts.length === 0 ? [] : hostShares(level).filter((s) => s.share > 0);
    // A stable order: the table must not depend on the order EDS listed the hosts in.
    shares.sort((a, b) => (a.host.id < b.host.id ? -1 : a.host.id > b.host.id ? 1 : 0));
    this.#hosts = shares.map((s) => s.host);
    this.#slots = new Uint32Array(shares.length === 0 ? 0 : size).fill(UNCLAIMED);
    if (shares.length === 0) return;

    const largest = shares.reduce((max, s) => Math.max(max, s.share), 0);
    const builders = shares.map((s) => {
      const offset = hashModulo(xxHash64(s.host.id), size);
      const skip = hashModulo(xxHash64(s.host.id, 1), size - 1) + 1;
      // Every host claims a slot on the first round, then as often as its share allows.
      return { slot: offset, skip, ratio: s.share / largest, credit: 1 };
    });
    let filled = 0;
    while (filled < size) {
      for (let i = 0; i < builders.length && filled < size; i++) {
        const b = builders[i]!;
        if (b.credit + EPSILON >= 1) {
          b.credit -= 1;
          while (this.#slots[b.slot] !== UNCLAIMED) b.slot = (b.slot + b.skip) % size;
          this.#slots[b.slot] = i;
          b.slot = (b.slot + b.skip) % size;
          filled++;
        }
        b.credit += b.ratio;
      }
    }
  }

  choose(context: LoadBalancerContext): UpstreamHost | undefined {
    const hosts = this.#hosts;
    if (hosts.length === 0) return undefined;
    const hash = context.hash;
    let slot = hash === undefined ? Math.min(this.#size - 1, Math.floor(this.#random() * this.#size)) : hashModulo(hash, this.#size);
    const host = hosts[this.#slots[slot]!]!;
    const avoid = context.avoid;
    // The first round gives each host a slot, unless there are more hosts than slots.
    if (avoid === undefined || !avoid.has(host) || hosts.slice(0, this.#size).every((h) => avoid.has(h))) return host;
    for (;;) {
      slot = (slot + 1) % this.#size;
      const next = hosts[this.#slots[slot]!]!;
      if (!avoid.has(next)) return next;
    }
  }
}
