/**
 * The load generator of the proxy comparison: `bench/loadgen/loadgen.c` (open loop with latency
 * from the due time, or closed loop), compiled with `cc` into the run's scratch directory. Why C: a
 * Node generator on raw `net` sockets tops out at about 25,000 requests/s closed-loop on the core it
 * shares with the upstream, and its open-loop schedule slips from 10,000 requests/s on, below what
 * nginx and HAProxy serve (see bench/proxy-compare.md).
 */
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/**
 * Compiles `bench/loadgen/<name>.c` (or `source`) into `outDir`, linked with libm and `libraries`
 * (`['ssl', 'crypto']`); returns the binary's path.
 */
export function compileNative(name: string, outDir: string, source = path.join(HERE, 'loadgen', `${name}.c`), libraries: readonly string[] = []): string {
  const binary = path.join(outDir, name);
  execFileSync('cc', ['-O2', '-Wall', '-o', binary, source, '-lm', ...libraries.map((l) => `-l${l}`)], { stdio: ['ignore', 'ignore', 'pipe'] });
  return binary;
}

export type Protocol = 'h1' | 'h2' | 'tcp';

export interface LoadOptions {
  readonly port: number;
  readonly protocol: Protocol;
  readonly connections: number;
  /** Requests per second on a fixed schedule; 0 for closed loop. */
  readonly rate: number;
  readonly warmupS: number;
  readonly durationS: number;
  readonly path?: string;
  readonly authority?: string;
  /** TCP: bytes per echoed message. */
  readonly size?: number;
  /** h2: streams per connection (closed loop: kept in flight; open loop: the most in flight). */
  readonly streams?: number;
  /** Processes whose CPU time is read at both ends of the measured window. */
  readonly cpuPids: readonly number[];
  /** Polls instead of sleeping for this long before each due time. */
  readonly spinUs: number;
  readonly cpu: number;
}

export interface Percentiles {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

export interface LoadResult {
  readonly mode: 'open' | 'closed';
  readonly windowS: number;
  /** Open loop: requests due in the measured window. */
  readonly due: number;
  readonly completed: number;
  /** Failed requests (broken connections, reset streams, non-200 answers) in the window. */
  readonly errors: number;
  readonly statusErrors: number;
  /** Measured requests still unanswered when the drain time ran out. */
  readonly timeouts: number;
  readonly reconnects: number;
  readonly rps: number;
  readonly latencyUs: Percentiles;
  readonly sendLagUs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly cpuNs: number;
  readonly cpuTicks: number;
  readonly cpu0Busy: number;
  readonly cpu1Busy: number;
  readonly steal: number;
  /** % of one core used by processes outside the benchmark during the run: other work on the machine. */
  readonly foreignCpu: number;
}

interface Raw {
  readonly error?: string;
  readonly mode: 'open' | 'closed';
  readonly window_s: number;
  readonly due: number;
  readonly completed: number;
  readonly errors: number;
  readonly status_errors: number;
  readonly timeouts: number;
  readonly reconnects: number;
  readonly rps: number | null;
  readonly latency_us: Record<keyof Percentiles, number | null>;
  readonly send_lag_us: Record<'p50' | 'p99' | 'max', number | null>;
  readonly cpu_ns: number;
  readonly cpu_ticks: number;
  readonly cpu0_busy: number | null;
  readonly cpu1_busy: number | null;
  readonly steal: number;
  readonly foreign_cpu: number | null;
}

/** Seconds the generator waits, after the window, for the answers still due (`--drain`). */
export const DRAIN_S = 2;
const n = (value: number | null): number => value ?? Number.NaN;

/**
 * Runs a generator built on loadgen.c (`name` in messages) on core `cpu`, killed when it outlasts
 * warm-up, window and drain by 15 s; its stdout.
 */
export function execGenerator(name: string, binary: string, args: readonly string[], cpu: number, warmupS: number, durationS: number): Promise<string> {
  const timeoutMs = (warmupS + durationS + DRAIN_S + 15) * 1000;
  return new Promise<string>((resolve, reject) => {
    execFile('taskset', ['-c', String(cpu), binary, ...args], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20 }, (error, out, err) => {
      // The generator reports its own failures as {"error": ...} with exit status 1.
      if (error && !out.startsWith('{')) reject(new Error(`${name} failed: ${error.message} ${err}`));
      else resolve(out);
    });
  });
}

/** loadgen.c's JSON result (`json`), or its {"error"} as an Error naming `name`. */
export function parseLoadResult(name: string, json: string): LoadResult {
  const raw = JSON.parse(json) as Raw;
  if (raw.error !== undefined) throw new Error(`${name}: ${raw.error}`);
  const l = raw.latency_us;
  return {
    mode: raw.mode,
    windowS: raw.window_s,
    due: raw.due,
    completed: raw.completed,
    errors: raw.errors,
    statusErrors: raw.status_errors,
    timeouts: raw.timeouts,
    reconnects: raw.reconnects,
    rps: n(raw.rps),
    latencyUs: { p50: n(l.p50), p90: n(l.p90), p99: n(l.p99), p999: n(l.p999), max: n(l.max), mean: n(l.mean) },
    sendLagUs: { p50: n(raw.send_lag_us.p50), p99: n(raw.send_lag_us.p99), max: n(raw.send_lag_us.max) },
    cpuNs: raw.cpu_ns,
    cpuTicks: raw.cpu_ticks,
    cpu0Busy: n(raw.cpu0_busy),
    cpu1Busy: n(raw.cpu1_busy),
    steal: raw.steal,
    foreignCpu: n(raw.foreign_cpu),
  };
}

export async function runLoad(binary: string, options: LoadOptions): Promise<LoadResult> {
  const args = [
    '--port', String(options.port), '--proto', options.protocol, '--conns', String(options.connections), '--rate', String(options.rate),
    '--warmup', String(options.warmupS), '--duration', String(options.durationS), '--drain', String(DRAIN_S), '--spin-us', String(options.spinUs),
    ...(options.path !== undefined ? ['--path', options.path] : []),
    ...(options.authority !== undefined ? ['--authority', options.authority] : []),
    ...(options.size !== undefined ? ['--size', String(options.size)] : []),
    ...(options.streams !== undefined ? ['--streams', String(options.streams)] : []),
    ...(options.cpuPids.length > 0 ? ['--cpu-pids', options.cpuPids.join(',')] : []),
  ];
  return parseLoadResult('loadgen', await execGenerator('loadgen', binary, args, options.cpu, options.warmupS, options.durationS));
}
