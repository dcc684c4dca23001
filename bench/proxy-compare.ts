/**
 * Weft's gateway proxy next to nginx and HAProxy (issue 4): the same load, interleaved, through
 *   direct   load generator → upstream (no proxy: the floor),
 *   nginx    1 worker process, kept-alive upstream connections,
 *   haproxy  1 thread, http-reuse always,
 *   weft     `weft proxy --type router` configured by `weft control-plane` from Istio YAML,
 * for HTTP/1.1 (1 KiB and 16 KiB responses), HTTP/2 (h2c on both sides) and TCP (echo).
 *
 * The proxy under test is pinned to cpu1; the load generator, the upstream (both in C, compiled at
 * run time from bench/loadgen/) and Weft's control plane to cpu0. Each round runs, per traffic
 * kind, every path at a fixed rate (open loop: CPU µs per request of the proxy, latency from each
 * request's due time), then every path closed-loop (maximum requests/s). Rounds repeat
 * A B C D A B C D …; the report gives medians. Memory: each proxy's RSS idle, after the load, and
 * idle with `--clusters` more clusters configured. See bench/proxy-compare.md.
 *
 *   node bench/proxy-compare.ts [--quick] [--rounds N] [--rate R] [--duration S] [--max-duration S]
 *                               [--warmup S] [--idle S] [--clusters N] [--variants direct,nginx,haproxy,weft]
 *                               [--traffic h1-1k,h1-16k,h2,tcp] [--retries N] [--time-limit S] [--json FILE]
 *
 * Needs Linux with 2 or more cores, nginx with its stream module, HAProxy, taskset, timeout and cc
 * (Debian: apt-get install -y nginx libnginx-mod-stream haproxy gcc). Markdown on stdout, progress
 * on stderr.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileNative, runLoad, type LoadResult, type Protocol } from './proxy-compare-loadgen.ts';
import { haproxyVersion, missingTools, nginxVersion, startHaproxy, startNginx, type Peer, type PeerOptions, type Ports } from './proxy-compare-peers.ts';
import { memoryOf, type MemoryUse } from './proxy-compare-process.ts';
import { PROXIES, renderReport, VARIANTS, type MemoryRecord, type ProxyName, type RunRecord, type Scenario, type Variant } from './proxy-compare-report.ts';
import { H2_BODY, startUpstream } from './proxy-compare-upstream.ts';
import { H2_AUTHORITY, HTTP_AUTHORITY, startWeft } from './proxy-compare-weft.ts';
import { benchOptions } from './bench-options.ts';
import { FOREIGN_LIMIT, STEAL_LIMIT } from './quiet-runs.ts';
import { benchClock, requireTwoCores } from './bench-run.ts';

const LOAD_CPU = 0;
const PROXY_CPU = 1;
const TCP_MESSAGE = 1024;
/** The generator polls instead of sleeping this long before a due time (timers wake ~20 µs late here). */
const SPIN_US = 50;

interface TrafficSpec extends Scenario {
  readonly protocol: Protocol;
  readonly path?: string;
  readonly authority?: string;
  readonly size?: number;
  /** Bytes of the answer, checked once through every path before measuring. */
  readonly expectBytes: number;
  readonly open: { readonly connections: number; readonly streams?: number };
  readonly closed: { readonly connections: number; readonly streams?: number };
  readonly port: (ports: Ports) => number;
}

const TRAFFIC: readonly TrafficSpec[] = [
  { id: 'h1-1k', label: 'HTTP/1.1, 1 KiB response', protocol: 'h1', path: '/1024', authority: HTTP_AUTHORITY, expectBytes: 1024, open: { connections: 16 }, closed: { connections: 64 }, port: (p) => p.h1 },
  { id: 'h1-16k', label: 'HTTP/1.1, 16 KiB response', protocol: 'h1', path: '/16384', authority: HTTP_AUTHORITY, expectBytes: 16384, open: { connections: 16 }, closed: { connections: 64 }, port: (p) => p.h1 },
  { id: 'h2', label: 'HTTP/2 (h2c), 1 KiB response', protocol: 'h2', path: '/1024', authority: H2_AUTHORITY, expectBytes: H2_BODY, open: { connections: 4, streams: 100 }, closed: { connections: 16, streams: 10 }, port: (p) => p.h2 },
  { id: 'tcp', label: 'TCP, 1 KiB echoed', protocol: 'tcp', size: TCP_MESSAGE, expectBytes: TCP_MESSAGE, open: { connections: 16 }, closed: { connections: 64 }, port: (p) => p.tcp },
];

// ---- options ----

const USAGE = `usage: node bench/proxy-compare.ts [--quick] [--rounds N] [--rate R] [--duration S] [--max-duration S] [--warmup S]
       [--idle S] [--clusters N] [--variants direct,nginx,haproxy,weft] [--traffic h1-1k,h1-16k,h2,tcp] [--retries N]
       [--time-limit S] [--json FILE]`;
function usage(problem: string): never {
  process.stderr.write(`${problem}\n${USAGE}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const { quick, option, number } = benchOptions(args, new Set(['--rounds', '--rate', '--duration', '--max-duration', '--warmup', '--idle', '--clusters', '--variants', '--traffic', '--retries', '--time-limit', '--json']), USAGE);
const list = <T extends string>(name: string, all: readonly T[]): T[] => {
  const value = option(name);
  if (value === undefined) return [...all];
  const picked = value.split(',');
  const unknown = picked.filter((v) => !all.includes(v as T));
  if (unknown.length > 0) usage(`${name}: unknown ${unknown.join(', ')} (known: ${all.join(', ')})`);
  return picked as T[];
};

const rounds = number('--rounds', 3, 1);
const rate = number('--rate', 1000, 1000);
const durationS = number('--duration', 4, 2);
const maxDurationS = number('--max-duration', 3, 1.5);
const warmupS = number('--warmup', 1, 0.5);
const idleS = number('--idle', 10, 4);
const clusters = number('--clusters', 1000, 1000);
const timeLimitS = number('--time-limit', 900, 300);
const retries = number('--retries', 1, 1);
const variants = list<Variant>('--variants', VARIANTS);
const traffic = TRAFFIC.filter((t) => list('--traffic', TRAFFIC.map((x) => x.id)).includes(t.id));
const jsonOut = option('--json');

const { started, deadline, progress, quiet } = benchClock(timeLimitS, retries);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- refusing early ----

requireTwoCores('proxy-compare', 'the proxy');
const missing = missingTools();
if (missing.length > 0) {
  process.stderr.write(`proxy-compare cannot run; missing:\n${missing.map((m) => `  - ${m}`).join('\n')}\n`);
  process.exit(2);
}
// This process waits most of the time; it stays off the proxy's core.
execFileSync('taskset', ['-a', '-p', '-c', String(LOAD_CPU), String(process.pid)], { stdio: 'ignore' });

// ---- checking every path once ----

async function checkH1(port: number, spec: TrafficSpec): Promise<void> {
  const bytes = await new Promise<number>((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: spec.path, headers: { host: spec.authority }, agent: false, timeout: 5_000 }, (response) => {
      let length = 0;
      response.on('data', (chunk: Buffer) => (length += chunk.length));
      response.on('end', () => (response.statusCode === 200 ? resolve(length) : reject(new Error(`status ${response.statusCode}`))));
    });
    request.on('timeout', () => request.destroy(new Error('no answer within 5 s')));
    request.on('error', reject);
  });
  if (bytes !== spec.expectBytes) throw new Error(`${bytes} bytes instead of ${spec.expectBytes}`);
}

async function checkH2(port: number, spec: TrafficSpec): Promise<void> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const bytes = await new Promise<number>((resolve, reject) => {
      session.on('error', reject);
      const stream = session.request({ ':path': spec.path!, ':authority': spec.authority! });
      let status = 0;
      let length = 0;
      stream.setTimeout(5_000, () => stream.close(http2.constants.NGHTTP2_CANCEL));
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.on('data', (chunk: Buffer) => (length += chunk.length));
      stream.on('end', () => (status === 200 ? resolve(length) : reject(new Error(`status ${status}`))));
      stream.on('error', reject);
      stream.on('close', () => reject(new Error('stream closed without an answer')));
    });
    if (bytes !== spec.expectBytes) throw new Error(`${bytes} bytes instead of ${spec.expectBytes}`);
  } finally {
    session.close();
  }
}

async function checkTcp(port: number, spec: TrafficSpec): Promise<void> {
  const message = Buffer.alloc(spec.size!, 'e');
  const echoed = await new Promise<Buffer>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let length = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${length} of ${message.length} bytes echoed within 5 s`));
    }, 5_000);
    socket.on('connect', () => socket.write(message));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= message.length) {
        clearTimeout(timer);
        socket.destroy();
        resolve(Buffer.concat(chunks));
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  if (!echoed.equals(message)) throw new Error('the echo differs from what was sent');
}

async function check(port: number, spec: TrafficSpec): Promise<void> {
  if (spec.protocol === 'h1') return checkH1(port, spec);
  if (spec.protocol === 'h2') return checkH2(port, spec);
  return checkTcp(port, spec);
}

// ---- the run ----

interface PathUnderTest {
  readonly variant: Variant;
  readonly ports: Ports;
  readonly processes: () => number[];
  /** Traffic kinds this path failed on (skipped), with why. */
  readonly broken: Map<string, string>;
}

const scratch = mkdtempSync(path.join(os.tmpdir(), 'weft-proxy-compare-'));
const failures: string[] = [];
const runs: RunRecord[] = [];
const memory = new Map<ProxyName, { idle?: MemoryUse; afterLoad?: MemoryUse; withClusters?: MemoryUse; failure?: string }>();
const peers: Peer[] = [];
const serviceTimeLimitS = timeLimitS + 60;

function starter(name: ProxyName): (options: PeerOptions) => Promise<Peer> {
  if (name === 'nginx') return startNginx;
  if (name === 'haproxy') return startHaproxy;
  return (options) => startWeft({ ...options, controlPlaneCpu: LOAD_CPU });
}

async function measureLoad(pathUnderTest: PathUnderTest, spec: TrafficSpec, kind: 'rate' | 'max', warmup: number, duration: number): Promise<LoadResult> {
  const shape = kind === 'rate' ? spec.open : spec.closed;
  return runLoad(loadgen, {
    port: spec.port(pathUnderTest.ports),
    protocol: spec.protocol,
    connections: shape.connections,
    ...(shape.streams !== undefined ? { streams: shape.streams } : {}),
    rate: kind === 'rate' ? rate : 0,
    warmupS: warmup,
    durationS: duration,
    ...(spec.path !== undefined ? { path: spec.path } : {}),
    ...(spec.authority !== undefined ? { authority: spec.authority } : {}),
    ...(spec.size !== undefined ? { size: spec.size } : {}),
    cpuPids: pathUnderTest.processes(),
    spinUs: SPIN_US,
    cpu: LOAD_CPU,
  });
}

/** The run with the least interference, trying again while other processes or the host used the machine. */
function measureQuietly(pathUnderTest: PathUnderTest, spec: TrafficSpec, kind: 'rate' | 'max', warmup: number, duration: number): Promise<LoadResult> {
  return quiet.measure(pathUnderTest.variant, () => measureLoad(pathUnderTest, spec, kind, warmup, duration));
}

async function idleMemory(proxies: readonly { name: ProxyName; peer: Peer }[]): Promise<Map<ProxyName, MemoryUse>> {
  await sleep(idleS * 1000);
  return new Map(proxies.map(({ name, peer }) => [name, memoryOf(peer.processes())]));
}

const loadgen = compileNative('loadgen', scratch);
progress(`scratch directory ${scratch}; load generator compiled`);
const upstream = await startUpstream(scratch, LOAD_CPU, serviceTimeLimitS);
const upstreamPorts: Ports = { h1: upstream.h1Port, h2: upstream.h2Port, tcp: upstream.tcpPort };

try {
  const paths: PathUnderTest[] = [];
  if (variants.includes('direct')) paths.push({ variant: 'direct', ports: upstreamPorts, processes: () => [], broken: new Map() });
  const proxies: { name: ProxyName; peer: Peer }[] = [];
  for (const name of PROXIES.filter((p) => variants.includes(p))) {
    progress(`starting ${name}`);
    try {
      const peer = await starter(name)({ directory: scratch, upstream: upstreamPorts, cpu: PROXY_CPU, timeLimitS: serviceTimeLimitS, extraClusters: 0 });
      peers.push(peer);
      proxies.push({ name, peer });
      paths.push({ variant: name, ports: peer.ports, processes: () => peer.processes(), broken: new Map() });
    } catch (error) {
      const reason = (error as Error).message.split('\n').slice(0, 3).join(' ');
      failures.push(`${name}: did not start: ${reason}`);
      memory.set(name, { failure: 'did not start' });
    }
  }
  progress(`idle ${idleS} s, then memory`);
  for (const [name, use] of await idleMemory(proxies)) memory.set(name, { idle: use });

  for (const p of paths) {
    for (const spec of traffic) {
      try {
        await check(spec.port(p.ports), spec);
      } catch (error) {
        p.broken.set(spec.id, (error as Error).message);
        failures.push(`${p.variant}, ${spec.label}: ${(error as Error).message}`);
      }
    }
  }
  const usable = (p: PathUnderTest, spec: TrafficSpec) => !p.broken.has(spec.id);

  progress('warm-up pass');
  for (const spec of traffic) {
    for (const p of paths.filter((x) => usable(x, spec))) {
      try {
        await measureLoad(p, spec, 'rate', 0, Math.max(1, warmupS));
      } catch (error) {
        p.broken.set(spec.id, (error as Error).message);
        failures.push(`${p.variant}, ${spec.label}, warm-up: ${(error as Error).message}`);
      }
    }
  }

  let stoppedEarly = false;
  const record = (round: number, spec: TrafficSpec, p: PathUnderTest, kind: 'rate' | 'max', result: LoadResult): void => {
    runs.push({ round, scenario: spec.id, variant: p.variant, kind, result });
  };
  for (let round = 1; round <= rounds && !stoppedEarly; round++) {
    for (const spec of traffic) {
      if (Date.now() > deadline) {
        stoppedEarly = true;
        break;
      }
      progress(`round ${round}/${rounds}: ${spec.label}`);
      for (const kind of ['rate', 'max'] as const) {
        for (const p of paths.filter((x) => usable(x, spec))) {
          try {
            record(round, spec, p, kind, await measureQuietly(p, spec, kind, warmupS, kind === 'rate' ? durationS : maxDurationS));
          } catch (error) {
            p.broken.set(spec.id, (error as Error).message);
            failures.push(`${p.variant}, ${spec.label}, round ${round}: ${(error as Error).message}`);
          }
        }
      }
    }
  }
  if (stoppedEarly) failures.push(`stopped at the time limit (${timeLimitS} s) before all rounds finished`);

  progress(`idle ${idleS} s, then memory after the load`);
  for (const [name, use] of await idleMemory(proxies)) memory.set(name, { ...memory.get(name), afterLoad: use });
  await Promise.all(peers.splice(0).map((p) => p.stop()));

  if (clusters > 0 && Date.now() < deadline) {
    progress(`memory with ${clusters} more clusters`);
    const big: { name: ProxyName; peer: Peer }[] = [];
    for (const { name } of proxies) {
      try {
        const peer = await starter(name)({ directory: scratch, upstream: upstreamPorts, cpu: PROXY_CPU, timeLimitS: serviceTimeLimitS, extraClusters: clusters });
        peers.push(peer);
        big.push({ name, peer });
      } catch (error) {
        failures.push(`${name} with ${clusters} more clusters: ${(error as Error).message.split('\n').slice(0, 3).join(' ')}`);
      }
    }
    for (const [name, use] of await idleMemory(big)) memory.set(name, { ...memory.get(name), withClusters: use });
    await Promise.all(peers.splice(0).map((p) => p.stop()));
  }
} finally {
  await Promise.all(peers.map((p) => p.stop()));
  await upstream.service.stop();
}

// ---- report ----

const cpuModel = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '?';
const ccVersion = execFileSync('cc', ['--version'], { encoding: 'utf8' }).split('\n')[0] ?? '?';
const memoryRecords: MemoryRecord[] = PROXIES.filter((p) => memory.has(p)).map((proxy) => ({ proxy, ...memory.get(proxy) }));
const markdown = renderReport({
  command: `npm run bench:proxy${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`,
  environment: [
    `Machine: ${os.cpus().length} × ${cpuModel}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}`,
    `Node.js ${process.version} (Weft), nginx ${nginxVersion()}, HAProxy ${haproxyVersion()}, load generator and upstream built with ${ccVersion}`,
    `Placement: proxy under test on cpu${PROXY_CPU} (\`taskset\`; nginx \`worker_processes 1\`, HAProxy \`nbthread 1\`, Weft's proxy one Node.js process); load generator, upstream and Weft's control plane on cpu${LOAD_CPU}`,
  ],
  settings: [
    `${rounds} round(s), interleaved (${variants.join(', ')}, then again); warm-up ${warmupS} s before every measured window`,
    `Fixed rate: ${rate} requests/s for ${durationS} s; connections: ${traffic.map((t) => `${t.id} ${t.open.connections}${t.open.streams ? ` (≤ ${t.open.streams} streams each)` : ''}`).join(', ')}`,
    `Maximum: closed loop for ${maxDurationS} s; connections: ${traffic.map((t) => `${t.id} ${t.closed.connections}${t.closed.streams ? ` × ${t.closed.streams} streams` : ''}`).join(', ')}`,
    `Memory read after ${idleS} s idle`,
  ],
  scenarios: traffic,
  runs,
  memory: memoryRecords,
  clusters,
  failures,
  repeated: quiet.repeated,
  foreignLimit: FOREIGN_LIMIT,
  stealLimit: STEAL_LIMIT,
  elapsedS: (Date.now() - started) / 1000,
});
process.stdout.write(`${markdown}\n`);
if (jsonOut !== undefined) writeFileSync(jsonOut, JSON.stringify({ runs, memory: memoryRecords, failures }, null, 2));
rmSync(scratch, { recursive: true, force: true });
progress('done');
