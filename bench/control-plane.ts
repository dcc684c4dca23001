/**
 * The control plane under load (issue 3), on the generated mesh of `control-plane-mesh.ts`:
 *
 * 1. Compile: snapshot build, and every xDS type for one sidecar and for distinct sidecars, in a
 *    fresh process (`control-plane-compile.ts`).
 * 2. Push: Weft's control plane in its own process (pinned to cpu0), simulated sidecars over
 *    loopback gRPC in others (pinned to cpu1, `--per-process` streams each). After every client is
 *    configured and has ACKed, one VirtualService's weights are edited inside the control plane,
 *    and each client times the push from that moment. Once with the default debounce, once with
 *    none. Next to it, the same clients against a bare gRPC bidi server that writes the same number
 *    of bytes to every stream: the transport's share.
 * 3. Memory: the control plane's RSS and heap (after a full GC) before any connection and once all
 *    clients are configured, per client.
 *
 * Two push scenarios, because one sidecar's full config of the 1,000-service mesh costs about a
 * second of CPU and tens of MB of heap in the control plane: `--clients` sidecars on a mesh of
 * `--fanout-services` services (fan-out), and `--mesh-clients` sidecars on the full `--services`
 * mesh. Every wait has a time limit; the whole run stops at `--time-limit` seconds.
 *
 *   node bench/control-plane.ts [--services N] [--clients N] [--fanout-services N] [--mesh-clients N]
 *                               [--proxies N] [--runs N] [--pushes N] [--per-process N] [--time-limit S]
 *                               [--profile DIR]
 *
 * A scenario with 0 clients is skipped. `--profile DIR` writes a CPU profile of the compile process
 * and of each server process into DIR.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runClients, type ClientsOptions, type PushRecord } from './control-plane-clients.ts';
import { measureCompile, type CompileResult } from './control-plane-compile.ts';
import { Child, now, type BenchEvent, type Memory } from './control-plane-process.ts';
import { runControlPlane, runEchoServer, type ControlPlaneOptions } from './control-plane-servers.ts';

const SELF = fileURLToPath(import.meta.url);
const BASE_FLAGS = ['--expose-gc', '--max-old-space-size=16384'];
const SERVER_CPU = 0;
const CLIENT_CPU = 1;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
}

/** Nearest rank. */
function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? Number.NaN;
}

const ms = (value: number): string => (Number.isNaN(value) ? '–' : value >= 100 ? value.toFixed(0) : value.toFixed(1));
const kb = (bytes: number): string => (bytes / 1024).toFixed(bytes >= 10 * 1024 ? 0 : 1);
const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(0);
/** KB or MB as the size asks (1 KB = 1024 bytes). */
const size = (bytes: number): string => (bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${kb(bytes)} KB`);

// ---- the push scenarios ----

interface PushRun {
  readonly applyMs: number;
  readonly debounceWaitMs: number;
  readonly pushLoopMs: number;
  readonly heard: number;
  readonly receivedMs: readonly number[];
  readonly ackedMs: readonly number[];
  readonly completeMs: readonly number[];
  readonly bytes: number;
  readonly bytesPerClient: number;
  readonly types: string;
}

interface ScenarioResult {
  readonly label: string;
  readonly mode: 'ads' | 'echo';
  readonly services: number;
  readonly clients: number;
  readonly debounce: string;
  readonly synced: number;
  readonly syncMs: readonly number[];
  readonly stormMs: number;
  readonly before: Memory;
  readonly after: Memory | undefined;
  readonly pushes: readonly PushRun[];
  readonly failure?: string;
}

interface Scenario {
  readonly label: string;
  readonly mode: 'ads' | 'echo';
  readonly services: number;
  readonly clients: number;
  readonly debounce?: { readonly quietMs: number; readonly maxMs: number };
  /** Echo: bytes written to each stream per push. */
  readonly echoBytes?: number;
  readonly pushes: number;
  readonly perProcess: number;
}

async function runScenario(scenario: Scenario, deadline: number, serverFlags: readonly string[]): Promise<ScenarioResult> {
  const left = () => Math.max(1_000, deadline - Date.now());
  const childDeadline = () => left() + 30_000;
  const serverOptions: ControlPlaneOptions | { deadlineMs: number } = scenario.mode === 'ads'
    ? { services: scenario.services, deadlineMs: childDeadline(), ...(scenario.debounce ? { debounceQuietMs: scenario.debounce.quietMs, debounceMaxMs: scenario.debounce.maxMs } : {}) }
    : { deadlineMs: childDeadline() };
  const server = new Child(scenario.mode === 'ads' ? 'control plane' : 'echo server', [SELF, '--child', scenario.mode === 'ads' ? 'control-plane' : 'echo', JSON.stringify(serverOptions)], { cpu: SERVER_CPU, nodeFlags: serverFlags });
  const clients: Child[] = [];
  const base = { label: scenario.label, mode: scenario.mode, services: scenario.services, clients: scenario.clients, debounce: scenario.mode === 'echo' ? '–' : scenario.debounce ? `${scenario.debounce.quietMs}/${scenario.debounce.maxMs} ms` : 'default (100/1000 ms)' };
  let before: Memory = { rss: 0, heapUsed: 0 };
  let after: Memory | undefined;
  let synced = 0;
  let syncMs: number[] = [];
  let stormMs = Number.NaN;
  const pushes: PushRun[] = [];
  try {
    const ready = await server.next('ready', left());
    before = ready['memory'] as Memory;
    for (let first = 0; first < scenario.clients; first += scenario.perProcess) {
      const options: ClientsOptions = { mode: scenario.mode, port: ready['port'] as number, first, count: Math.min(scenario.perProcess, scenario.clients - first), services: scenario.services, deadlineMs: childDeadline() };
      clients.push(new Child(`clients ${first}+`, [SELF, '--child', 'clients', JSON.stringify(options)], { cpu: CLIENT_CPU, nodeFlags: BASE_FLAGS }));
    }
    const syncedEvents: BenchEvent[] = [];
    for (const child of clients) {
      syncedEvents.push(await child.next('synced', left()));
      synced += (syncedEvents.at(-1)!['synced'] as number[]).length;
    }
    const started = syncedEvents.flatMap((e) => e['started'] as number[]);
    const done = syncedEvents.flatMap((e) => e['synced'] as number[]);
    syncMs = done.map((t, i) => t - started[i]!);
    stormMs = Math.max(...done) - Math.min(...started);
    server.send('memory');
    after = (await server.next('memory', left()))['memory'] as Memory;
    for (let p = 0; p < scenario.pushes; p++) {
      for (const child of clients) child.send('mark');
      for (const child of clients) await child.next('marked', left());
      server.send(`change ${scenario.mode === 'ads' ? (p % 2 === 0 ? 80 : 90) : scenario.echoBytes}`);
      const applied = await server.next('applied', left());
      const push = await server.next('push', left());
      const records: (PushRecord | null)[] = [];
      for (const child of clients) {
        let pushed: BenchEvent;
        try {
          pushed = await child.next('pushed', Math.min(left(), 120_000));
        } catch {
          child.send('report');
          pushed = await child.next('pushed', 10_000);
        }
        records.push(...(pushed['records'] as (PushRecord | null)[]));
      }
      const t0 = applied['t0'] as number;
      const heard = records.filter((r): r is PushRecord => r !== null);
      const bytes = heard.reduce((sum, r) => sum + r.bytes, 0);
      pushes.push({
        applyMs: applied['applyMs'] as number,
        debounceWaitMs: (push['start'] as number) - t0 - (applied['applyMs'] as number),
        pushLoopMs: (push['end'] as number) - (push['start'] as number),
        heard: heard.length,
        receivedMs: heard.map((r) => r.firstReceived - t0),
        ackedMs: heard.map((r) => r.firstAcked - t0),
        completeMs: heard.map((r) => r.lastReceived - t0),
        bytes,
        bytesPerClient: median(heard.map((r) => r.bytes)),
        types: [...new Set(heard.flatMap((r) => r.types))].sort().join('+'),
      });
    }
    return { ...base, synced, syncMs, stormMs, before, after, pushes };
  } catch (error) {
    return { ...base, synced, syncMs, stormMs, before, after, pushes, failure: error instanceof Error ? error.message.split('\n')[0]! : String(error) };
  } finally {
    await Promise.all([...clients, server].map((child) => child.stop()));
  }
}

// ---- reporting ----

function pushSummary(result: ScenarioResult): { p50: number; p99: number; max: number; ackP99: number; completeP99: number; bytes: number; perClient: number; apply: number; wait: number; loop: number } {
  const of = (f: (run: PushRun) => number) => median(result.pushes.map(f));
  return {
    p50: of((r) => percentile(r.receivedMs, 0.5)),
    p99: of((r) => percentile(r.receivedMs, 0.99)),
    max: of((r) => Math.max(...r.receivedMs)),
    ackP99: of((r) => percentile(r.ackedMs, 0.99)),
    completeP99: of((r) => percentile(r.completeMs, 0.99)),
    bytes: of((r) => r.bytes),
    perClient: of((r) => r.bytesPerClient),
    apply: of((r) => r.applyMs),
    wait: of((r) => r.debounceWaitMs),
    loop: of((r) => r.pushLoopMs),
  };
}

function printCompile(c: CompileResult): void {
  const sum = (f: (t: CompileResult['types'][number]) => number) => c.types.reduce((a, t) => a + f(t), 0);
  const perProxy = median(c.perProxyMs);
  console.log(`### Compile: ${c.services} services, ${c.resources} resources, ${c.workloads} workloads (one process; medians of ${c.warmRuns} warm runs)\n`);
  console.log(`Parsing and validating the YAML (not part of compile): ${ms(c.parseMs)} ms. Snapshot build: ${ms(c.snapshotColdMs)} ms cold, **${ms(c.snapshotWarmMs)} ms** warm.\n`);
  console.log('| one sidecar, type | resources | encoded KB | generate ms | generate + encode + hash ms |');
  console.log('|---|---|---|---|---|');
  for (const t of c.types) console.log(`| ${t.type} | ${t.resources} | ${kb(t.bytes)} | ${ms(t.generateMs)} | ${ms(t.generateEncodeMs)} |`);
  console.log(`| **all four** | ${sum((t) => t.resources)} | ${kb(sum((t) => t.bytes))} | **${ms(sum((t) => t.generateMs))}** | **${ms(sum((t) => t.generateEncodeMs))}** |`);
  console.log(`\nFirst (cold) compile of that sidecar, all four types with encoding: ${ms(c.firstProxyColdMs)} ms.`);
  console.log(`Through the ADS server's generation cache: that sidecar ${ms(c.sharedFirstMs)} ms, then another sidecar of the same service (same sharing keys) **${ms(c.sharedSecondMs)} ms**.`);
  console.log(`${c.distinctProxies} distinct sidecars (another service each), each compiled once with encoding: median **${ms(perProxy)} ms per proxy** (min ${ms(Math.min(...c.perProxyMs))}, max ${ms(Math.max(...c.perProxyMs))}); `
    + `1,000 proxies, estimated from these ${c.distinctProxies} (not measured): **${(perProxy * 1000 / 1000).toFixed(0)} s** of one core. `
    + `Memory held per proxy when its encoded resources are kept (as an ADS stream keeps what it sent; heap and buffers): **${size(c.heldPerProxyBytes)}**.\n`);
}

function printPush(results: readonly ScenarioResult[]): void {
  console.log('### Push: one VirtualService edit, time from the edit to each client receiving the pushed response\n');
  console.log('| scenario | services | clients | debounce quiet/max | all configured after connect (storm) s | apply ms | debounce wait ms | push loop ms | p50 ms | p99 ms | max ms | ACK sent p99 ms | all types p99 ms | bytes sent | per client | types |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    if (r.pushes.length === 0) {
      console.log(`| ${r.label} | ${r.services} | ${r.clients} | ${r.debounce} | ${r.synced} of ${r.clients} configured | | | | | | | | | | | ${r.failure ?? ''} |`);
      continue;
    }
    const s = pushSummary(r);
    const heard = Math.min(...r.pushes.map((p) => p.heard));
    console.log(`| ${r.label} | ${r.mode === 'ads' ? r.services : '–'} | ${r.clients}${heard < r.clients ? ` (${heard} heard)` : ''} | ${r.debounce} | ${(r.stormMs / 1000).toFixed(1)} | ${ms(s.apply)} | ${ms(s.wait)} | ${ms(s.loop)} | **${ms(s.p50)}** | **${ms(s.p99)}** | ${ms(s.max)} | ${ms(s.ackP99)} | ${ms(s.completeP99)} | ${size(s.bytes)} | ${size(s.perClient)} | ${r.pushes[0]!.types} |`);
  }
  console.log('\nEach row is the median over its pushes of each column. Raw p50 / p99 per push (ms):');
  for (const r of results) console.log(`- ${r.label}: ${r.pushes.map((p) => `${ms(percentile(p.receivedMs, 0.5))} / ${ms(percentile(p.receivedMs, 0.99))}`).join('; ')}${r.failure ? ` — stopped: ${r.failure}` : ''}`);
  console.log('');
}

function printMemory(results: readonly ScenarioResult[]): void {
  console.log('### Memory: server process, after a full GC, before any connection and with every client configured\n');
  console.log('| server | services | clients | RSS before MiB | RSS after MiB | heap before MiB | heap after MiB | RSS per client KB | heap per client KB |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  const seen = new Set<string>();
  for (const r of results) {
    if (r.after === undefined) continue;
    const key = `${r.mode}/${r.services}/${r.clients}`;
    if (seen.has(key)) continue;
    seen.add(key);
    console.log(`| ${r.mode === 'ads' ? 'Weft control plane' : 'bare gRPC echo'} | ${r.mode === 'ads' ? r.services : '–'} | ${r.clients} | ${mib(r.before.rss)} | ${mib(r.after.rss)} | ${mib(r.before.heapUsed)} | ${mib(r.after.heapUsed)} | **${kb((r.after.rss - r.before.rss) / r.clients)}** | ${kb((r.after.heapUsed - r.before.heapUsed) / r.clients)} |`);
  }
  console.log('');
}

// ---- main ----

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : fallback;
};

if (args[0] === '--child') {
  const role = args[1];
  const options = JSON.parse(args[2] ?? '{}') as Record<string, number>;
  if (role === 'compile') process.stdout.write(JSON.stringify(measureCompile(options['services']!, options['runs']!, options['proxies']!)));
  else if (role === 'control-plane') await runControlPlane(options as unknown as ControlPlaneOptions);
  else if (role === 'echo') await runEchoServer(options as unknown as { deadlineMs: number });
  else if (role === 'clients') runClients(options as unknown as ClientsOptions);
  else throw new Error(`unknown child role ${role}`);
} else {
  const services = flag('--services', 1000);
  const clients = flag('--clients', 1000);
  const fanoutServices = flag('--fanout-services', 10);
  const meshClients = flag('--mesh-clients', 10);
  const proxies = flag('--proxies', 10);
  const runs = flag('--runs', 3);
  const pushes = flag('--pushes', 3);
  const perProcess = flag('--per-process', 250);
  const timeLimitS = flag('--time-limit', 420);
  const profileAt = args.indexOf('--profile');
  const serverFlags = profileAt >= 0 && args[profileAt + 1] !== undefined ? [...BASE_FLAGS, '--cpu-prof', `--cpu-prof-dir=${args[profileAt + 1]}`] : BASE_FLAGS;
  const started = Date.now();
  const deadline = started + timeLimitS * 1000;
  const t = (): string => `${((Date.now() - started) / 1000).toFixed(0)} s`;
  const progress = (message: string): void => {
    process.stderr.write(`[${t()}] ${message}\n`);
  };

  console.log(`node ${process.version}, ${(await import('node:os')).cpus().length} CPUs; server processes pinned to cpu${SERVER_CPU}, client processes to cpu${CLIENT_CPU}\n`);
  progress(`compile: ${services} services`);
  const compileOut = execFileSync('taskset', ['-c', String(SERVER_CPU), process.execPath, ...serverFlags, SELF, '--child', 'compile', JSON.stringify({ services, runs, proxies })], {
    encoding: 'utf8', timeout: Math.max(1_000, deadline - Date.now()), maxBuffer: 64 * 1024 * 1024,
  });
  printCompile(JSON.parse(compileOut) as CompileResult);

  const results: ScenarioResult[] = [];
  const groups: { readonly services: number; readonly clients: number; readonly name: string }[] = [
    { services: fanoutServices, clients, name: 'fan-out' },
    { services, clients: meshClients, name: 'full mesh' },
  ];
  for (const group of groups.filter((g) => g.clients > 0)) {
    const perClientBytes: number[] = [];
    for (const debounce of [undefined, { quietMs: 0, maxMs: 0 }]) {
      if (Date.now() >= deadline) break;
      progress(`push, ${group.name}: ${group.clients} clients, ${group.services} services, debounce ${debounce ? '0' : 'default'}`);
      const result = await runScenario({ label: `${group.name}: Weft ADS`, mode: 'ads', services: group.services, clients: group.clients, ...(debounce ? { debounce } : {}), pushes, perProcess }, deadline, serverFlags);
      results.push(result);
      perClientBytes.push(...result.pushes.map((p) => p.bytesPerClient));
    }
    if (Date.now() >= deadline || perClientBytes.length === 0) continue;
    const echoBytes = Math.round(median(perClientBytes));
    progress(`push, ${group.name}: bare gRPC echo of ${echoBytes} bytes to ${group.clients} clients`);
    results.push(await runScenario({ label: `${group.name}: bare gRPC echo`, mode: 'echo', services: group.services, clients: group.clients, echoBytes, pushes, perProcess }, deadline, serverFlags));
  }
  printPush(results);
  printMemory(results);
  if (Date.now() >= deadline) console.log(`Stopped at the time limit (${timeLimitS} s); rows above are what finished.`);
  progress('done');
}
