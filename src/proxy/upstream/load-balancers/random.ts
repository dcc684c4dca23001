import type { LoadBalancerContext, Picker, UpstreamHost } from '../cluster.ts';
import { EMPTY_PICKER, type BalancerOptions, type HostSet, type LoadBalancer, type Random } from './load-balancer.ts';
import { planPriorities } from './priority-plan.ts';
import { randomLevels, TieredPicker, type HostChooser } from './tiered-picker.ts';

export interface RandomBalancerOptions extends BalancerOptions {
  readonly random: Random;
}

/**
 * RANDOM: a host drawn at random in proportion to its weight. (Envoy's random balancer ignores
 * host weights; with equal weights, which is what Istio sends unless a ServiceEntry sets them,
 * the two agree.)
 */
export class RandomBalancer implements LoadBalancer {
  readonly #options: RandomBalancerOptions;
  #picker: Picker = EMPTY_PICKER;

  constructor(options: RandomBalancerOptions) {
    this.#options = options;
  }

  update(hosts: HostSet): void {
    const { random } = this.#options;
    this.#picker = new TieredPicker(planPriorities(hosts, this.#options), {
      chooser: (group) => new WeightedDraw(group, random),
      levelChooser: randomLevels(random),
      byLocality: true,
      onPanic: this.#options.onPanic,
    });
  }

  picker(): Picker {
    return this.#picker;
  }

  close(): void {}
}

class WeightedDraw implements HostChooser {
  readonly #hosts: readonly UpstreamHost[];
  readonly #random: Random;
  /** Running sums of the weights, for a binary search; undefined when all weights are equal. */
  readonly #cumulative: Float64Array | undefined;

  constructor(hosts: readonly UpstreamHost[], random: Random) {
    this.#hosts = hosts;
    this.#random = random;
    const uniform = hosts.every((h) => h.weight === hosts[0]!.weight);
    if (!uniform) {
      let sum = 0;
      this.#cumulative = Float64Array.from(hosts, (h) => (sum += h.weight));
    }
  }

  choose(context: LoadBalancerContext): UpstreamHost | undefined {
    const hosts = this.#hosts;
    if (hosts.length === 0) return undefined;
    const host = hosts[this.#index(this.#random())]!;
    const avoid = context.avoid;
    if (avoid === undefined || !avoid.has(host)) return host;
    const others = hosts.filter((h) => !avoid.has(h));
    if (others.length === 0) return host;
    const total = others.reduce((sum, h) => sum + h.weight, 0);
    let target = this.#random() * total;
    for (const other of others) {
      target -= other.weight;
      if (target < 0) return other;
    }
    return others[others.length - 1];
  }

  #index(value: number): number {
    const cumulative = this.#cumulative;
    if (cumulative === undefined) return Math.min(this.#hosts.length - 1, Math.floor(value * this.#hosts.length));
    const target = value * cumulative[cumulative.length - 1]!;
    let low = 0;
    let high = cumulative.length - 1;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (cumulative[mid]! > target) high = mid;
      else low = mid + 1;
    }
    return low;
  }
}
