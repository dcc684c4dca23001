/**
 * What resilience policies cost on Weft's proxy path (issue 6): the same HTTP/1.1 1 KiB load,
 * interleaved in rounds, through one `weft proxy --type router` gateway to four hosts that differ
 * only in policy, and directly to the upstream as the floor:
 *   plain   a VirtualService route, no DestinationRule (the path of bench/proxy-compare.ts);
 *   dr      a full DestinationRule: connection pool, outlier detection, ROUND_ROBIN;
 *   retry   the route with retries (3 attempts, 2 s per try, 5xx,connect-failure,reset) and a 10 s timeout;
 *   both    the DestinationRule and the retry policy.
 * Every host has the same two endpoints (two processes of the C upstream), so balancing and outlier
 * bookkeeping run. Before measuring, the gateway's admin API must show that each policy arrived
 * (`/config_dump`, and `cluster.<name>.outlier_detection.*` in `/stats` only where a
 * DestinationRule asks for it); after the load, that no host was ejected and both endpoints
 * served. Memory: one gateway per policy with `--clusters` hosts of it, idle. Reuses the load
 * generator, upstream and Weft launcher of bench/proxy-compare.ts; see bench/resilience-cost.md.
 *
 *   node bench/resilience-cost.ts [--quick] [--rounds N] [--rate R] [--duration S] [--max-duration S] [--warmup S]
 *                                 [--idle S] [--clusters N] [--configs plain,dr,retry,both] [--retries N]
 *                                 [--time-limit S] [--json FILE]
 *
 * Needs Linux with 2 or more cores, taskset, timeout and cc. Markdown on stdout, progress on stderr.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileNative, runLoad, type LoadResult } from './proxy-compare-loadgen.ts';
import type { Ports } from './proxy-compare-peers.ts';
import { memoryOf, type MemoryUse } from './proxy-compare-process.ts';
import { cpuUsPerRequest, fixed, median, mib, num, proxyBusy, ratio } from './proxy-compare-report.ts';
import { startUpstream, type Upstream } from './proxy-compare-upstream.ts';
import { getJson, startWeft, type WeftPeer } from './proxy-compare-weft.ts';
import { benchOptions } from './bench-options.ts';
import { FOREIGN_LIMIT, STEAL_LIMIT } from './quiet-runs.ts';
import { benchClock, requireTwoCores, couldNotRunLines } from './bench-run.ts';

const LOAD_CPU = 0;
const PROXY_CPU = 1;
const SPIN_US = 50;
const BODY = 1024;
const OPEN_CONNECTIONS = 16;
const CLOSED_CONNECTIONS = 64;

const CONFIGS = ['plain', 'dr', 'retry', 'both'] as const;
type Config = (typeof CONFIGS)[number];
type PathName = 'direct' | Config;
const DESCRIPTION: Readonly<Record<Config, string>> = {
  plain: 'VirtualService route, no DestinationRule',
  dr: 'full DestinationRule',
  retry: 'retry policy and route timeout',
  both: 'full DestinationRule and retry policy',
};
const hasRule = (c: Config): boolean => c === 'dr' || c === 'both';
const hasRetries = (c: Config): boolean => c === 'retry' || c === 'both';

// ---- options ----

const USAGE = `usage: node bench/resilience-cost.ts [--quick] [--rounds N] [--rate R] [--duration S] [--max-duration S] [--warmup S]
       [--idle S] [--clusters N] [--configs plain,dr,retry,both] [--retries N] [--time-limit S] [--json FILE]`;
function usage(problem: string): never {
  process.stderr.write(`${problem}\n${USAGE}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const { quick, option, number } = benchOptions(args, new Set(['--rounds', '--rate', '--duration', '--max-duration', '--warmup', '--idle', '--clusters', '--configs', '--retries', '--time-limit', '--json']), USAGE);

// Four rounds: each configuration goes first once (the order turns every round).
const rounds = number('--rounds', 4, 1);
const rate = number('--rate', 1000, 1000);
const durationS = number('--duration', 6, 2);
const maxDurationS = number('--max-duration', 3, 1.5);
const warmupS = number('--warmup', 1, 0.5);
const idleS = number('--idle', 10, 4);
const clusters = Math.round(number('--clusters', 500, 100));
const timeLimitS = number('--time-limit', 480, 240);
const retries = number('--retries', 1, 1);
const jsonOut = option('--json');
const configs: Config[] = (() => {
  const value = option('--configs');
  if (value === undefined) return [...CONFIGS];
  const picked = value.split(',');
  const unknown = picked.filter((v) => !CONFIGS.includes(v as Config));
  if (unknown.length > 0) usage(`--configs: unknown ${unknown.join(', ')} (known: ${CONFIGS.join(', ')})`);
  if (!picked.includes('plain')) usage('--configs must include plain: every ratio is taken next to it');
  return CONFIGS.filter((c) => picked.includes(c));
})();

const { started, deadline, progress, quiet } = benchClock(timeLimitS, retries);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

requireTwoCores('resilience-cost', 'the proxy');
for (const tool of ['taskset', 'timeout', 'cc']) {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  } catch {
    process.stderr.write(`resilience-cost cannot run: ${tool} is missing\n`);
    process.exit(2);
  }
}
execFileSync('taskset', ['-a', '-p', '-c', String(LOAD_CPU), String(process.pid)], { stdio: 'ignore' });

// ---- the Istio configuration ----

const hostOf = (config: Config, copy?: number): string => `resilience-${config}${copy === undefined ? '' : `-${copy}`}.bench.internal`;
const clusterOf = (host: string): string => `outbound|80||${host}`;

/** A ServiceEntry with both upstream endpoints, a VirtualService on the gateway, and the config's policies. */
function policyYaml(config: Config, host: string, endpoints: readonly number[]): string {
  const name = host.replace('.bench.internal', '');
  const documents = [
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ${name}
  namespace: istio-system
spec:
  hosts: [${host}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {number: 80, name: http, protocol: HTTP}
  endpoints:
${endpoints.map((port) => `  - {address: 127.0.0.1, ports: {http: ${port}}}`).join('\n')}`,
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
  namespace: istio-system
spec:
  hosts: [${host}]
  gateways: [bench-gateway]
  http:
  - route:
    - destination: {host: ${host}, port: {number: 80}}${hasRetries(config) ? `
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,connect-failure,reset"}
    timeout: 10s` : ''}`,
  ];
  if (hasRule(config)) {
    documents.push(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ${name}
  namespace: istio-system
spec:
  host: ${host}
  trafficPolicy:
    connectionPool:
      tcp:
        maxConnections: 1000
        connectTimeout: 1s
        tcpKeepalive: {time: 300s, interval: 75s, probes: 9}
      http:
        http1MaxPendingRequests: 1000
        http2MaxRequests: 1000
        maxRequestsPerConnection: 0
        maxRetries: 3
        idleTimeout: 60s
    outlierDetection:
      consecutive5xxErrors: 5
      consecutiveGatewayErrors: 5
      interval: 10s
      baseEjectionTime: 30s
      maxEjectionPercent: 50
    loadBalancer: {simple: ROUND_ROBIN}`);
  }
  return documents.map((d) => `---\n${d}\n`).join('');
}

// ---- checking that the policies arrived at the proxy ----

interface ClusterDump {
  readonly name: string;
  readonly lbPolicy?: string;
  readonly connectTimeout?: string;
  readonly circuitBreakers?: { readonly thresholds?: readonly Record<string, unknown>[] };
  readonly outlierDetection?: Record<string, unknown>;
  readonly upstreamConnectionOptions?: { readonly tcpKeepalive?: Record<string, unknown> };
  readonly typedExtensionProtocolOptions?: Record<string, { readonly commonHttpProtocolOptions?: Record<string, unknown> }>;
}
interface RouteDump {
  readonly match?: unknown;
  readonly route?: { readonly cluster?: string; readonly timeout?: string; readonly retryPolicy?: { readonly numRetries?: number; readonly perTryTimeout?: string; readonly retryOn?: string } };
}

/** Every object in the dump that has `key` (the dump nests clusters and route configs a few levels deep). */
function collect(value: unknown, key: string, out: Record<string, unknown>[] = []): Record<string, unknown>[] {
  if (Array.isArray(value)) for (const v of value) collect(v, key, out);
  else if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (key in record) out.push(record);
    for (const v of Object.values(record)) collect(v, key, out);
  }
  return out;
}

const same = (actual: unknown, expected: unknown): boolean => JSON.stringify(actual) === JSON.stringify(expected);

/** What in the gateway's config differs from what each host's YAML asks for; empty when all arrived. */
async function policyProblems(gateway: WeftPeer, hosts: readonly (readonly [Config, string])[]): Promise<string[]> {
  const problems: string[] = [];
  const dump = JSON.parse((await getJson(gateway.adminPort, '/config_dump')).body) as unknown;
  const clusterDumps = collect(dump, 'cluster').map((r) => r.cluster).filter((c): c is ClusterDump => typeof c === 'object' && c !== null && 'name' in c);
  const routes = collect(dump, 'route').map((r) => r as RouteDump).filter((r) => typeof r.route?.cluster === 'string');
  const stats = (await getJson(gateway.adminPort, '/stats?filter=outlier_detection')).body;
  for (const [config, host] of hosts) {
    const name = clusterOf(host);
    const cluster = clusterDumps.find((c) => c.name === name);
    if (cluster === undefined) {
      problems.push(`${config}: no cluster ${name} in /config_dump`);
      continue;
    }
    const hasOutlierStats = stats.includes(`cluster.${name}.outlier_detection.`);
    if (hasRule(config)) {
      const thresholds = cluster.circuitBreakers?.thresholds?.[0] ?? {};
      const expectThresholds = { maxConnections: 1000, maxPendingRequests: 1000, maxRequests: 1000, maxRetries: 3 };
      for (const [field, value] of Object.entries(expectThresholds)) if (thresholds[field] !== value) problems.push(`${config}: circuit breaker ${field} is ${JSON.stringify(thresholds[field])}, not ${value}`);
      const outlier = cluster.outlierDetection ?? {};
      const expectOutlier = { consecutive5xx: 5, consecutiveGatewayFailure: 5, interval: '10s', baseEjectionTime: '30s', maxEjectionPercent: 50 };
      for (const [field, value] of Object.entries(expectOutlier)) if (!same(outlier[field], value)) problems.push(`${config}: outlierDetection.${field} is ${JSON.stringify(outlier[field])}, not ${JSON.stringify(value)}`);
      if ((cluster.lbPolicy ?? 'ROUND_ROBIN') !== 'ROUND_ROBIN') problems.push(`${config}: lbPolicy ${cluster.lbPolicy}, not ROUND_ROBIN`);
      if (cluster.connectTimeout !== '1s') problems.push(`${config}: connectTimeout ${cluster.connectTimeout}, not 1s`);
      if (cluster.upstreamConnectionOptions?.tcpKeepalive === undefined) problems.push(`${config}: no tcpKeepalive`);
      const common = Object.values(cluster.typedExtensionProtocolOptions ?? {})[0]?.commonHttpProtocolOptions;
      if (common?.idleTimeout !== '60s') problems.push(`${config}: HTTP idleTimeout ${JSON.stringify(common?.idleTimeout)}, not 60s`);
      if (!hasOutlierStats) problems.push(`${config}: /stats has no cluster.${name}.outlier_detection.*: the proxy runs no outlier detector for it`);
    } else {
      if (cluster.outlierDetection !== undefined) problems.push(`${config}: has outlierDetection, but no DestinationRule asks for it`);
      if (hasOutlierStats) problems.push(`${config}: /stats has outlier_detection.* without a DestinationRule`);
    }
    const route = routes.find((r) => r.route?.cluster === name)?.route;
    if (route === undefined) {
      problems.push(`${config}: no route to ${name} in /config_dump`);
    } else if (hasRetries(config)) {
      const policy = route.retryPolicy;
      if (policy?.numRetries !== 3 || policy.perTryTimeout !== '2s' || !/5xx/.test(policy.retryOn ?? '')) problems.push(`${config}: retry policy ${JSON.stringify(policy)}, not 3 × 2 s on 5xx`);
      if (route.timeout !== '10s') problems.push(`${config}: route timeout ${route.timeout}, not 10s`);
    } else if (route.timeout !== undefined && route.timeout !== '0s') {
      problems.push(`${config}: route timeout ${route.timeout}, but the VirtualService sets none`);
    }
  }
  return problems;
}

interface HostCounts {
  readonly address: string;
  readonly requests: number;
  readonly healthy: boolean;
}

/** Per endpoint of a config's cluster: requests sent, and whether it is healthy (not ejected), from `/clusters`. */
async function endpointCounts(gateway: WeftPeer, config: Config): Promise<HostCounts[]> {
  const text = (await getJson(gateway.adminPort, '/clusters')).body;
  const prefix = `${clusterOf(hostOf(config))}::`;
  const hosts = new Map<string, { requests: number; healthy: boolean }>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const [address, key, value] = line.slice(prefix.length).split('::');
    if (address === undefined || !/^[\d.]+:\d+$/.test(address)) continue;
    const host = hosts.get(address) ?? { requests: 0, healthy: true };
    if (key === 'rq_total') host.requests = Number(value);
    if (key === 'health_flags') host.healthy = value === 'healthy';
    hosts.set(address, host);
  }
  return [...hosts].map(([address, h]) => ({ address, ...h }));
}

async function outlierCounters(gateway: WeftPeer): Promise<Map<string, number>> {
  const text = (await getJson(gateway.adminPort, '/stats?filter=outlier_detection')).body;
  return new Map(text.split('\n').filter((l) => l.includes(': ')).map((l) => {
    const [name, value] = l.split(': ');
    return [name!, Number(value)];
  }));
}

/** One GET through the path: 200 and the whole body, or why not. */
async function check(port: number, authority: string): Promise<void> {
  const bytes = await new Promise<number>((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: `/${BODY}`, headers: { host: authority }, agent: false, timeout: 5_000 }, (response) => {
      let length = 0;
      response.on('data', (chunk: Buffer) => (length += chunk.length));
      response.on('end', () => (response.statusCode === 200 ? resolve(length) : reject(new Error(`status ${response.statusCode}`))));
    });
    request.on('timeout', () => request.destroy(new Error('no answer within 5 s')));
    request.on('error', reject);
  });
  if (bytes !== BODY) throw new Error(`${bytes} bytes instead of ${BODY}`);
}

// ---- measuring ----

interface PathUnderTest {
  readonly name: PathName;
  readonly port: number;
  readonly authority: string;
  readonly processes: () => number[];
}

interface Run {
  readonly round: number;
  readonly path: PathName;
  readonly kind: 'rate' | 'max';
  readonly result: LoadResult;
}

async function measure(p: PathUnderTest, kind: 'rate' | 'max', warmup: number, duration: number): Promise<LoadResult> {
  return runLoad(loadgen, {
    port: p.port,
    protocol: 'h1',
    connections: kind === 'rate' ? OPEN_CONNECTIONS : CLOSED_CONNECTIONS,
    rate: kind === 'rate' ? rate : 0,
    warmupS: warmup,
    durationS: duration,
    path: `/${BODY}`,
    authority: p.authority,
    cpuPids: p.processes(),
    spinUs: SPIN_US,
    cpu: LOAD_CPU,
  });
}

/** As bench/proxy-compare.ts: a run disturbed by other processes or by the VM's host is measured again, the quieter kept. */
function measureQuietly(p: PathUnderTest, kind: 'rate' | 'max'): Promise<LoadResult> {
  const duration = kind === 'rate' ? durationS : maxDurationS;
  return quiet.measure(p.name, () => measure(p, kind, warmupS, duration));
}

// ---- the run ----

const scratch = mkdtempSync(path.join(os.tmpdir(), 'weft-resilience-cost-'));
/** Only a bound for processes left behind by a killed run: a round started before the deadline may end well after it. */
const serviceTimeLimitS = timeLimitS + 600;
const failures: string[] = [];
const runs: Run[] = [];
const gateways: WeftPeer[] = [];
const upstreams: Upstream[] = [];
let gatewayMemory: { idle?: MemoryUse; afterLoad?: MemoryUse } = {};
const policyMemory = new Map<Config, MemoryUse>();
const balance = new Map<Config, HostCounts[]>();
let ejections = new Map<string, number>();
let stoppedEarly = false;
/** The policies were in the gateway before and after the runs. */
let policiesChecked = false;

async function startGateway(name: string, extraYaml: string): Promise<WeftPeer> {
  const directory = path.join(scratch, name);
  mkdirSync(directory, { recursive: true });
  const gateway = await startWeft({ directory, upstream: upstreamPorts, cpu: PROXY_CPU, timeLimitS: serviceTimeLimitS, extraClusters: 0, controlPlaneCpu: LOAD_CPU, extraYaml });
  gateways.push(gateway);
  return gateway;
}

async function stopGateways(): Promise<void> {
  await Promise.all(gateways.splice(0).map((g) => g.stop()));
}

const loadgen = compileNative('loadgen', scratch);
progress(`scratch directory ${scratch}; load generator compiled`);
// Two processes of the same upstream program: the hosts' two endpoints (each compiles into a directory of its own).
for (const name of ['upstream-a', 'upstream-b']) {
  const directory = path.join(scratch, name);
  mkdirSync(directory);
  upstreams.push(await startUpstream(directory, LOAD_CPU, serviceTimeLimitS));
}
const [upstreamA, upstreamB] = upstreams as [Upstream, Upstream];
const endpoints = [upstreamA.h1Port, upstreamB.h1Port];
const upstreamPorts: Ports = { h1: upstreamA.h1Port, h2: upstreamA.h2Port, tcp: upstreamA.tcpPort };

try {
  progress(`starting the gateway with ${configs.join(', ')}`);
  const gateway = await startGateway('gateway', configs.map((c) => policyYaml(c, hostOf(c), endpoints)).join(''));
  const hosts = configs.map((c) => [c, hostOf(c)] as const);
  const problems = await policyProblems(gateway, hosts);
  if (problems.length > 0) throw new Error(`the gateway's configuration is not what the bench measures:\n  ${problems.join('\n  ')}`);
  progress('every policy arrived at the gateway (/config_dump, /stats)');
  const paths: PathUnderTest[] = [
    { name: 'direct', port: upstreamA.h1Port, authority: hostOf('plain'), processes: () => [] },
    ...configs.map((c) => ({ name: c, port: gateway.ports.h1, authority: hostOf(c), processes: () => gateway.processes() })),
  ];
  for (const p of paths) await check(p.port, p.authority);

  progress(`idle ${idleS} s, then memory`);
  await sleep(idleS * 1000);
  gatewayMemory = { idle: memoryOf(gateway.processes()) };

  progress('warm-up pass');
  for (const p of paths) {
    await measure(p, 'rate', 0, Math.max(1, warmupS));
    await measure(p, 'max', 0, Math.max(1, warmupS));
  }

  for (let round = 1; round <= rounds; round++) {
    if (Date.now() > deadline) {
      stoppedEarly = true;
      break;
    }
    // The proxied paths take turns at going first, so that none always follows the direct run.
    const shift = (round - 1) % configs.length;
    const order = [paths[0]!, ...paths.slice(1 + shift), ...paths.slice(1, 1 + shift)];
    progress(`round ${round}/${rounds}: ${order.map((p) => p.name).join(', ')}`);
    for (const kind of ['rate', 'max'] as const) {
      for (const p of order) runs.push({ round, path: p.name, kind, result: await measureQuietly(p, kind) });
    }
  }
  if (stoppedEarly) failures.push(`stopped at the time limit (${timeLimitS} s) before all rounds finished`);

  for (const c of configs) {
    const hosts = await endpointCounts(gateway, c);
    balance.set(c, hosts);
    if (hosts.length !== 2 || hosts.some((h) => h.requests === 0 || !h.healthy)) throw new Error(`${c}: the two endpoints did not both serve: ${JSON.stringify(hosts)}`);
  }
  ejections = await outlierCounters(gateway);
  const after = await policyProblems(gateway, hosts);
  if (after.length > 0) throw new Error(`the gateway's configuration changed during the run:\n  ${after.join('\n  ')}`);
  policiesChecked = true;
  progress(`idle ${idleS} s, then memory after the load`);
  await sleep(idleS * 1000);
  gatewayMemory = { ...gatewayMemory, afterLoad: memoryOf(gateway.processes()) };
  await stopGateways();

  if (clusters > 0) {
    const memoryGateways: [Config, WeftPeer][] = [];
    for (const c of configs) {
      progress(`memory: a gateway with ${clusters} hosts of ${c}`);
      const yaml = Array.from({ length: clusters }, (_, i) => policyYaml(c, hostOf(c, i), endpoints)).join('');
      memoryGateways.push([c, await startGateway(`memory-${c}`, yaml)]);
    }
    await sleep(idleS * 1000);
    // Memory first: reading a 500-host /config_dump makes garbage in the gateway.
    for (const [c, g] of memoryGateways) policyMemory.set(c, memoryOf(g.processes()));
    for (const [c, g] of memoryGateways) {
      const last = await policyProblems(g, [[c, hostOf(c, clusters - 1)]]);
      if (last.length > 0) throw new Error(`the memory gateway of ${c} lacks its policies:\n  ${last.join('\n  ')}`);
    }
    await stopGateways();
  }
} catch (error) {
  failures.push((error as Error).message);
  process.exitCode = 1;
} finally {
  await stopGateways();
  await Promise.all(upstreams.map((u) => u.service.stop()));
}

// ---- report ----

const of = (name: PathName, kind: 'rate' | 'max'): Run[] => runs.filter((r) => r.path === name && r.kind === kind);
const med = (name: PathName, kind: 'rate' | 'max', f: (r: LoadResult) => number): number => median(of(name, kind).map((r) => f(r.result)));
/** Per round, `name`'s figure minus `base`'s in the same round. */
function paired(name: PathName, base: PathName, kind: 'rate' | 'max', f: (r: LoadResult) => number): number[] {
  const baseByRound = new Map(of(base, kind).map((r) => [r.round, f(r.result)]));
  return of(name, kind).flatMap((r) => (baseByRound.has(r.round) ? [f(r.result) - baseByRound.get(r.round)!] : []));
}
const added = (name: PathName, f: (r: LoadResult) => number): number => median(paired(name, 'direct', 'rate', f));
const p50 = (r: LoadResult): number => r.latencyUs.p50;
const p99 = (r: LoadResult): number => r.latencyUs.p99;
const rps = (r: LoadResult): number => r.rps;
const range = (values: readonly number[], format: (v: number) => string): string => {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  return sorted.length === 0 ? '–' : `${format(sorted[0]!)} … ${format(sorted.at(-1)!)}`;
};
const signed = (v: number): string => (Number.isNaN(v) ? '–' : `${v >= 0 ? '+' : ''}${num(v)}`);

const out: string[] = [];
const line = (text = ''): void => {
  out.push(text);
};
const cpuModel = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '?';
line(`Command: \`npm run bench:resilience${args.length > 0 ? ` -- ${args.join(' ')}` : ''}\` (${Math.round((Date.now() - started) / 1000)} s).`);
line();
line(`- Machine: ${os.cpus().length} × ${cpuModel}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}, Node.js ${process.version}`);
line(`- One gateway (\`weft proxy --type router\`) on cpu${PROXY_CPU}, serving one host per configuration; load generator, two upstream processes (the host's two endpoints) and the control plane on cpu${LOAD_CPU}`);
line(`- HTTP/1.1 \`GET /${BODY}\`, keep-alive; ${rounds} round(s), interleaved (direct, then the configurations taking turns at going first), warm-up ${warmupS} s before every window`);
line(`- Fixed rate: ${rate} requests/s for ${durationS} s over ${OPEN_CONNECTIONS} connections; maximum: closed loop for ${maxDurationS} s over ${CLOSED_CONNECTIONS} connections`);
line();
line('| configuration | what |');
line('|---|---|');
for (const c of configs) line(`| ${c} | ${DESCRIPTION[c]} |`);
line();
for (const l of couldNotRunLines(failures)) line(l);

line(`### Cost next to plain (medians over rounds)`);
line();
line(`CPU is the gateway's (every thread, from \`/proc/<pid>/task/*/schedstat\`) per request answered; added latency is the percentile minus the direct run's in the same round, at ${rate} requests/s. RSS: a gateway with ${clusters} hosts of the configuration, after ${idleS} s idle.`);
line();
line('| path | CPU µs/request at the rate | ÷ plain | added p50 µs | ÷ plain | added p99 µs | ÷ plain | max requests/s | ÷ plain | ÷ direct | proxy busy at max | CPU µs/request at max | ÷ plain | RSS MiB | per host over plain, KiB |');
line('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
line(`| direct | | | ${num(med('direct', 'rate', p50))} (its p50) | | ${num(med('direct', 'rate', p99))} (its p99) | | ${fixed(med('direct', 'max', rps), 0)} | | | | | | | |`);
const plainRss = policyMemory.get('plain')?.rssBytes;
for (const c of configs) {
  const cpu = med(c, 'rate', cpuUsPerRequest);
  const a50 = added(c, p50);
  const a99 = added(c, p99);
  const max = med(c, 'max', rps);
  const cpuMax = med(c, 'max', cpuUsPerRequest);
  const rss = policyMemory.get(c)?.rssBytes;
  const perHost = rss !== undefined && plainRss !== undefined ? fixed((rss - plainRss) / 1024 / clusters, 1) : '–';
  const bold = (text: string) => (c === 'plain' ? text : `**${text}**`);
  line(`| ${c} | ${num(cpu)} | ${bold(ratio(cpu, med('plain', 'rate', cpuUsPerRequest)))} | ${num(a50)} | ${bold(ratio(a50, added('plain', p50)))} | ${num(a99)} | ${ratio(a99, added('plain', p99))} | ${fixed(max, 0)} | ${bold(ratio(max, med('plain', 'max', rps)))} | ${ratio(max, med('direct', 'max', rps))} | ${fixed(med(c, 'max', proxyBusy), 0)}% | ${num(cpuMax)} | ${ratio(cpuMax, med('plain', 'max', cpuUsPerRequest))} | ${mib(rss)} | ${c === 'plain' ? '' : perHost} |`);
}
line();
line(`The gateway's own RSS (all ${configs.length} hosts): ${mib(gatewayMemory.idle?.rssBytes)} MiB idle before the load, ${mib(gatewayMemory.afterLoad?.rssBytes)} MiB idle after it.`);
line();

line('### The difference from plain in the same round (to judge it against the spread)');
line();
line('Per round, the configuration\'s figure minus plain\'s in that round: median, and lowest … highest over the rounds. A difference whose range spans zero is within run-to-run noise.');
line();
line('| configuration | CPU µs/request at the rate | p50 µs | p99 µs | max requests/s | CPU µs/request at max |');
line('|---|---|---|---|---|---|');
for (const c of configs.filter((x) => x !== 'plain')) {
  const cell = (kind: 'rate' | 'max', f: (r: LoadResult) => number, format: (v: number) => string) => {
    const d = paired(c, 'plain', kind, f);
    return `${signed(median(d))} (${range(d, format)})`;
  };
  line(`| ${c} | ${cell('rate', cpuUsPerRequest, signed)} | ${cell('rate', p50, signed)} | ${cell('rate', p99, signed)} | ${cell('max', rps, (v) => `${v >= 0 ? '+' : ''}${v.toFixed(0)}`)} | ${cell('max', cpuUsPerRequest, signed)} |`);
}
line();

line('### Per round');
line();
line('| path | CPU µs/request at the rate | p50 µs | p99 µs | max requests/s |');
line('|---|---|---|---|---|');
for (const name of ['direct', ...configs] as const) {
  const per = (kind: 'rate' | 'max', f: (r: LoadResult) => number, format: (v: number) => string) => of(name, kind).map((r) => format(f(r.result))).join(' / ');
  line(`| ${name} | ${name === 'direct' ? '' : per('rate', cpuUsPerRequest, num)} | ${per('rate', p50, num)} | ${per('rate', p99, num)} | ${per('max', rps, (v) => v.toFixed(0))} |`);
}
line();

const bad = runs.filter((r) => r.result.errors + r.result.timeouts > 0);
const foreign = runs.map((r) => r.result.foreignCpu).filter((v) => !Number.isNaN(v));
const enforced = [...ejections].filter(([name, value]) => /ejections_(enforced_total|active|overflow)$/.test(name) && value > 0);
line('**Checks.** ' + [
  ...(policiesChecked ? [`every policy was in the gateway's \`/config_dump\` before and after the runs, with \`cluster.<name>.outlier_detection.*\` in \`/stats\` exactly for ${configs.filter(hasRule).join(' and ') || 'no configuration'}`] : []),
  `requests per endpoint (\`/clusters\` rq_total, warm-up included): ${[...balance].map(([c, hosts]) => `${c} ${hosts.map((h) => `${h.requests}${h.healthy ? '' : ' (ejected)'}`).join(' / ')}`).join('; ')}`,
  enforced.length === 0 ? 'no ejection' : `outlier detection: ${enforced.map(([n, v]) => `${n} = ${v}`).join(', ')}`,
  `${runs.length} runs; ${bad.length === 0 ? 'no failed or unanswered request' : `failed or unanswered requests in ${bad.map((r) => `${r.path}/${r.kind}#${r.round}: ${r.result.errors} failed, ${r.result.timeouts} unanswered`).join('; ')}`}`,
  `other processes during a run: median ${fixed(median(foreign), 1)}%, highest ${fixed(Math.max(0, ...foreign), 1)}% of a core; highest steal ${fixed(Math.max(0, ...runs.map((r) => r.result.steal)), 2)}%; ${quiet.repeated} run(s) measured again (other processes over ${FOREIGN_LIMIT}% of a core or steal over ${STEAL_LIMIT}%)`,
].join('; ') + '.');
line();
process.stdout.write(`${out.join('\n')}\n`);
if (jsonOut !== undefined) writeFileSync(jsonOut, JSON.stringify({ runs, gatewayMemory, policyMemory: Object.fromEntries(policyMemory), balance: Object.fromEntries(balance), ejections: Object.fromEntries(ejections), failures }, null, 2));
rmSync(scratch, { recursive: true, force: true });
progress('done');
