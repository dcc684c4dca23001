import type { CounterStat, GaugeStat, HistogramStat, StatsStore, StatTag } from './stats-store.ts';

/** Which stats an admin request asks for: Envoy's `?filter=<regex>` on the full name and `?usedonly`. */
export interface StatsQuery {
  readonly filter?: RegExp;
  readonly usedOnly?: boolean;
}

/** The quantiles Envoy's `/stats` shows for a histogram. */
const QUANTILES: readonly number[] = [0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 1];

function selected<T extends { readonly name: string; readonly used: boolean }>(stats: readonly T[], query: StatsQuery): T[] {
  return stats.filter((s) => (query.usedOnly !== true || s.used) && (query.filter === undefined || query.filter.test(s.name)));
}

function number(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
}

function quantileLabel(q: number): string {
  return `P${Number((q * 100).toFixed(1))}`;
}

/** Envoy's `/stats`: `name: value` lines sorted by name, then each histogram's quantiles (interval unknown: `nan`). */
export function formatStatsText(store: StatsStore, query: StatsQuery = {}): string {
  const { counters, gauges, histograms } = store.all();
  const values = [...selected(counters, query), ...selected(gauges, query)].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const lines = values.map((s) => `${s.name}: ${number(s.value)}`);
  for (const h of selected(histograms, query)) {
    lines.push(h.count === 0 ? `${h.name}: No recorded values` : `${h.name}: ${QUANTILES.map((q) => `${quantileLabel(q)}(nan,${number(h.quantile(q))})`).join(' ')}`);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** Envoy's `/stats?format=json`. */
export function formatStatsJson(store: StatsStore, query: StatsQuery = {}): unknown {
  const { counters, gauges, histograms } = store.all();
  const values = [...selected(counters, query), ...selected(gauges, query)].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    stats: [
      ...values.map((s) => ({ name: s.name, value: s.value })),
      {
        histograms: {
          supported_quantiles: QUANTILES.map((q) => Number((q * 100).toFixed(1))),
          computed_quantiles: selected(histograms, query).map((h) => ({ name: h.name, values: QUANTILES.map((q) => ({ interval: null, cumulative: h.count === 0 ? null : Number(h.quantile(q).toPrecision(6)) })) })),
        },
      },
    ],
  };
}

/** Envoy names a Prometheus metric `envoy_` + its tag-extracted name, anything but [a-zA-Z0-9_] turned to `_`. */
export function prometheusName(tagExtractedName: string): string {
  return `envoy_${tagExtractedName.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(tags: readonly StatTag[], extra?: string): string {
  const parts = tags.map((t) => `${t.name.replace(/[^a-zA-Z0-9_]/g, '_')}="${escapeLabel(t.value)}"`);
  if (extra !== undefined) parts.push(extra);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function byMetric<T extends { readonly tagExtractedName: string; readonly tags: readonly StatTag[] }>(stats: readonly T[]): [string, T[]][] {
  const groups = new Map<string, T[]>();
  for (const stat of stats) {
    const name = prometheusName(stat.tagExtractedName);
    const group = groups.get(name);
    if (group === undefined) groups.set(name, [stat]);
    else group.push(stat);
  }
  const sortKey = (s: T): string => labels(s.tags);
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, group]) => [name, group.sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0))]);
}

/**
 * Envoy's `/stats/prometheus` (text exposition format 0.0.4): counters, then gauges, then
 * histograms, each metric once with its `# TYPE` line and one series per tag set; histograms as
 * cumulative `_bucket` series with `le`, then `_sum` and `_count`.
 */
export function formatPrometheus(store: StatsStore, query: StatsQuery = {}): string {
  const { counters, gauges, histograms } = store.all();
  const out: string[] = [];
  const scalar = (type: 'counter' | 'gauge', stats: readonly (CounterStat | GaugeStat)[]): void => {
    for (const [name, group] of byMetric(stats)) {
      out.push(`# TYPE ${name} ${type}`);
      for (const s of group) out.push(`${name}${labels(s.tags)} ${number(s.value)}`);
    }
  };
  scalar('counter', selected(counters, query));
  scalar('gauge', selected(gauges, query));
  for (const [name, group] of byMetric<HistogramStat>(selected(histograms, query))) {
    out.push(`# TYPE ${name} histogram`);
    for (const h of group) {
      let cumulative = 0;
      h.bounds.forEach((bound, i) => {
        cumulative += h.counts[i]!;
        out.push(`${name}_bucket${labels(h.tags, `le="${number(bound)}"`)} ${cumulative}`);
      });
      out.push(`${name}_bucket${labels(h.tags, 'le="+Inf"')} ${h.count}`);
      out.push(`${name}_sum${labels(h.tags)} ${number(h.sum)}`);
      out.push(`${name}_count${labels(h.tags)} ${h.count}`);
    }
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}
