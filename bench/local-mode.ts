/**
 * Local mode's start time and memory (issue 5): `weft up` of the demo's bookinfo (the app, its
 * gateway, destination rules, every request to reviews v1) next to its peer, the same six bookinfo
 * services started directly with no mesh, run alternately in the same command.
 *
 * - Start: from spawning `weft up` (the peer: its first service) to the first `GET /productpage`
 *   answered 200 with the reviews in it (`Reviews served by:`), through the gateway (the peer:
 *   from productpage itself), polled every 25 ms.
 * - Memory: after 50 more page requests, the RSS (VmRSS) and PSS of `weft up` and every process
 *   below it, found through the parent pids of /proc/<pid>/stat, since the children run detached
 *   in process groups of their own; by role: `weft up` (the control plane and the supervisor),
 *   `weft proxy` (sidecars and gateway), and the rest (the apps).
 *
 * - CPU: the CPU time of those processes up to the first page, and of everything else on the
 *   machine during each run; a run during which other processes took more than `--others-limit`
 *   % of the cores (25) is repeated, up to `--retries` times (3), and the quietest attempt kept.
 *
 *   node bench/local-mode.ts [--runs N] [--mode explicit|transparent|both] [--start-limit S]
 *                            [--others-limit P] [--retries N]
 *
 * Runs alternate, weft then peer, N times (3) per mode (both). Transparent mode needs root on
 * Linux; it is skipped, with the reason, otherwise. Markdown on stdout, progress on stderr.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import * as os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

type Mode = 'explicit' | 'transparent';
type Role = 'weft up' | 'proxies' | 'apps';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin/weft.js');
const DEMO_FILES = [
  'samples/bookinfo/bookinfo.yaml',
  'samples/bookinfo/networking/bookinfo-gateway.yaml',
  'samples/bookinfo/networking/destination-rule-all.yaml',
  'samples/bookinfo/networking/virtual-service-all-v1.yaml',
];
const POLL_MS = 25;
const REQUEST_TIMEOUT_MS = 5_000;
const PAGE_REQUESTS = 50;
const REVIEWS_MARK = 'Reviews served by:';
/** `weft down` itself gives up after 60 s. */
const DOWN_LIMIT_MS = 75_000;
const EXIT_LIMIT_MS = 15_000;
const SAMPLE_LISTEN_LIMIT_MS = 30_000;
/**
 * A pause before each run, so that what the last one left to finish (the kernel removing a
 * transparent mesh's network namespaces after `weft down` returns) is not counted in the next.
 */
const SETTLE_MS = 3_000;
const MIB = 1024 * 1024;
/** Variables that would send the peer's calls to a proxy, or that `weft up` sets itself. */
const CLEARED = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy', 'NODE_USE_ENV_PROXY', 'NODE_OPTIONS', 'POD_NAME', 'SERVICE_VERSION', 'WEFT_STATE_DIR'];

// ---- options ----

const USAGE = 'usage: node bench/local-mode.ts [--runs N] [--mode explicit|transparent|both] [--start-limit S] [--others-limit P] [--retries N]';
function usage(problem: string): never {
  process.stderr.write(`${problem}\n${USAGE}\n`);
  process.exit(2);
}

interface Options {
  readonly runs: number;
  readonly modes: Mode[];
  readonly startLimitMs: number;
  /** A run during which other processes used more than this % of the machine's cores is repeated… */
  readonly othersLimit: number;
  /** …up to this many times, keeping the quietest attempt. */
  readonly retries: number;
}

function parseOptions(argv: readonly string[]): Options {
  let runs = 3;
  let mode = 'both';
  let startLimitS = 120;
  let othersLimit = 25;
  let retries = 3;
  for (let i = 0; i < argv.length; i += 2) {
    const value = argv[i + 1];
    if (value === undefined) usage(`${argv[i]} needs a value`);
    if (argv[i] === '--runs') runs = Number(value);
    else if (argv[i] === '--mode') mode = value;
    else if (argv[i] === '--start-limit') startLimitS = Number(value);
    else if (argv[i] === '--others-limit') othersLimit = Number(value);
    else if (argv[i] === '--retries') retries = Number(value);
    else usage(`unknown option ${argv[i]}`);
  }
  if (!Number.isInteger(runs) || runs < 1) usage('--runs must be a positive integer');
  if (!(startLimitS > 0)) usage('--start-limit must be a positive number of seconds');
  if (!(othersLimit >= 0)) usage('--others-limit must be a percentage');
  if (!Number.isInteger(retries) || retries < 0) usage('--retries must be a whole number');
  const modes: Mode[] = mode === 'both' ? ['explicit', 'transparent'] : mode === 'explicit' || mode === 'transparent' ? [mode] : usage('--mode must be explicit, transparent or both');
  return { runs, modes, startLimitMs: startLimitS * 1000, othersLimit, retries };
}

// ---- processes ----

function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && !CLEARED.includes(name)) env[name] = value;
  return { ...env, ...extra };
}

/** A child process of this script with the tail of its output kept for error messages. */
class Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly exited: Promise<void>;
  output = '';

  constructor(name: string, args: readonly string[], env: Record<string, string>) {
    this.name = name;
    this.process = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.process.once('exit', () => resolve()));
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-16_384);
    };
    this.process.stdout!.on('data', keep);
    this.process.stderr!.on('data', keep);
    // An error (spawn failure) also ends in 'exit' or is reported by the waits that follow.
    this.process.once('error', (error) => keep(Buffer.from(`\n${this.name}: ${error.message}\n`)));
  }

  get pid(): number {
    if (this.process.pid === undefined) throw new Error(`${this.name} was not spawned:\n${this.output}`);
    return this.process.pid;
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** Waits for the exit up to `limitMs`; true if it exited. */
  async waitExit(limitMs: number): Promise<boolean> {
    if (!this.running) return true;
    let timer: NodeJS.Timeout | undefined;
    const exited = await Promise.race([this.exited.then(() => true), new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), limitMs); })]);
    clearTimeout(timer);
    return exited;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    if (!this.running) return;
    this.process.kill('SIGTERM');
    if (await this.waitExit(graceMs)) return;
    this.process.kill('SIGKILL');
    await this.waitExit(graceMs);
  }
}

/** A process as /proc shows it; the start time tells a process from a later one with its pid. */
interface ProcessId {
  readonly pid: number;
  readonly start: string;
}

/** Clock ticks per second, the unit of CPU times in /proc/<pid>/stat. */
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function statOf(pid: number): { ppid: number; start: string; cpuSeconds: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name, in parentheses, may hold spaces: fields are counted after its last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // utime and stime, fields 14 and 15 of stat.
  return { ppid: Number(fields[1]), start: fields[19] ?? '', cpuSeconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS };
}

/** `root` and all its descendants, however detached, by walking the parent pids of every process. */
function processTree(root: number): ProcessId[] {
  const children = new Map<number, number[]>();
  const starts = new Map<number, string>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const stat = statOf(pid);
    if (stat === undefined) continue;
    starts.set(pid, stat.start);
    const siblings = children.get(stat.ppid);
    if (siblings === undefined) children.set(stat.ppid, [pid]);
    else siblings.push(pid);
  }
  if (!starts.has(root)) return [];
  const out: ProcessId[] = [];
  const queue = [root];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    out.push({ pid, start: starts.get(pid)! });
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

function isAlive(id: ProcessId): boolean {
  return statOf(id.pid)?.start === id.start;
}

function kbField(text: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return match === null ? 0 : Number(match[1]) * 1024;
}

/** The root is `weft up`, `node … cli.ts proxy …` a sidecar or the gateway, the rest apps. */
function roleOf(pid: number, root: number): Role {
  if (pid === root) return 'weft up';
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  return argv[1]?.endsWith('cli.ts') === true && argv[2] === 'proxy' ? 'proxies' : 'apps';
}

interface ProcessUse {
  readonly role: Role;
  readonly rssBytes: number;
  readonly pssBytes: number;
  readonly cpuSeconds: number;
}

/** Each process's RSS, PSS and CPU time so far, with its role. */
function usageOf(tree: readonly ProcessId[], root: number): ProcessUse[] {
  const out: ProcessUse[] = [];
  for (const { pid } of tree) {
    try {
      out.push({
        role: roleOf(pid, root),
        rssBytes: kbField(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmRSS'),
        pssBytes: kbField(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss'),
        cpuSeconds: statOf(pid)?.cpuSeconds ?? 0,
      });
    } catch {
      // It ended meanwhile.
    }
  }
  return out;
}

/**
 * CPU seconds so far of the whole machine (busy, steal included) and of this script with every
 * child it has reaped (cutime and cstime, which carry the children's reaped children too).
 */
function cpuClock(): { machine: number; ours: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: all but idle and iowait.
  const busy = line.slice(0, 8).reduce((sum, ticks, i) => (i === 3 || i === 4 ? sum : sum + ticks), 0);
  const self = readFileSync('/proc/self/stat', 'utf8');
  const fields = self.slice(self.lastIndexOf(')') + 2).split(' ').map(Number);
  return { machine: busy / CLOCK_TICKS, ours: fields.slice(11, 15).reduce((a, b) => a + b, 0) / CLOCK_TICKS };
}

/**
 * Runs `measure` and adds how busy the rest of the machine was meanwhile, in % of all its cores:
 * other sessions' work on a shared machine slows a start that is bound by CPU.
 */
async function withOthersLoad<T>(measure: () => Promise<T>): Promise<T & { othersPercent: number }> {
  const before = cpuClock();
  const t0 = performance.now();
  const result = await measure();
  const after = cpuClock();
  const wallS = (performance.now() - t0) / 1000;
  const others = after.machine - before.machine - (after.ours - before.ours);
  return { ...result, othersPercent: (100 * Math.max(0, others)) / (wallS * os.cpus().length) };
}

/** Kills, by pid, whatever of `ids` is still running after `graceMs`; returns how many it had to. */
async function killLeftovers(ids: readonly ProcessId[], graceMs: number): Promise<number> {
  const deadline = performance.now() + graceMs;
  while (ids.some(isAlive) && performance.now() < deadline) await sleep(100);
  const left = ids.filter(isAlive);
  for (const id of left) {
    try {
      process.kill(id.pid, 'SIGKILL');
    } catch {
      // It ended meanwhile.
    }
  }
  return left.length;
}

// ---- HTTP ----

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** One `GET /productpage` on a new connection: true if 200 with the reviews in the page. */
function pageServed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = httpGet({ host: '127.0.0.1', port, path: '/productpage', agent: false, timeout: REQUEST_TIMEOUT_MS }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { body += chunk; });
      response.on('end', () => resolve(response.statusCode === 200 && body.includes(REVIEWS_MARK)));
      response.on('error', () => resolve(false));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}

/** Polls every POLL_MS until the page is served; the time it was, or an error naming what failed. */
async function firstPage(port: () => number | undefined, alive: () => string | undefined, limitMs: number): Promise<number> {
  const deadline = performance.now() + limitMs;
  for (;;) {
    const dead = alive();
    if (dead !== undefined) throw new Error(dead);
    const target = port();
    if (target !== undefined && await pageServed(target)) return performance.now();
    if (performance.now() >= deadline) throw new Error(`no page with the reviews within ${limitMs / 1000} s`);
    await sleep(POLL_MS);
  }
}

/** PAGE_REQUESTS more pages, one at a time; how many were not 200 with the reviews. */
async function servePages(port: number): Promise<number> {
  let failed = 0;
  for (let i = 0; i < PAGE_REQUESTS; i++) if (!await pageServed(port)) failed++;
  return failed;
}

// ---- the two sides ----

interface RunResult {
  readonly startMs: number;
  /** Weft only: when `weft up` printed that every replica is ready and synced. */
  readonly readyLineMs?: number;
  /** At the first page: the CPU time it took. */
  readonly atStart: readonly ProcessUse[];
  /** After PAGE_REQUESTS more. */
  readonly memory: readonly ProcessUse[];
  readonly failedPages: number;
  /** Weft only: from `weft down` to `weft up`'s exit. */
  readonly stopMs?: number;
  /** Processes that had to be killed by pid after the stop. */
  readonly leftovers: number;
}

interface MeasuredRun extends RunResult {
  /** CPU used by everything outside this script's processes during the run, % of all cores. */
  readonly othersPercent: number;
  /** How many times it was run to get one quiet enough (the quietest is kept). */
  readonly attempts: number;
}

/** What to stop if this script is interrupted mid-run. */
let current: (() => Promise<void>) | undefined;

async function runWeft(mode: Mode, startLimitMs: number): Promise<RunResult> {
  const stateDir = mkdtempSync(join(os.tmpdir(), 'weft-bench-local-'));
  const [port, httpsPort] = [await freePort(), await freePort()];
  const t0 = performance.now();
  const up = new Child('weft up', [BIN, 'up', ...DEMO_FILES, '--state-dir', stateDir, '--port', String(port), '--https-port', String(httpsPort), '--mode', mode], cleanEnv());
  let readyLineAt: number | undefined;
  up.process.stdout!.on('data', () => {
    if (readyLineAt === undefined && up.output.includes('the mesh is up')) readyLineAt = performance.now();
  });
  let seen: ProcessId[] = [];
  const stop = async (): Promise<{ stopMs: number; leftovers: number }> => {
    seen = [...seen, ...processTree(up.pid)];
    const stopAt = performance.now();
    if (up.running) {
      const down = new Child('weft down', [BIN, 'down', '--state-dir', stateDir], cleanEnv());
      if (!await down.waitExit(DOWN_LIMIT_MS)) await down.stop(2_000);
      if (!await up.waitExit(EXIT_LIMIT_MS)) {
        process.stderr.write(`  weft up did not exit after weft down; SIGTERM\n${down.output}`);
        await up.stop(EXIT_LIMIT_MS);
      }
    }
    const stopMs = performance.now() - stopAt;
    const leftovers = await killLeftovers(seen, 2_000);
    rmSync(stateDir, { recursive: true, force: true });
    return { stopMs, leftovers };
  };
  current = async () => void await stop();
  try {
    const servedAt = await firstPage(() => port, () => (up.running ? undefined : `weft up exited:\n${up.output}`), startLimitMs);
    const atStart = usageOf(processTree(up.pid), up.pid);
    const failedPages = await servePages(port);
    seen = processTree(up.pid);
    const memory = usageOf(seen, up.pid);
    const { stopMs, leftovers } = await stop();
    return { startMs: servedAt - t0, ...(readyLineAt !== undefined ? { readyLineMs: readyLineAt - t0 } : {}), atStart, memory, failedPages, stopMs, leftovers };
  } catch (error) {
    await stop();
    throw error;
  } finally {
    current = undefined;
  }
}

/** A bookinfo service started directly, on a port of the system's choosing. */
class Sample extends Child {
  readonly port: Promise<number>;

  constructor(name: string, script: string, env: Record<string, string>) {
    super(name, [join(ROOT, 'samples/bookinfo', script)], cleanEnv({ PORT: '0', HOST: '127.0.0.1', ...env }));
    this.port = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not print "listening on <port>" within ${SAMPLE_LISTEN_LIMIT_MS / 1000} s:\n${this.output}`)), SAMPLE_LISTEN_LIMIT_MS);
      const early = () => {
        clearTimeout(timer);
        reject(new Error(`${name} exited before listening:\n${this.output}`));
      };
      this.process.once('exit', early);
      this.process.stdout!.on('data', () => {
        const match = /^listening on (\d+)$/m.exec(this.output);
        if (match === null) return;
        clearTimeout(timer);
        this.process.off('exit', early);
        resolve(Number(match[1]));
      });
    });
    // A failed start is reported by whoever awaits the port; this keeps it from being unhandled meanwhile.
    this.port.catch(() => undefined);
  }
}

/**
 * The peer: ratings, details and reviews v1 at once; reviews v2 and v3 once ratings listens;
 * productpage once details and reviews v1 do, pointed at them as the sidecars would route it.
 */
async function runPeer(startLimitMs: number): Promise<RunResult> {
  const samples: Sample[] = [];
  const start = (name: string, script: string, env: Record<string, string>) => {
    const sample = new Sample(name, script, env);
    samples.push(sample);
    return sample;
  };
  const stop = async () => {
    const ids = samples.flatMap((s) => (s.process.pid === undefined ? [] : processTree(s.process.pid)));
    await Promise.all(samples.map((s) => s.stop(5_000)));
    return killLeftovers(ids, 2_000);
  };
  current = async () => void await stop();
  try {
    const t0 = performance.now();
    const ratings = start('ratings', 'ratings.ts', { SERVICE_VERSION: 'v1' });
    const details = start('details', 'details.ts', {});
    const reviewsV1 = start('reviews-v1', 'reviews.ts', { SERVICE_VERSION: 'v1', ENABLE_RATINGS: 'false', POD_NAME: 'reviews-v1-0' });
    const ratingsEnv = { RATINGS_HOSTNAME: '127.0.0.1', RATINGS_SERVICE_PORT: String(await ratings.port) };
    start('reviews-v2', 'reviews.ts', { ...ratingsEnv, SERVICE_VERSION: 'v2', ENABLE_RATINGS: 'true', STAR_COLOR: 'black', POD_NAME: 'reviews-v2-0' });
    start('reviews-v3', 'reviews.ts', { ...ratingsEnv, SERVICE_VERSION: 'v3', ENABLE_RATINGS: 'true', STAR_COLOR: 'red', POD_NAME: 'reviews-v3-0' });
    const productpage = start('productpage', 'productpage.ts', {
      DETAILS_HOSTNAME: '127.0.0.1',
      DETAILS_SERVICE_PORT: String(await details.port),
      REVIEWS_HOSTNAME: '127.0.0.1',
      REVIEWS_SERVICE_PORT: String(await reviewsV1.port),
      RATINGS_HOSTNAME: '127.0.0.1',
      RATINGS_SERVICE_PORT: ratingsEnv.RATINGS_SERVICE_PORT,
    });
    let port: number | undefined;
    void productpage.port.then((p) => { port = p; }, () => undefined);
    const dead = () => samples.find((s) => !s.running);
    const servedAt = await firstPage(() => port, () => { const d = dead(); return d === undefined ? undefined : `${d.name} exited:\n${d.output}`; }, startLimitMs);
    const atStart = samples.flatMap((s) => usageOf(processTree(s.pid), -1));
    const failedPages = await servePages(port!);
    // Every service must be up for the memory to be the whole app's.
    await Promise.all(samples.map((s) => s.port));
    const memory = samples.flatMap((s) => usageOf(processTree(s.pid), -1));
    const leftovers = await stop();
    return { startMs: servedAt - t0, atStart, memory, failedPages, leftovers };
  } catch (error) {
    await stop();
    throw error;
  } finally {
    current = undefined;
  }
}

// ---- report ----

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function fmt(value: number): string {
  return Math.abs(value) >= 100 ? value.toFixed(0) : Math.abs(value) >= 10 ? value.toFixed(1) : value.toFixed(2);
}

function total(memory: readonly ProcessUse[], key: 'rssBytes' | 'pssBytes', role?: Role): number {
  return memory.filter((m) => role === undefined || m.role === role).reduce((sum, m) => sum + m[key], 0) / MIB;
}

function cpu(usage: readonly ProcessUse[], role?: Role): number {
  return usage.filter((m) => role === undefined || m.role === role).reduce((sum, m) => sum + m.cpuSeconds, 0);
}

function count(memory: readonly ProcessUse[], role?: Role): number {
  return memory.filter((m) => role === undefined || m.role === role).length;
}

function report(mode: Mode, weft: readonly MeasuredRun[], peer: readonly MeasuredRun[], options: Options): string {
  const start = (runs: readonly RunResult[]) => median(runs.map((r) => r.startMs));
  const rss = (runs: readonly RunResult[], role?: Role) => median(runs.map((r) => total(r.memory, 'rssBytes', role)));
  const pss = (runs: readonly RunResult[], role?: Role) => median(runs.map((r) => total(r.memory, 'pssBytes', role)));
  const cpuToStart = (runs: readonly RunResult[], role?: Role) => median(runs.map((r) => cpu(r.atStart, role)));
  const procs = (runs: readonly RunResult[], role?: Role) => median(runs.map((r) => count(r.memory, role)));
  const perProxy = (key: 'rssBytes' | 'pssBytes') => median(weft.map((r) => total(r.memory, key, 'proxies') / Math.max(1, count(r.memory, 'proxies'))));
  const ready = weft.flatMap((r) => (r.readyLineMs === undefined ? [] : [r.readyLineMs]));
  const row = (label: string, runs: readonly RunResult[], strong: boolean) => {
    const b = (text: string) => (strong ? `**${text}**` : text);
    return `| ${label} | ${b(fmt(start(runs)))} | ${b(`${fmt(start(runs) / start(peer))}×`)} | ${b(fmt(rss(runs)))} | ${b(`${fmt(rss(runs) / rss(peer))}×`)} | ${fmt(pss(runs))} | ${fmt(pss(runs) / pss(peer))}× | ${fmt(cpuToStart(runs))} | ${procs(runs)} |`;
  };
  const lines = [
    `### ${mode} mode: medians of ${weft.length} runs of each, alternating`,
    '',
    '| | start ms | start ÷ peer | RSS MiB | RSS ÷ peer | PSS MiB | PSS ÷ peer | CPU s to the first page | processes |',
    '|---|---|---|---|---|---|---|---|---|',
    row(`weft up, ${mode}`, weft, true),
    row('peer: the six services, no mesh', peer, false),
    '',
    '| role | processes | RSS MiB | RSS per process MiB | PSS MiB | share of the mesh\'s RSS | CPU s to the first page |',
    '|---|---|---|---|---|---|---|',
  ];
  const roles: [string, readonly RunResult[], Role][] = [
    ['control plane + `weft up`', weft, 'weft up'],
    ['sidecars + gateway (`weft proxy`)', weft, 'proxies'],
    ['apps, in the mesh', weft, 'apps'],
    ['apps, peer', peer, 'apps'],
  ];
  for (const [label, runs, role] of roles) {
    const n = procs(runs, role);
    const share = runs === weft ? `${fmt((100 * rss(runs, role)) / rss(weft))}%` : '';
    lines.push(`| ${label} | ${n} | ${fmt(rss(runs, role))} | ${n > 0 ? fmt(rss(runs, role) / n) : ''} | ${fmt(pss(runs, role))} | ${share} | ${fmt(cpuToStart(runs, role))} |`);
  }
  lines.push(
    '',
    `Per proxy (sidecar or gateway), the proxies' RSS ÷ their number: **${fmt(perProxy('rssBytes'))} MiB** (PSS ${fmt(perProxy('pssBytes'))} MiB).`,
    ...(ready.length > 0 ? [`\`weft up\` printed "the mesh is up" (every replica ready and synced) at a median of ${fmt(median(ready))} ms; \`weft down\` took ${fmt(median(weft.map((r) => r.stopMs ?? 0)))} ms.`] : []),
    '',
    'Per run, start ms / RSS MiB:',
    `- weft up: ${weft.map((r) => `${fmt(r.startMs)} / ${fmt(total(r.memory, 'rssBytes'))}`).join('; ')}`,
    `- peer: ${peer.map((r) => `${fmt(r.startMs)} / ${fmt(total(r.memory, 'rssBytes'))}`).join('; ')}`,
    `- pages not 200 with the reviews, of ${PAGE_REQUESTS} per run: weft ${weft.map((r) => r.failedPages).join(', ')}; peer ${peer.map((r) => r.failedPages).join(', ')}`,
    `- other processes' CPU during the run, % of the ${os.cpus().length} cores: weft ${weft.map((r) => fmt(r.othersPercent)).join(', ')}; peer ${peer.map((r) => fmt(r.othersPercent)).join(', ')}`,
    `- attempts per kept run (repeated above ${options.othersLimit}%, at most ${options.retries} times): weft ${weft.map((r) => r.attempts).join(', ')}; peer ${peer.map((r) => r.attempts).join(', ')}`,
    `- processes killed by pid after the stop: weft ${weft.map((r) => r.leftovers).join(', ')}; peer ${peer.map((r) => r.leftovers).join(', ')}`,
    '',
  );
  return lines.join('\n');
}

/** Runs `measure` again while others were busier than the limit, up to `retries` times; keeps the quietest. */
async function quietRun(options: Options, measure: () => Promise<RunResult>): Promise<MeasuredRun> {
  let best: (RunResult & { othersPercent: number }) | undefined;
  let attempts = 0;
  while (attempts <= options.retries) {
    attempts++;
    await sleep(SETTLE_MS);
    const run = await withOthersLoad(measure);
    if (best === undefined || run.othersPercent < best.othersPercent) best = run;
    if (run.othersPercent <= options.othersLimit) break;
    process.stderr.write(`(others ${fmt(run.othersPercent)}% CPU: again) `);
  }
  return { ...best!, attempts };
}

function progress(run: MeasuredRun): string {
  return `${fmt(run.startMs)} ms, ${fmt(total(run.memory, 'rssBytes'))} MiB (others ${fmt(run.othersPercent)}% CPU)`;
}

function transparentUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `transparent mode needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'transparent mode needs root (network namespaces and iptables)';
  return undefined;
}

function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 1024 ** 3)} GiB, ${os.type()} ${os.release()}, Node.js ${process.versions.node}`;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping what runs\n`);
      void (current?.() ?? Promise.resolve()).finally(() => process.exit(130));
    });
  }
  const out = [
    // The compile cache passes to every process of both sides and changes their figures.
    `Command: \`${process.env['NODE_COMPILE_CACHE'] !== undefined ? 'NODE_COMPILE_CACHE=<dir> ' : ''}node bench/local-mode.ts ${process.argv.slice(2).join(' ')}\``.replace(/ `$/, '`'),
    `Machine: ${machine()}; load average at the start ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    '',
  ];
  for (const mode of options.modes) {
    const unavailable = mode === 'transparent' ? transparentUnavailable() : undefined;
    if (unavailable !== undefined) {
      process.stderr.write(`skipping transparent mode: ${unavailable}\n`);
      out.push(`### transparent mode: skipped (${unavailable})`, '');
      continue;
    }
    const weft: MeasuredRun[] = [];
    const peer: MeasuredRun[] = [];
    for (let run = 1; run <= options.runs; run++) {
      process.stderr.write(`${mode} ${run}/${options.runs}: weft up ... `);
      weft.push(await quietRun(options, () => runWeft(mode, options.startLimitMs)));
      process.stderr.write(`${progress(weft.at(-1)!)}; peer ... `);
      peer.push(await quietRun(options, () => runPeer(options.startLimitMs)));
      process.stderr.write(`${progress(peer.at(-1)!)}\n`);
    }
    out.push(report(mode, weft, peer, options));
  }
  out.push(`Load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

await main();
