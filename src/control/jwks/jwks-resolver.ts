import { jwksProblem } from '../../config/kinds/security/request-authentication.ts';
import type { Logger, TimerHandle, Timers } from '../../core/index.ts';

export interface JwksResolverOptions {
  /** Called when a key set is fetched for the first time or comes back different: time to push. */
  readonly onChange: () => void;
  readonly timers?: Timers;
  readonly logger?: Logger;
  /** How often a fetched key set is fetched again: 20 minutes, Istio's PILOT_JWT_PUB_KEY_REFRESH_INTERVAL. */
  readonly refreshIntervalMs?: number;
  /** How long one fetch may take: 5 s, Istio's default JWT rule timeout. */
  readonly timeoutMs?: number;
  /** The wait after a first failure, doubled after each further one up to `retryMaxMs`. */
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
}

/** Larger answers are refused: a key set is a few kilobytes. */
const MAX_JWKS_BYTES = 1 << 20;

const realTimers: Timers = {
  // Unref'd: pending refreshes never keep the process alive.
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

interface Entry {
  /** The last key set fetched that was valid; kept through later failures. */
  jwks: string | undefined;
  failures: number;
  timer: TimerHandle | undefined;
  inFlight: AbortController | undefined;
}

/**
 * The JSON Web Key Sets that RequestAuthentications name by `jwksUri`, fetched by the control
 * plane as Istio's istiod does, so proxies get them inline. `get` answers at once from what has
 * been fetched; a URI it has not seen is fetched in the background, and `onChange` says when its
 * keys arrive. Each is fetched again every refresh interval; a failed fetch is retried with
 * exponential backoff, and the last good key set is kept meanwhile.
 */
export class JwksResolver {
  readonly #entries = new Map<string, Entry>();
  readonly #onChange: () => void;
  readonly #timers: Timers;
  readonly #logger: Logger | undefined;
  readonly #refreshIntervalMs: number;
  readonly #timeoutMs: number;
  readonly #retryInitialMs: number;
  readonly #retryMaxMs: number;
  #closed = false;

  constructor(options: JwksResolverOptions) {
    this.#onChange = options.onChange;
    this.#timers = options.timers ?? realTimers;
    this.#logger = options.logger;
    this.#refreshIntervalMs = options.refreshIntervalMs ?? 20 * 60_000;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#retryInitialMs = options.retryInitialMs ?? 1_000;
    this.#retryMaxMs = options.retryMaxMs ?? 5 * 60_000;
  }

  /** The key set at `uri`, or undefined until it has been fetched (which this starts). */
  get(uri: string): string | undefined {
    const known = this.#entries.get(uri);
    if (known !== undefined || this.#closed) return known?.jwks;
    const entry: Entry = { jwks: undefined, failures: 0, timer: undefined, inFlight: undefined };
    this.#entries.set(uri, entry);
    void this.#fetch(uri, entry);
    return undefined;
  }

  /** Stops every refresh and retry, and aborts fetches under way. */
  close(): void {
    this.#closed = true;
    for (const entry of this.#entries.values()) {
      if (entry.timer !== undefined) this.#timers.clearTimeout(entry.timer);
      entry.timer = undefined;
      entry.inFlight?.abort();
    }
  }

  async #fetch(uri: string, entry: Entry): Promise<void> {
    const controller = new AbortController();
    entry.inFlight = controller;
    let fetched: string | undefined;
    try {
      fetched = await download(uri, AbortSignal.any([controller.signal, AbortSignal.timeout(this.#timeoutMs)]));
    } catch (error) {
      if (this.#closed) return;
      entry.failures += 1;
      const retryMs = Math.min(this.#retryInitialMs * 2 ** (entry.failures - 1), this.#retryMaxMs);
      this.#logger?.warn('could not fetch a JWKS; requests with tokens it signs are refused until it is', { uri, error: (error as Error).message, retryMs });
      this.#schedule(uri, entry, retryMs);
      return;
    } finally {
      entry.inFlight = undefined;
    }
    if (this.#closed) return;
    entry.failures = 0;
    this.#schedule(uri, entry, this.#refreshIntervalMs);
    if (fetched === entry.jwks) return;
    entry.jwks = fetched;
    this.#onChange();
  }

  #schedule(uri: string, entry: Entry, ms: number): void {
    entry.timer = this.#timers.setTimeout(() => {
      entry.timer = undefined;
      void this.#fetch(uri, entry);
    }, ms);
  }
}

/** The body of a 2xx answer that is a key set; throws otherwise. */
async function download(uri: string, signal: AbortSignal): Promise<string> {
  const response = await fetch(uri, { signal, headers: { accept: 'application/json' } });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`HTTP ${response.status}`);
  }
  const text = await readLimited(response);
  const problem = jwksProblem(text);
  if (problem !== undefined) throw new Error(problem);
  return text;
}

async function readLimited(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  if (reader === undefined) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_JWKS_BYTES) {
      await reader.cancel();
      throw new Error(`the answer is larger than ${MAX_JWKS_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
