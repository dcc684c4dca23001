import type { LoadBalancerContext, Picker, UpstreamHost } from '../cluster.ts';
import { EMPTY_PICKER, type BalancerOptions, type HostSet, type LoadBalancer } from './load-balancer.ts';
import { planPriorities } from './priority-plan.ts';
import { SmoothWeightedRotation } from './smooth-weighted-rotation.ts';
import { rotatedLevels, TieredPicker, type HostChooser } from './tiered-picker.ts';

/**
 * Weighted round robin (ROUND_ROBIN). Hosts take turns by nginx's smooth weighted round robin, so
 * the sequence is deterministic and spreads a heavy host's turns out (weights 2,1: a b a a b a).
 * Priorities and localities are rotated the same way, so the balancer needs no randomness.
 * A new host set restarts the rotation.
 */
export class RoundRobinBalancer implements LoadBalancer {
  readonly #options: BalancerOptions;
  #picker: Picker = EMPTY_PICKER;

  constructor(options: BalancerOptions = {}) {
    this.#options = options;
  }

  update(hosts: HostSet): void {
    this.#picker = new TieredPicker(planPriorities(hosts, this.#options), {
      chooser: (group) => new RotationChooser(group),
      levelChooser: rotatedLevels,
      byLocality: true,
      onPanic: this.#options.onPanic,
    });
  }

  picker(): Picker {
    return this.#picker;
  }

  close(): void {}
}

class RotationChooser implements HostChooser {
  readonly #rotation: SmoothWeightedRotation<UpstreamHost>;

  constructor(hosts: readonly UpstreamHost[]) {
    this.#rotation = new SmoothWeightedRotation(hosts.map((host) => ({ item: host, weight: host.weight })));
  }

  choose(context: LoadBalancerContext): UpstreamHost | undefined {
    const avoid = context.avoid;
    return this.#rotation.next(avoid === undefined || avoid.size === 0 ? undefined : (host) => avoid.has(host));
  }
}
