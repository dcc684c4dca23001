import { request } from 'node:http';
import { connect } from 'node:net';
import type { Clock, TimerHandle, Timers } from '../core/index.ts';

/** One check of a replica: an HTTP GET that must answer 200..399, or a TCP connect that must be accepted. */
export type ProbeAction =
  | { readonly kind: 'http'; readonly host: string; readonly port: number; readonly path: string; readonly headers: Readonly<Record<string, string>> }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number };

export interface ProbeTiming {
  readonly initialDelayMs: number;
  readonly periodMs: number;
  readonly timeoutMs: number;
  readonly successThreshold: number;
  readonly failureThreshold: number;
}

export interface ReadinessProbeOptions {
  readonly action: ProbeAction;
  readonly timing: ProbeTiming;
  readonly timers: Timers;
  readonly clock: Clock;
  /** Called when the replica becomes ready or stops being ready. */
  readonly onChange: (ready: boolean, detail: string) => void;
}

/**
 * Kubernetes' readiness probe for a local replica: after the initial delay, checks every period;
 * ready after `successThreshold` successes in a row, not ready after `failureThreshold` failures
 * in a row. A replica starts not ready.
 */
export class ReadinessProbe {
  readonly #options: ReadinessProbeOptions;
  #ready = false;
  #successes = 0;
  #failures = 0;
  #timer: TimerHandle | undefined;
  #stopped = false;
  #lastDetail = 'not probed yet';

  constructor(options: ReadinessProbeOptions) {
    this.#options = options;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** Why the last check passed or failed. */
  get detail(): string {
    return this.#lastDetail;
  }

  start(): void {
    this.#schedule(this.#options.timing.initialDelayMs);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#options.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = this.#options.timers.setTimeout(() => void this.#check(), ms);
  }

  async #check(): Promise<void> {
    const started = this.#options.clock.now();
    const failure = await check(this.#options.action, this.#options.timing.timeoutMs);
    if (this.#stopped) return;
    this.#lastDetail = failure ?? 'ok';
    if (failure === undefined) {
      this.#failures = 0;
      this.#successes++;
      if (!this.#ready && this.#successes >= this.#options.timing.successThreshold) {
        this.#ready = true;
        this.#options.onChange(true, 'ok');
      }
    } else {
      this.#successes = 0;
      this.#failures++;
      if (this.#ready && this.#failures >= this.#options.timing.failureThreshold) {
        this.#ready = false;
        this.#options.onChange(false, failure);
      }
    }
    // Until first ready, check often: a replica should take traffic as soon as it can.
    const period = this.#ready ? this.#options.timing.periodMs : Math.min(this.#options.timing.periodMs, 250);
    this.#schedule(Math.max(0, period - (this.#options.clock.now() - started)));
  }
}

/** Undefined when the check passed, else why it failed. */
function check(action: ProbeAction, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    if (action.kind === 'tcp') {
      const socket = connect({ host: action.host, port: action.port });
      socket.setTimeout(timeoutMs, () => {
        socket.destroy();
        resolve(`TCP ${action.host}:${action.port}: no answer within ${timeoutMs} ms`);
      });
      socket.once('connect', () => {
        socket.destroy();
        resolve(undefined);
      });
      socket.once('error', (error) => resolve(`TCP ${action.host}:${action.port}: ${error.message}`));
      return;
    }
    const req = request({ host: action.host, port: action.port, path: action.path, headers: action.headers, timeout: timeoutMs, agent: false }, (response) => {
      response.resume();
      const status = response.statusCode ?? 0;
      resolve(status >= 200 && status < 400 ? undefined : `HTTP GET ${action.path}: status ${status}`);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error) => resolve(`HTTP GET ${action.path}: ${error.message}`));
    req.end();
  });
}
