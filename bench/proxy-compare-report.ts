/**
 * The proxy comparison's report: medians over the interleaved rounds, ratios of Weft to nginx and
 * HAProxy (and of every proxy's added latency, taken round by round against the direct run of the
 * same round), as Markdown for bench/RESULTS.md.
 */
import type { LoadResult } from './proxy-compare-loadgen.ts';
import type { MemoryUse } from './proxy-compare-process.ts';

export const VARIANTS = ['direct', 'nginx', 'haproxy', 'weft'] as const;
export type Variant = (typeof VARIANTS)[number];
export const PROXIES = ['nginx', 'haproxy', 'weft'] as const;
export type ProxyName = (typeof PROXIES)[number];

export interface Scenario {
  readonly id: string;
  readonly label: string;
}

export interface RunRecord {
  readonly round: number;
  readonly scenario: string;
  readonly variant: Variant;
  readonly kind: 'rate' | 'max';
  readonly result: LoadResult;
}

export interface MemoryRecord {
  readonly proxy: ProxyName;
  readonly idle?: MemoryUse;
  readonly afterLoad?: MemoryUse;
  readonly withClusters?: MemoryUse;
  readonly failure?: string;
}

export interface ReportInput {
  readonly command: string;
  readonly environment: readonly string[];
  readonly settings: readonly string[];
  readonly scenarios: readonly Scenario[];
  readonly runs: readonly RunRecord[];
  readonly memory: readonly MemoryRecord[];
  readonly clusters: number;
  /** Variant or scenario that could not run, and why. */
  readonly failures: readonly string[];
  /** Runs measured again because other processes used the machine. */
  readonly repeated: number;
  readonly foreignLimit: number;
  readonly stealLimit: number;
  readonly elapsedS: number;
}

export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const fixed = (value: number, digits: number): string => (Number.isNaN(value) ? '–' : value.toFixed(digits));
/** Three significant figures at most, no exponent. */
export const num = (value: number): string => (Number.isNaN(value) ? '–' : Math.abs(value) >= 100 ? value.toFixed(0) : Math.abs(value) >= 10 ? value.toFixed(1) : value.toFixed(2));
export const ratio = (a: number, b: number): string => (Number.isNaN(a) || Number.isNaN(b) || b === 0 ? '–' : `${(a / b).toFixed(2)}×`);
export const mib = (bytes: number | undefined): string => (bytes === undefined ? '–' : (bytes / 1024 / 1024).toFixed(1));

export const cpuUsPerRequest = (r: LoadResult): number => (r.completed > 0 ? r.cpuNs / 1000 / r.completed : Number.NaN);
/** The proxy's own CPU time over the window, in % of one core. */
export const proxyBusy = (r: LoadResult): number => (r.windowS > 0 ? r.cpuNs / 1e7 / r.windowS : Number.NaN);

class Runs {
  readonly #runs: readonly RunRecord[];
  constructor(runs: readonly RunRecord[]) {
    this.#runs = runs;
  }

  of(scenario: string, variant: Variant, kind: 'rate' | 'max'): RunRecord[] {
    return this.#runs.filter((r) => r.scenario === scenario && r.variant === variant && r.kind === kind);
  }

  has(scenario: string, variant: Variant): boolean {
    return this.#runs.some((r) => r.scenario === scenario && r.variant === variant);
  }

  median(scenario: string, variant: Variant, kind: 'rate' | 'max', f: (r: LoadResult) => number): number {
    return median(this.of(scenario, variant, kind).map((r) => f(r.result)));
  }

  /** Median over rounds of (variant − direct) in the same round. */
  added(scenario: string, variant: Variant, f: (r: LoadResult) => number): number {
    const direct = new Map(this.of(scenario, 'direct', 'rate').map((r) => [r.round, f(r.result)]));
    return median(this.of(scenario, variant, 'rate').flatMap((r) => (direct.has(r.round) ? [f(r.result) - direct.get(r.round)!] : [])));
  }

  perRound(scenario: string, variant: Variant, kind: 'rate' | 'max', f: (r: LoadResult) => number, format: (v: number) => string): string {
    return this.of(scenario, variant, kind).map((r) => format(f(r.result))).join(' / ');
  }
}

export function renderReport(input: ReportInput): string {
  const runs = new Runs(input.runs);
  const out: string[] = [];
  const line = (text = ''): void => {
    out.push(text);
  };
  const rate = input.runs.find((r) => r.kind === 'rate')?.result;
  const rateLabel = rate ? `${Math.round(rate.due / rate.windowS)}` : '?';

  line(`Command: \`${input.command}\` (${Math.round(input.elapsedS)} s).`);
  line();
  for (const e of input.environment) line(`- ${e}`);
  line();
  for (const s of input.settings) line(`- ${s}`);
  line();
  if (input.failures.length > 0) {
    line('**Could not run:**');
    line();
    for (const f of input.failures) line(`- ${f}`);
    line();
  }

  line(`### CPU of the proxy per request, at ${rateLabel} requests/s (open loop; median of the rounds)`);
  line();
  line('| traffic | nginx µs | HAProxy µs | Weft µs | Weft ÷ nginx | Weft ÷ HAProxy | HAProxy ÷ nginx |');
  line('|---|---|---|---|---|---|---|');
  for (const s of input.scenarios) {
    const cpu = (v: Variant) => runs.median(s.id, v, 'rate', cpuUsPerRequest);
    line(`| ${s.label} | ${num(cpu('nginx'))} | ${num(cpu('haproxy'))} | **${num(cpu('weft'))}** | **${ratio(cpu('weft'), cpu('nginx'))}** | ${ratio(cpu('weft'), cpu('haproxy'))} | ${ratio(cpu('haproxy'), cpu('nginx'))} |`);
  }
  line();
  line("µs of CPU (user + system, every thread of the proxy's processes, from `/proc/<pid>/task/*/schedstat`) in the measured window, divided by the requests answered in it.");
  line();

  line(`### Latency at ${rateLabel} requests/s, from each request's due time (open loop), µs`);
  line();
  line('"Added" is the proxy\'s percentile minus the direct run\'s, taken in each round and then the median over rounds.');
  line();
  line('| traffic | path | p50 | p90 | p99 | p99.9 | added p50 | added p99 | added p50 ÷ nginx\'s | added p99 ÷ nginx\'s | added p50 ÷ HAProxy\'s | added p99 ÷ HAProxy\'s |');
  line('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const s of input.scenarios) {
    for (const v of VARIANTS) {
      if (!runs.has(s.id, v)) continue;
      const p = (f: (r: LoadResult) => number) => runs.median(s.id, v, 'rate', f);
      const added50 = runs.added(s.id, v, (r) => r.latencyUs.p50);
      const added99 = runs.added(s.id, v, (r) => r.latencyUs.p99);
      const ratios = v === 'weft'
        ? [ratio(added50, runs.added(s.id, 'nginx', (r) => r.latencyUs.p50)), ratio(added99, runs.added(s.id, 'nginx', (r) => r.latencyUs.p99)),
          ratio(added50, runs.added(s.id, 'haproxy', (r) => r.latencyUs.p50)), ratio(added99, runs.added(s.id, 'haproxy', (r) => r.latencyUs.p99))]
        : ['', '', '', ''];
      const bold = (text: string) => (v === 'weft' ? `**${text}**` : text);
      line(`| ${s.label} | ${v} | ${num(p((r) => r.latencyUs.p50))} | ${num(p((r) => r.latencyUs.p90))} | ${num(p((r) => r.latencyUs.p99))} | ${num(p((r) => r.latencyUs.p999))} | ${v === 'direct' ? '' : bold(num(added50))} | ${v === 'direct' ? '' : bold(num(added99))} | ${ratios.join(' | ')} |`);
    }
  }
  line();

  line('### Maximum throughput (closed loop), requests/s');
  line();
  line('The direct row is the ceiling of this harness: load generator and upstream share one core. "Proxy busy" is the proxy\'s own CPU time over the window, in % of its core: below ~95%, something else (the other core, or other processes on the proxy\'s core) was the limit, and the figure is a lower bound of the proxy\'s capacity.');
  line();
  line('| traffic | direct | nginx | HAProxy | Weft | Weft ÷ nginx | Weft ÷ HAProxy | proxy busy: nginx / HAProxy / Weft | CPU µs per request at max: nginx / HAProxy / Weft |');
  line('|---|---|---|---|---|---|---|---|---|');
  for (const s of input.scenarios) {
    const rps = (v: Variant) => runs.median(s.id, v, 'max', (r) => r.rps);
    const busy = (v: Variant) => runs.median(s.id, v, 'max', proxyBusy);
    const cpu = (v: Variant) => runs.median(s.id, v, 'max', cpuUsPerRequest);
    line(`| ${s.label} | ${fixed(rps('direct'), 0)} | ${fixed(rps('nginx'), 0)} | ${fixed(rps('haproxy'), 0)} | **${fixed(rps('weft'), 0)}** | **${ratio(rps('weft'), rps('nginx'))}** | ${ratio(rps('weft'), rps('haproxy'))} | ${fixed(busy('nginx'), 0)}% / ${fixed(busy('haproxy'), 0)}% / ${fixed(busy('weft'), 0)}% | ${num(cpu('nginx'))} / ${num(cpu('haproxy'))} / ${num(cpu('weft'))} |`);
  }
  line();

  line(`### Memory of the proxy's processes, MiB (RSS; PSS in brackets, which counts pages shared between nginx's master and worker once)`);
  line();
  line(`| proxy | idle, bench config | after the load runs | idle, ${input.clusters} more clusters | per added cluster, KiB |`);
  line('|---|---|---|---|---|');
  for (const m of input.memory) {
    const cell = (u: MemoryUse | undefined) => (u === undefined ? '–' : `${mib(u.rssBytes)} (${mib(u.pssBytes)})`);
    const perCluster = m.idle && m.withClusters ? fixed((m.withClusters.rssBytes - m.idle.rssBytes) / 1024 / input.clusters, 1) : '–';
    line(`| ${m.proxy} | ${cell(m.idle)} | ${cell(m.afterLoad)} | ${cell(m.withClusters)} | ${perCluster}${m.failure ? ` (${m.failure})` : ''} |`);
  }
  const weft = input.memory.find((m) => m.proxy === 'weft');
  if (weft?.idle) {
    const others = input.memory.filter((m) => m.proxy !== 'weft' && m.idle);
    line();
    line(`Weft's idle RSS is ${others.map((m) => `${ratio(weft.idle!.rssBytes, m.idle!.rssBytes)} ${m.proxy}'s`).join(' and ')}${weft.withClusters ? `; with ${input.clusters} clusters, ${others.filter((m) => m.withClusters).map((m) => `${ratio(weft.withClusters!.rssBytes, m.withClusters!.rssBytes)} ${m.proxy}'s`).join(' and ')}` : ''}.`);
  }
  line();

  line('### Per round (to judge the spread)');
  line();
  line('| traffic | path | CPU µs/request at the fixed rate | p50 µs | p99 µs | max requests/s |');
  line('|---|---|---|---|---|---|');
  for (const s of input.scenarios) {
    for (const v of VARIANTS) {
      if (!runs.has(s.id, v)) continue;
      line(`| ${s.label} | ${v} | ${v === 'direct' ? '' : runs.perRound(s.id, v, 'rate', cpuUsPerRequest, num)} | ${runs.perRound(s.id, v, 'rate', (r) => r.latencyUs.p50, num)} | ${runs.perRound(s.id, v, 'rate', (r) => r.latencyUs.p99, num)} | ${runs.perRound(s.id, v, 'max', (r) => r.rps, (x) => fixed(x, 0))} |`);
    }
  }
  line();

  const all = input.runs;
  const bad = all.filter((r) => r.result.errors + r.result.timeouts > 0);
  const lag = median(all.filter((r) => r.kind === 'rate' && r.variant === 'direct').map((r) => r.result.sendLagUs.p99));
  const steal = Math.max(0, ...all.map((r) => r.result.steal));
  const foreign = all.map((r) => r.result.foreignCpu).filter((v) => !Number.isNaN(v));
  line(`Health of the runs: ${all.length} runs; ${bad.length === 0 ? 'no failed or unanswered request in any' : `failed or unanswered requests in ${bad.map((r) => `${r.scenario}/${r.variant}/${r.kind}#${r.round}: ${r.result.errors} failed (${r.result.statusErrors} non-200), ${r.result.timeouts} unanswered`).join('; ')}`}; `
    + `reconnections: ${all.reduce((sum, r) => sum + r.result.reconnects, 0)}; the generator's send time behind schedule in the direct runs, p99 (median over runs): ${num(lag)} µs; highest CPU steal in a run: ${fixed(steal, 2)}%; `
    + `other processes on the machine during a run: median ${fixed(median(foreign), 1)}%, highest ${fixed(Math.max(0, ...foreign), 1)}% of a core `
    + `(${input.repeated} run(s) measured again because other processes exceeded ${input.foreignLimit}% of a core or steal exceeded ${input.stealLimit}%).`);
  line();
  return out.join('\n');
}
