/**
 * The processes of the proxy comparison (upstream, nginx, HAProxy, Weft): each runs as
 * `taskset -c CPU timeout -k 5 LIMIT command…`, so that it is pinned (its children inherit the
 * affinity) and ends by itself at the run's time limit even if this process is killed. What is
 * measured is the command and its descendants, never `timeout` itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

/** The services still running, stopped on SIGINT / SIGTERM before this process exits. */
const running = new Set<Service>();
let handlersInstalled = false;

function installSignalHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping ${running.size} benchmark processes\n`);
      void Promise.all([...running].map((s) => s.stop(2_000))).then(() => process.exit(130));
    });
  }
}

export interface ServiceOptions {
  readonly cpu: number;
  /** Seconds after which `timeout` ends the service whatever happens here. */
  readonly timeLimitS: number;
  readonly env?: NodeJS.ProcessEnv;
}

export class Service {
  readonly name: string;
  readonly #child: ChildProcess;
  #stdout = '';
  #stderr = '';
  #exit: number | string | undefined;
  readonly #waiters = new Set<() => void>();

  constructor(name: string, command: string, args: readonly string[], options: ServiceOptions) {
    installSignalHandlers();
    this.name = name;
    this.#child = spawn('taskset', ['-c', String(options.cpu), 'timeout', '-k', '5', String(Math.ceil(options.timeLimitS)), command, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
    });
    this.#child.stdout!.on('data', (chunk: Buffer) => {
      this.#stdout = (this.#stdout + chunk.toString()).slice(-65536);
      this.#wake();
    });
    this.#child.stderr!.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-65536);
      this.#wake();
    });
    this.#child.on('exit', (code, signal) => {
      this.#exit = code ?? signal ?? 'exited';
      running.delete(this);
      this.#wake();
    });
    running.add(this);
  }

  get exited(): boolean {
    return this.#exit !== undefined;
  }

  get stdout(): string {
    return this.#stdout;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** The command's processes: every descendant of `timeout`. */
  processes(): number[] {
    const root = this.#child.pid;
    return root === undefined || this.exited ? [] : descendants(root);
  }

  /** Waits until `test` finds what it looks for in stdout or stderr; throws with the last stderr after `timeoutMs`. */
  async waitFor<T>(what: string, test: (stdout: string, stderr: string) => T | undefined, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = test(this.#stdout, this.#stderr);
      if (found !== undefined) return found;
      if (this.exited) throw new Error(`${this.name} exited (${this.#exit}) before ${what}:\n${this.#stderr.slice(-2000)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no ${what} within ${Math.round(timeoutMs / 1000)} s:\n${this.#stderr.slice(-2000)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, 200));
        const waiters = this.#waiters;
        function done(): void {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
        waiters.add(done);
      });
    }
  }

  /** SIGTERM (which `timeout` passes on), then SIGKILL to everything left after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.exited) return;
    const pids = this.processes();
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.stdin!.end();
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const pid of pids) tryKill(pid);
      this.#child.kill('SIGKILL');
    }, graceMs);
    await exited;
    clearTimeout(timer);
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) wake();
  }
}

function tryKill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Every descendant of `pid` (from /proc/<pid>/task/<tid>/children), not `pid` itself. */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const visit = (parent: number): void => {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${parent}/task`);
    } catch {
      return;
    }
    for (const tid of tasks) {
      let children = '';
      try {
        children = readFileSync(`/proc/${parent}/task/${tid}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const child of children.split(/\s+/).filter(Boolean).map(Number)) {
        out.push(child);
        visit(child);
      }
    }
  };
  visit(pid);
  return out;
}

export interface MemoryUse {
  /** Sum of the processes' resident sets (pages shared between them counted once per process). */
  readonly rssBytes: number;
  /** Sum of proportional set sizes: shared pages split between the processes sharing them. */
  readonly pssBytes: number;
  readonly processes: number;
}

function kbField(text: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return match ? Number(match[1]) * 1024 : 0;
}

export function memoryOf(pids: readonly number[]): MemoryUse {
  let rssBytes = 0;
  let pssBytes = 0;
  let processes = 0;
  for (const pid of pids) {
    try {
      rssBytes += kbField(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmRSS');
      pssBytes += kbField(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss');
      processes++;
    } catch {
      // the process ended meanwhile
    }
  }
  return { rssBytes, pssBytes, processes };
}
