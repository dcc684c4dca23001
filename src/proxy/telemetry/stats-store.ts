import type { Counter, Gauge, Histogram, StatsScope } from './stats.ts';

/** Envoy's default histogram buckets, in milliseconds. */
export const DEFAULT_HISTOGRAM_BUCKETS: readonly number[] = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

/** A tag Envoy's default tag extraction takes out of a stat name, e.g. `envoy.cluster_name`. */
export interface StatTag {
  readonly name: string;
  readonly value: string;
}

interface StatIdentity {
  /** The full name, as `/stats` shows it: `cluster.outbound|9080||reviews.default.svc.cluster.local.upstream_rq_200`. */
  readonly name: string;
  /** The name without its tags, as Prometheus names the metric: `cluster.upstream_rq`. */
  readonly tagExtractedName: string;
  readonly tags: readonly StatTag[];
}

export class CounterStat implements Counter, StatIdentity {
  readonly name: string;
  readonly tagExtractedName: string;
  readonly tags: readonly StatTag[];
  value = 0;
  used = false;

  constructor(identity: StatIdentity) {
    this.name = identity.name;
    this.tagExtractedName = identity.tagExtractedName;
    this.tags = identity.tags;
  }

  inc(by = 1): void {
    this.value += by;
    this.used = true;
  }
}

export class GaugeStat implements Gauge, StatIdentity {
  readonly name: string;
  readonly tagExtractedName: string;
  readonly tags: readonly StatTag[];
  value = 0;
  used = false;

  constructor(identity: StatIdentity) {
    this.name = identity.name;
    this.tagExtractedName = identity.tagExtractedName;
    this.tags = identity.tags;
  }

  set(value: number): void {
    this.value = value;
    this.used = true;
  }

  inc(by = 1): void {
    this.value += by;
    this.used = true;
  }

  dec(by = 1): void {
    this.value -= by;
    this.used = true;
  }
}

export class HistogramStat implements Histogram, StatIdentity {
  readonly name: string;
  readonly tagExtractedName: string;
  readonly tags: readonly StatTag[];
  /** Upper bounds, ascending. */
  readonly bounds: readonly number[];
  /** Values per bucket (not cumulative); the last slot holds those above every bound. */
  readonly counts: Float64Array;
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;

  constructor(identity: StatIdentity, bounds: readonly number[]) {
    this.name = identity.name;
    this.tagExtractedName = identity.tagExtractedName;
    this.tags = identity.tags;
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  get used(): boolean {
    return this.count > 0;
  }

  record(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]! += 1;
    this.count += 1;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  /** The value below which fraction `q` (0..1) of the recorded values lie, interpolated within its bucket. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    if (q <= 0) return this.min;
    if (q >= 1) return this.max;
    const target = q * this.count;
    let below = 0;
    for (let i = 0; i < this.counts.length; i++) {
      const inBucket = this.counts[i]!;
      if (inBucket > 0 && below + inBucket >= target) {
        const lower = Math.max(i === 0 ? 0 : this.bounds[i - 1]!, this.min);
        const upper = Math.min(i < this.bounds.length ? this.bounds[i]! : this.max, this.max);
        return lower + ((target - below) / inBucket) * (upper - lower);
      }
      below += inBucket;
    }
    return this.max;
  }
}

/**
 * Stat roots whose next part is a name that may itself hold dots (a cluster name with its FQDN,
 * a listener address `0.0.0.0_15006`, a stat prefix), and the tag Envoy extracts from it. A scope
 * made for such a name (`stats.scope('cluster.' + name)` or `.scope('cluster').scope(name)`)
 * marks exactly where the name ends; a stat named in full at once
 * (`counter('cluster.' + name + '.upstream_rq_total')`) takes everything but its last part as
 * the name.
 */
const NAMED_ROOTS: ReadonlyMap<string, string> = new Map([
  ['cluster', 'envoy.cluster_name'],
  ['http', 'envoy.http_conn_manager_prefix'],
  ['listener', 'envoy.listener_address'],
  ['listener.http', 'envoy.http_conn_manager_prefix'],
  ['tcp', 'envoy.tcp_prefix'],
]);

/** What a scope knows of the names below it: their prefix, their tag-extracted prefix, the tags so far. */
interface ScopePosition {
  /** `cluster.outbound|80||a.b.svc.cluster.local.` (with the trailing dot), or '' for the root. */
  readonly prefix: string;
  /** The tag-extracted parts so far: `cluster`. */
  readonly extracted: readonly string[];
  readonly tags: readonly StatTag[];
  /** The tag whose value the next name below this scope is, when the scope stopped right after a named root. */
  readonly pending: string | undefined;
}

const ROOT: ScopePosition = { prefix: '', extracted: [], tags: [], pending: undefined };

function tagFor(position: { readonly extracted: readonly string[]; readonly tags: readonly StatTag[] }): string | undefined {
  const tag = NAMED_ROOTS.get(position.extracted.join('.'));
  return tag !== undefined && !position.tags.some((t) => t.name === tag) ? tag : undefined;
}

/** The position below `position` after `name`; a scope's name is whole (`asStat` false), a stat's last part is its own. */
function descend(position: ScopePosition, name: string, asStat: boolean): ScopePosition & { readonly leaf?: string } {
  const parts = name.split('.');
  let extracted = [...position.extracted];
  let tags = position.tags;
  let pending = position.pending;
  let i = 0;
  while (i < parts.length) {
    const rest = parts.slice(i);
    if (pending !== undefined) {
      const valueParts = asStat ? rest.slice(0, -1) : rest;
      if (valueParts.length > 0) {
        tags = [...tags, { name: pending, value: valueParts.join('.') }];
        i += valueParts.length;
      }
      pending = undefined;
      continue;
    }
    if (asStat && i === parts.length - 1) break;
    extracted = [...extracted, parts[i]!];
    i += 1;
    pending = tagFor({ extracted, tags });
  }
  const leaf = asStat ? parts[parts.length - 1] : undefined;
  return { prefix: `${position.prefix}${name}.`, extracted, tags, pending, ...(leaf === undefined ? {} : { leaf }) };
}

const RESPONSE_CODE = /_rq_(\d{3})$/;
const RESPONSE_CODE_CLASS = /_rq_(\d)xx$/;

/** Envoy's response code tags: `upstream_rq_200` is `upstream_rq` with code 200; `upstream_rq_2xx` is `upstream_rq_xx` with class 2. */
function extractResponseCode(leaf: string, tags: readonly StatTag[]): { readonly leaf: string; readonly tags: readonly StatTag[] } {
  const code = RESPONSE_CODE.exec(leaf);
  if (code !== null) return { leaf: leaf.slice(0, -4), tags: [...tags, { name: 'envoy.response_code', value: code[1]! }] };
  const codeClass = RESPONSE_CODE_CLASS.exec(leaf);
  if (codeClass !== null) return { leaf: `${leaf.slice(0, -3)}xx`, tags: [...tags, { name: 'envoy.response_code_class', value: codeClass[1]! }] };
  return { leaf, tags };
}

function identify(position: ScopePosition, name: string): StatIdentity {
  const below = descend(position, name, true);
  const { leaf, tags } = extractResponseCode(below.leaf ?? '', below.tags);
  return { name: `${position.prefix}${name}`, tagExtractedName: [...below.extracted, leaf].join('.'), tags };
}

type AnyStat = CounterStat | GaugeStat | HistogramStat;

/** Finds or makes the stat of a kind at a position in the tree of scopes. */
type MakeStat = <T extends AnyStat>(position: ScopePosition, name: string, kind: new (identity: StatIdentity, bounds: readonly number[]) => T) => T;

/**
 * The proxy's stats, as Envoy keeps them: each stat is made once, by name, and the object handed
 * out is what the hot path touches (`inc()` adds to a field). Names carry Envoy's tags, extracted
 * when the stat is made, for the Prometheus form.
 */
export class StatsStore implements StatsScope {
  readonly #stats = new Map<string, AnyStat>();
  readonly #buckets: readonly number[];
  readonly #root: StatsScopeView;

  constructor(options: { readonly histogramBuckets?: readonly number[] } = {}) {
    this.#buckets = options.histogramBuckets ?? DEFAULT_HISTOGRAM_BUCKETS;
    this.#root = new StatsScopeView((position, name, kind) => this.#make(position, name, kind), ROOT);
  }

  counter(name: string): CounterStat {
    return this.#root.counter(name);
  }

  gauge(name: string): GaugeStat {
    return this.#root.gauge(name);
  }

  histogram(name: string): HistogramStat {
    return this.#root.histogram(name);
  }

  scope(prefix: string): StatsScope {
    return this.#root.scope(prefix);
  }

  /** Every stat, sorted by name. */
  all(): { readonly counters: readonly CounterStat[]; readonly gauges: readonly GaugeStat[]; readonly histograms: readonly HistogramStat[] } {
    const sorted = [...this.#stats.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return {
      counters: sorted.filter((s): s is CounterStat => s instanceof CounterStat),
      gauges: sorted.filter((s): s is GaugeStat => s instanceof GaugeStat),
      histograms: sorted.filter((s): s is HistogramStat => s instanceof HistogramStat),
    };
  }

  /** One name is one kind of stat: asking for a counter by a gauge's name is a bug. */
  #make<T extends AnyStat>(position: ScopePosition, name: string, kind: new (identity: StatIdentity, bounds: readonly number[]) => T): T {
    const full = `${position.prefix}${name}`;
    const existing = this.#stats.get(full);
    if (existing !== undefined) {
      if (existing instanceof kind) return existing;
      throw new Error(`stat ${full} is a ${existing.constructor.name}, not a ${kind.name}`);
    }
    const stat = new kind(identify(position, name), this.#buckets);
    this.#stats.set(full, stat);
    return stat;
  }
}

class StatsScopeView implements StatsScope {
  readonly #make: MakeStat;
  readonly #position: ScopePosition;

  constructor(make: MakeStat, position: ScopePosition) {
    this.#make = make;
    this.#position = position;
  }

  counter(name: string): CounterStat {
    return this.#make(this.#position, name, CounterStat);
  }

  gauge(name: string): GaugeStat {
    return this.#make(this.#position, name, GaugeStat);
  }

  histogram(name: string): HistogramStat {
    return this.#make(this.#position, name, HistogramStat);
  }

  scope(prefix: string): StatsScope {
    return new StatsScopeView(this.#make, descend(this.#position, prefix, false));
  }
}
