import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:fs';
import { access, appendFile, mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { err, formatDuration, ok, type Clock, type Result, type TimerHandle, type Timers } from '../core/index.ts';
import { RestartBackoff, type RestartBackoffSettings } from './restart-backoff.ts';

export type SupervisorState = 'starting' | 'running' | 'restarting' | 'stopped' | 'failed';

export interface ProcessExit {
  /** The exit code, or null when a signal ended the process. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** When the exit was seen (clock milliseconds). */
  readonly at: number;
}

export type SupervisorEvent =
  | { readonly type: 'started'; readonly pid: number }
  /** `restartInMs` is undefined when the process exited because it was stopped. */
  | { readonly type: 'exited'; readonly code: number | null; readonly signal: NodeJS.Signals | null; readonly restartInMs: number | undefined }
  /** The process could not be spawned; it is not tried again until the next start(). */
  | { readonly type: 'failed'; readonly message: string };

export interface SupervisorStatus {
  readonly name: string;
  readonly state: SupervisorState;
  /** The running process. */
  readonly pid?: number;
  /** How many times the process was started again after it exited by itself. */
  readonly restarts: number;
  readonly lastExit?: ProcessExit;
  /** When the running process started (clock milliseconds). */
  readonly startedAt?: number;
  /** Why the process could not be started (state `failed`). */
  readonly message?: string;
}

export interface ProcessSupervisorOptions {
  readonly name: string;
  /** The program, found on the PATH of `env` unless it contains a slash; no shell is involved. */
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The whole environment of the process: nothing is inherited from weft's own. */
  readonly env: Readonly<Record<string, string>>;
  /** stdout and stderr are appended here, with weft's own lines about the process (`[weft] ...`). */
  readonly logFile: string;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly backoff?: Partial<RestartBackoffSettings>;
  /** How long stop() waits after SIGTERM before SIGKILL; 5000 unless set. */
  readonly stopGraceMs?: number;
  readonly onEvent?: (event: SupervisorEvent) => void;
}

/**
 * Runs one process for `weft up` and keeps it running: restarts it with a growing backoff when it
 * exits, until stop().
 *
 * The process leads its own process group, so that stopping it also stops what it started, and so
 * that the terminal's Ctrl-C does not reach it: weft up stops its processes itself, in order. It
 * therefore outlives weft unless weft calls stop() (or killNow() from a last-moment exit handler).
 */
export class ProcessSupervisor {
  readonly #options: ProcessSupervisorOptions;
  readonly #backoff: RestartBackoff;
  readonly #stopGraceMs: number;
  #state: SupervisorState = 'stopped';
  #restarts = 0;
  #lastExit: ProcessExit | undefined;
  #message: string | undefined;
  #child: { readonly pid: number; readonly startedAt: number; readonly exited: Promise<void> } | undefined;
  #starting: Promise<Result<number, string>> | undefined;
  #restartTimer: TimerHandle | undefined;
  #stopRequested = false;
  #stopping: Promise<void> | undefined;
  /** weft's own log lines, in order, and before the output of the next run. */
  #logWrites: Promise<void> = Promise.resolve();

  constructor(options: ProcessSupervisorOptions) {
    this.#options = options;
    this.#backoff = new RestartBackoff(options.backoff);
    this.#stopGraceMs = options.stopGraceMs ?? 5000;
  }

  /**
   * Starts the process and resolves with its pid once it runs, or with why it cannot run: a
   * command that is not found or not executable, a working directory that does not exist, a log
   * file that cannot be opened. Such a failure is not retried, since it would fail again. A stop()
   * before the process was spawned also resolves with an error, and leaves the state `stopped`.
   */
  start(): Promise<Result<number, string>> {
    if (this.#state !== 'stopped' && this.#state !== 'failed') throw new Error(`${this.#options.name} is already ${this.#state}`);
    this.#stopRequested = false;
    this.#message = undefined;
    this.#backoff.reset();
    return this.#spawn();
  }

  /** Stops restarting, sends SIGTERM, then SIGKILL after the grace period; resolves once the process exited. */
  stop(): Promise<void> {
    this.#stopRequested = true;
    this.#stopping ??= this.#stop().finally(() => {
      this.#stopping = undefined;
    });
    return this.#stopping;
  }

  /**
   * SIGKILLs the process group at once, without waiting: for a process 'exit' handler of weft,
   * where nothing asynchronous runs any more, so that no process outlives a weft that did not stop().
   */
  killNow(): void {
    this.#stopRequested = true;
    this.#cancelRestart();
    if (this.#child !== undefined) signalGroup(this.#child.pid, 'SIGKILL');
  }

  status(): SupervisorStatus {
    const child = this.#child;
    return {
      name: this.#options.name,
      state: this.#state,
      ...(child !== undefined && { pid: child.pid, startedAt: child.startedAt }),
      restarts: this.#restarts,
      ...(this.#lastExit !== undefined && { lastExit: this.#lastExit }),
      ...(this.#message !== undefined && { message: this.#message }),
    };
  }

  async #stop(): Promise<void> {
    this.#cancelRestart();
    await this.#starting;
    const child = this.#child;
    if (child !== undefined) {
      signalGroup(child.pid, 'SIGTERM');
      const kill = this.#options.timers.setTimeout(() => {
        if (this.#child !== child) return;
        this.#log(`[weft] still running ${formatDuration(this.#stopGraceMs)} after SIGTERM, sending SIGKILL`);
        signalGroup(child.pid, 'SIGKILL');
      }, this.#stopGraceMs);
      await child.exited;
      this.#options.timers.clearTimeout(kill);
    }
    await this.#logWrites;
  }

  #cancelRestart(): void {
    if (this.#restartTimer === undefined) return;
    this.#options.timers.clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    this.#state = 'stopped';
    this.#log('[weft] stopped while waiting to restart');
  }

  async #spawn(): Promise<Result<number, string>> {
    this.#state = 'starting';
    const starting = this.#launch();
    this.#starting = starting;
    try {
      return await starting;
    } finally {
      if (this.#starting === starting) this.#starting = undefined;
    }
  }

  async #launch(): Promise<Result<number, string>> {
    const { command, args, cwd, env, logFile } = this.#options;
    let log: FileHandle;
    try {
      await this.#logWrites;
      await mkdir(dirname(logFile), { recursive: true });
      log = await open(logFile, 'a');
    } catch (error) {
      return this.#fail(`cannot start "${command}": cannot open the log file ${logFile}: ${errorMessage(error)}`);
    }
    try {
      if (this.#stopRequested) {
        this.#state = 'stopped';
        return err(`${this.#options.name} was stopped before it started`);
      }
      let child: ChildProcess;
      try {
        // The child writes to the log file itself: nothing is lost or reordered if weft is busy.
        child = spawn(command, args, { cwd, env, stdio: ['ignore', log.fd, log.fd], detached: true });
      } catch (error) {
        return this.#fail(await this.#explain(error));
      }
      const pid = child.pid;
      if (pid === undefined) {
        const error = await new Promise<unknown>((resolve) => child.once('error', resolve));
        return this.#fail(await this.#explain(error));
      }
      this.#running(child, pid);
      return ok(pid);
    } finally {
      await log.close();
    }
  }

  #running(child: ChildProcess, pid: number): void {
    const exited = Promise.withResolvers<void>();
    const run = { pid, startedAt: this.#options.clock.now(), exited: exited.promise };
    this.#child = run;
    this.#state = 'running';
    child.once('exit', (code, signal) => {
      this.#onExit(run, code, signal);
      exited.resolve();
    });
    this.#emit({ type: 'started', pid });
  }

  #onExit(run: { readonly pid: number; readonly startedAt: number }, code: number | null, signal: NodeJS.Signals | null): void {
    const at = this.#options.clock.now();
    this.#lastExit = { code, signal, at };
    this.#child = undefined;
    // What the process started dies with it, as in a container, so that a restart finds its ports free.
    signalGroup(run.pid, 'SIGKILL');
    const exit = code !== null ? `exited with code ${code}` : `exited with signal ${signal}`;
    if (this.#stopRequested) {
      this.#state = 'stopped';
      this.#log(`[weft] stopped: ${exit}`);
      this.#emit({ type: 'exited', code, signal, restartInMs: undefined });
      return;
    }
    const delay = this.#backoff.delayAfter(at - run.startedAt);
    this.#state = 'restarting';
    this.#log(`[weft] ${exit}, restarting in ${formatDuration(delay)}`);
    this.#restartTimer = this.#options.timers.setTimeout(() => {
      this.#restartTimer = undefined;
      this.#restarts += 1;
      void this.#spawn();
    }, delay);
    this.#emit({ type: 'exited', code, signal, restartInMs: delay });
  }

  #fail(message: string): Result<number, string> {
    this.#state = 'failed';
    this.#message = message;
    this.#log(`[weft] ${message}`);
    this.#emit({ type: 'failed', message });
    return err(message);
  }

  /** Says which of the command or the working directory is the problem, which the error code alone does not. */
  async #explain(error: unknown): Promise<string> {
    const { command, cwd } = this.#options;
    const cannot = `cannot start "${command}"`;
    const code = errorCode(error);
    if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'EACCES') return `${cannot}: ${errorMessage(error)}`;
    const directoryProblem = await workingDirectoryProblem(cwd);
    if (directoryProblem !== undefined) return `${cannot}: ${directoryProblem}`;
    if (code === 'EACCES') return `${cannot}: ${command} is not executable (cwd ${cwd})`;
    if (command.includes('/') && (await exists(resolve(cwd, command)))) {
      return `${cannot}: the interpreter on its #! line was not found (cwd ${cwd})`;
    }
    return `${cannot}: command not found (cwd ${cwd})`;
  }

  #log(line: string): void {
    // A line weft cannot write is dropped: the process matters more, and the next start reports a log file that cannot be opened.
    this.#logWrites = this.#logWrites.then(() => appendFile(this.#options.logFile, `${line}\n`)).catch(() => undefined);
  }

  #emit(event: SupervisorEvent): void {
    this.#options.onEvent?.(event);
  }
}

/**
 * Signals the process group led by `pid`. A group that is gone is not an error, nor one left with
 * only zombies, which some systems answer with EPERM.
 */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    const code = errorCode(error);
    if (code !== 'ESRCH' && code !== 'EPERM') throw error;
  }
}

async function workingDirectoryProblem(cwd: string): Promise<string | undefined> {
  try {
    if (!(await stat(cwd)).isDirectory()) return `the working directory ${cwd} is not a directory`;
    await access(cwd, constants.X_OK);
    return undefined;
  } catch (error) {
    const code = errorCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return `the working directory ${cwd} does not exist`;
    if (code === 'EACCES') return `the working directory ${cwd} is not accessible`;
    return `the working directory ${cwd} cannot be used: ${errorMessage(error)}`;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function errorCode(error: unknown): string | undefined {
  const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
