/**
 * How the control-plane benchmark's processes talk: a child writes one JSON event per line on
 * stdout and reads one command per line on stdin. Every child also ends by itself: at its own
 * deadline, and as soon as its parent goes away (stdin closes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface BenchEvent {
  readonly event: string;
  readonly [field: string]: unknown;
}

/** Milliseconds since the epoch with sub-millisecond precision, comparable across processes of one machine. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

export interface Memory {
  readonly rss: number;
  readonly heapUsed: number;
}

/** After a full collection, when the process runs with --expose-gc. */
export function memory(): Memory {
  (globalThis as { gc?: () => void }).gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heapUsed };
}

// ---- child side ----

export function emit(event: BenchEvent): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

/** Calls `handle` with each line from the parent; exits when the parent closes stdin or at `deadlineMs`. */
export function serveCommands(deadlineMs: number, handle: (command: string, args: string[]) => void | Promise<void>): void {
  setTimeout(() => {
    process.stderr.write(`child ${process.pid}: time limit of ${Math.round(deadlineMs / 1000)} s reached, exiting\n`);
    process.exit(3);
  }, deadlineMs).unref();
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const [command = '', ...args] = line.trim().split(/\s+/);
    Promise.resolve(handle(command, args)).catch((error: unknown) => {
      process.stderr.write(`child ${process.pid}: ${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    });
  });
  lines.on('close', () => process.exit(0));
}

// ---- parent side ----

/** A child process of the benchmark, pinned to `cpu` when taskset is available. */
export class Child {
  readonly name: string;
  readonly #process: ChildProcess;
  readonly #events: BenchEvent[] = [];
  readonly #waiters = new Set<() => void>();
  #stderr = '';
  #exited = false;

  constructor(name: string, args: readonly string[], options: { cpu?: number; nodeFlags?: readonly string[] } = {}) {
    this.name = name;
    const nodeArgs = [...(options.nodeFlags ?? []), ...args];
    const [command, commandArgs] = options.cpu !== undefined ? ['taskset', ['-c', String(options.cpu), process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
    this.#process = spawn(command, commandArgs, { stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.#process.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      this.#events.push(JSON.parse(line) as BenchEvent);
      this.#wake();
    });
    this.#process.stderr!.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-4000);
    });
    this.#process.on('exit', () => {
      this.#exited = true;
      this.#wake();
    });
  }

  get pid(): number | undefined {
    return this.#process.pid;
  }

  send(line: string): void {
    if (!this.#exited) this.#process.stdin!.write(`${line}\n`);
  }

  /** The next event named `event` (consumed), or an error naming the child's last stderr after `timeoutMs`. */
  async next(event: string, timeoutMs: number): Promise<BenchEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.#events.findIndex((e) => e.event === event);
      if (i >= 0) return this.#events.splice(i, 1)[0]!;
      if (this.#exited) throw new Error(`${this.name} exited before "${event}":\n${this.#stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no "${event}" within ${Math.round(timeoutMs / 1000)} s\n${this.#stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#waiters.add(done);
      });
    }
  }

  /** Asks the child to exit (closing its stdin), then kills this child if it has not within `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.#exited) return;
    this.#process.stdin!.end();
    const exited = new Promise<void>((resolve) => this.#process.once('exit', () => resolve()));
    const timer = setTimeout(() => this.#process.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }
}
