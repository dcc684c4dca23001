import type { LoadBalancerContext, Picker, UpstreamHost } from '../cluster.ts';
import { hashModulo } from './hash-bits.ts';
import { levelFor, type PriorityLevel, type PriorityPlan } from './priority-plan.ts';
import type { Random } from './load-balancer.ts';
import { SmoothWeightedRotation } from './smooth-weighted-rotation.ts';

/** A balancing strategy over a fixed group of hosts: one priority level, or one locality of it. */
export interface HostChooser {
  /** A host of the group, one outside `context.avoid` when there is one; undefined only for an empty group. */
  choose(context: LoadBalancerContext): UpstreamHost | undefined;
}

export interface TieredPickerOptions {
  /** Builds the strategy for a group of hosts of a level (the level's hosts, or one locality's). */
  chooser(hosts: readonly UpstreamHost[], level: PriorityLevel): HostChooser;
  /** Chooses a level index for a request; called only when several levels exist. */
  levelChooser(plan: PriorityPlan): (context: LoadBalancerContext) => number;
  /**
   * Choose a locality (by effective weight) before a host when the cluster weighs localities and
   * the level is not in panic. Hash balancers say false: they fold locality weights into hosts'.
   */
  readonly byLocality: boolean;
  readonly onPanic?: (() => void) | undefined;
}

interface Tier {
  readonly level: PriorityLevel;
  readonly whole: HostChooser;
  readonly localities: SmoothWeightedRotation<HostChooser> | undefined;
  /** The locality choosers, or the whole level's, in order: where a retry looks when its first choice was avoided. */
  readonly groups: readonly HostChooser[];
}

/**
 * The picker every host-set balancer publishes: priority level first (by the plan's loads), then
 * locality, then the strategy's host. When every host the strategy could offer was already tried
 * (`avoid`), the other localities and levels are searched in priority order, and only if all of
 * them were tried too is an avoided host returned, as Envoy does after its host selection retries.
 */
export class TieredPicker implements Picker {
  readonly #tiers: readonly Tier[];
  readonly #chooseLevel: (context: LoadBalancerContext) => number;
  readonly #onPanic: (() => void) | undefined;

  constructor(plan: PriorityPlan, options: TieredPickerOptions) {
    this.#tiers = plan.levels.map((level) => tier(level, options));
    this.#chooseLevel = plan.levels.length > 1 ? options.levelChooser(plan) : () => 0;
    this.#onPanic = options.onPanic;
  }

  #level(context: LoadBalancerContext): Tier {
    return chooseTier(this.#tiers, this.#tiers[this.#chooseLevel(context)]!, context.avoidPriorities);
  }

  pick(context: LoadBalancerContext): UpstreamHost | undefined {
    const tiers = this.#tiers;
    if (tiers.length === 0) return undefined;
    const tier = this.#level(context);
    if (tier.level.panic) this.#onPanic?.();
    const host = (tier.localities?.next() ?? tier.whole).choose(context);
    const avoid = context.avoid;
    if (host === undefined || avoid === undefined || !avoid.has(host)) return host;
    for (const other of [tier, ...tiers.filter((t) => t !== tier)]) {
      for (const group of other.groups) {
        const alternative = group.choose(context);
        if (alternative !== undefined && !avoid.has(alternative)) return alternative;
      }
    }
    return host;
  }
}

/** A priority level is chosen by the plan's loads, except that one already tried is passed over for the next untried. */
function chooseTier(tiers: readonly Tier[], chosen: Tier, avoid: ReadonlySet<number> | undefined): Tier {
  if (avoid === undefined || avoid.size === 0 || !avoid.has(chosen.level.priority)) return chosen;
  return tiers.find((t) => !avoid.has(t.level.priority)) ?? chosen;
}

function tier(level: PriorityLevel, options: TieredPickerOptions): Tier {
  const whole = options.chooser(level.hosts, level);
  const weighted = options.byLocality && !level.panic ? (level.localities ?? []).filter((l) => l.effectiveWeight > 0) : [];
  if (weighted.length === 0) return { level, whole, localities: undefined, groups: [whole] };
  const entries = weighted.map((l) => ({ item: options.chooser(l.hosts, level), weight: l.effectiveWeight }));
  return { level, whole, localities: new SmoothWeightedRotation(entries), groups: entries.map((e) => e.item) };
}

/** Levels chosen at random in proportion to their loads, as Envoy does. */
export function randomLevels(random: Random): (plan: PriorityPlan) => () => number {
  return (plan) => () => levelFor(plan, random() * 100);
}

/** Levels chosen by the request's hash (a random number without one), so that a key stays on its level. */
export function hashedLevels(random: Random): (plan: PriorityPlan) => (context: LoadBalancerContext) => number {
  return (plan) => (context) => levelFor(plan, context.hash === undefined ? random() * 100 : hashModulo(context.hash, 100));
}

/** Levels taken in a smooth weighted rotation by load: deterministic, for round robin. */
export function rotatedLevels(plan: PriorityPlan): () => number {
  const rotation = new SmoothWeightedRotation(plan.loads.map((load, index) => ({ item: index, weight: load })));
  return () => rotation.next() ?? 0;
}
