import type { LoadBalancerContext, Picker, UpstreamHost } from '../cluster.ts';
import { EdfScheduler } from './edf-scheduler.ts';
import { EMPTY_PICKER, type BalancerOptions, type HostSet, type LoadBalancer, type Random } from './load-balancer.ts';
import { planPriorities } from './priority-plan.ts';
import { randomLevels, TieredPicker, type HostChooser } from './tiered-picker.ts';

export interface LeastRequestBalancerOptions extends BalancerOptions {
  readonly random: Random;
  /** Hosts sampled per pick when weights are equal (`leastRequestLbConfig.choiceCount`); Envoy's default is 2. */
  readonly choiceCount?: number;
}

/**
 * LEAST_REQUEST, as Envoy does it. With equal weights: power of two choices, the host with fewer
 * requests in flight of `choiceCount` drawn at random (with replacement). With unequal weights:
 * earliest-deadline-first over weight / (active requests + 1), read each time a host is chosen.
 */
export class LeastRequestBalancer implements LoadBalancer {
  readonly #options: LeastRequestBalancerOptions;
  #picker: Picker = EMPTY_PICKER;

  constructor(options: LeastRequestBalancerOptions) {
    this.#options = options;
  }

  update(hosts: HostSet): void {
    const { random, choiceCount = 2 } = this.#options;
    this.#picker = new TieredPicker(planPriorities(hosts, this.#options), {
      chooser: (group) => (group.every((h) => h.weight === group[0]!.weight) ? new ChoiceOfN(group, random, choiceCount) : new WeightedLeastRequest(group)),
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

class ChoiceOfN implements HostChooser {
  readonly #hosts: readonly UpstreamHost[];
  readonly #random: Random;
  readonly #choices: number;

  constructor(hosts: readonly UpstreamHost[], random: Random, choices: number) {
    this.#hosts = hosts;
    this.#random = random;
    this.#choices = choices;
  }

  choose(context: LoadBalancerContext): UpstreamHost | undefined {
    const avoid = context.avoid;
    let candidates = this.#hosts;
    if (avoid !== undefined && avoid.size > 0) {
      const others = candidates.filter((h) => !avoid.has(h));
      if (others.length > 0) candidates = others;
    }
    const n = candidates.length;
    if (n === 0) return undefined;
    let best: UpstreamHost | undefined;
    for (let i = 0; i < this.#choices; i++) {
      const sampled = candidates[Math.min(n - 1, Math.floor(this.#random() * n))]!;
      if (best === undefined || sampled.activeRequests < best.activeRequests) best = sampled;
    }
    return best;
  }
}

/** Envoy's active request bias of 1: a host's weight is divided by its requests in flight plus one. */
const effectiveWeight = (host: UpstreamHost): number => host.weight / (host.activeRequests + 1);

class WeightedLeastRequest implements HostChooser {
  readonly #scheduler: EdfScheduler<UpstreamHost>;

  constructor(hosts: readonly UpstreamHost[]) {
    this.#scheduler = new EdfScheduler(hosts, effectiveWeight);
  }

  choose(context: LoadBalancerContext): UpstreamHost | undefined {
    const avoid = context.avoid;
    return this.#scheduler.pickAndAdd(effectiveWeight, avoid === undefined || avoid.size === 0 ? undefined : (host) => avoid.has(host));
  }
}
