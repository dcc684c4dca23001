import { err, ok, type Clock, type Result, type Timers } from '../../../core/index.ts';
import type { Counter } from '../../telemetry/stats.ts';
import { importJwks, parseJwks, type Jwks } from './jwks.ts';
import type { JwtStatus } from './jwt-status.ts';

/** Where a provider's keys come from. */
export interface JwksSource {
  keys(): Promise<Result<Jwks, JwtStatus>>;
}

/**
 * What fetches a remote JWKS: `globalThis.fetch` in main/, so that the JWKS comes straight from
 * its URI, as istiod fetches it, rather than through the proxy's own clusters.
 */
export type FetchJwks = (url: string, init: { readonly signal: AbortSignal }) => Promise<{ readonly status: number; text(): Promise<string> }>;

/** `remoteJwks`: where the JWKS is and how long a fetched one is kept (its `httpUri.cluster` is not used: the fetch goes straight to the URI). */
export interface RemoteJwksSpec {
  readonly uri: string;
  readonly timeoutMs: number;
  readonly cacheDurationMs: number;
}

export interface RemoteJwksDeps {
  readonly fetch: FetchJwks;
  readonly timers: Timers;
  readonly clock: Clock;
  readonly fetchSuccess: Counter;
  readonly fetchFailed: Counter;
}

/** A JWKS given in the config (`localJwks`), parsed when the config was, its keys imported once. */
export class InlineJwks implements JwksSource {
  readonly #keys: Promise<Result<Jwks, JwtStatus>>;

  constructor(jwks: Jwks) {
    this.#keys = importJwks(jwks);
  }

  keys(): Promise<Result<Jwks, JwtStatus>> {
    return this.#keys;
  }
}

/**
 * A JWKS fetched from `httpUri.uri` when first needed and kept for `cacheDuration`, then fetched
 * again by the next request that needs it. Requests arriving during a fetch share it. A fetch that
 * fails (no answer within the timeout, a status other than 200, a body that is no usable JWKS) is
 * not kept: the requests that waited for it fail verification (`Jwks remote fetch is failed`, or
 * what is wrong with the body), and the next request tries again.
 */
export class RemoteJwks implements JwksSource {
  readonly #spec: RemoteJwksSpec;
  readonly #deps: RemoteJwksDeps;
  #cached: { readonly jwks: Jwks; readonly expiresAt: number } | undefined;
  #pending: Promise<Result<Jwks, JwtStatus>> | undefined;

  constructor(spec: RemoteJwksSpec, deps: RemoteJwksDeps) {
    this.#spec = spec;
    this.#deps = deps;
  }

  keys(): Promise<Result<Jwks, JwtStatus>> {
    const cached = this.#cached;
    if (cached !== undefined && this.#deps.clock.now() < cached.expiresAt) return Promise.resolve(ok(cached.jwks));
    this.#pending ??= this.#fetch().finally(() => (this.#pending = undefined));
    return this.#pending;
  }

  async #fetch(): Promise<Result<Jwks, JwtStatus>> {
    const { fetch, timers, clock } = this.#deps;
    const controller = new AbortController();
    const timer = timers.setTimeout(() => controller.abort(), this.#spec.timeoutMs);
    try {
      const response = await fetch(this.#spec.uri, { signal: controller.signal });
      if (response.status !== 200) return this.#failed('jwksFetchFail');
      const parsed = parseJwks(await response.text());
      const imported = parsed.ok ? await importJwks(parsed.value) : parsed;
      if (!imported.ok) return this.#failed(imported.error);
      this.#deps.fetchSuccess.inc();
      this.#cached = { jwks: imported.value, expiresAt: clock.now() + this.#spec.cacheDurationMs };
      return imported;
    } catch {
      return this.#failed('jwksFetchFail');
    } finally {
      timers.clearTimeout(timer);
    }
  }

  #failed(status: JwtStatus): Result<Jwks, JwtStatus> {
    this.#deps.fetchFailed.inc();
    return err(status);
  }
}
