/** Keys, signed tokens and exchanges for the JWT filter's tests; only tests import this module. */
import { constants, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { Readable } from 'node:stream';
import type { HttpExchange, HttpResponse, RequestHead } from '../../http/exchange.ts';
import { NO_HEADER_MUTATION } from '../../route/index.ts';
import type { RouteEntry } from '../../route/route-entry.ts';

export type SigningAlgorithm = 'RS256' | 'PS256' | 'ES256' | 'EdDSA';

/** An issuer's signing key and its public JWK. */
export class TestKey {
  readonly alg: SigningAlgorithm;
  readonly kid: string;
  readonly #private: KeyObject;
  readonly #public: KeyObject;

  constructor(alg: SigningAlgorithm, kid: string) {
    this.alg = alg;
    this.kid = kid;
    const pair = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'EdDSA' ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.#private = pair.privateKey;
    this.#public = pair.publicKey;
  }

  /** The public JWK, with kid and alg. */
  jwk(): Record<string, unknown> {
    return { ...this.#public.export({ format: 'jwk' }), kid: this.kid, alg: this.alg };
  }

  /** A compact JWS of `payload`; `header` adds to or overrides {alg, kid, typ}. */
  sign(payload: Record<string, unknown>, header: Record<string, unknown> = {}): string {
    const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
    const input = `${encode({ alg: this.alg, kid: this.kid, typ: 'JWT', ...header })}.${encode(payload)}`;
    const data = Buffer.from(input);
    const signature = this.alg === 'EdDSA' ? sign(null, data, this.#private)
      : this.alg === 'ES256' ? sign('sha256', data, { key: this.#private, dsaEncoding: 'ieee-p1363' })
      : this.alg === 'PS256' ? sign('sha256', data, { key: this.#private, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST })
      : sign('sha256', data, this.#private);
    return `${input}.${signature.toString('base64url')}`;
  }
}

export function jwksOf(...keys: TestKey[]): string {
  return JSON.stringify({ keys: keys.map((key) => key.jwk()) });
}

/** The test clock's time: 2023-11-14, in seconds. */
export const NOW_SECONDS = 1_700_000_000;

/** An exchange as the connection manager hands it to the filters. */
export function exchange(request: Partial<RequestHead> = {}, route?: RouteEntry): HttpExchange {
  return {
    request: { method: 'GET', path: '/', authority: 'httpbin.foo:8000', scheme: 'http', headers: {}, protocol: 'HTTP/1.1', ...request },
    body: Readable.from([]),
    downstream: { connectionId: 1, remoteAddress: '127.0.0.1', remotePort: 40000, localAddress: '127.0.0.1', localPort: 15006 },
    info: { requestId: 'req-1', startTime: 0, responseFlags: new Set(), attemptCount: 0, bytesReceived: 0, bytesSent: 0 },
    metadata: new Map(),
    signal: new AbortController().signal,
    route,
    clearRouteCache() {},
  };
}

/** A route whose per-filter configs are `perFilterConfig`. */
export function routeWith(perFilterConfig: ReadonlyMap<string, unknown>): RouteEntry {
  return {
    name: 'r', virtualHostName: 'vh', action: { kind: 'direct', status: 200 },
    requestHeaders: NO_HEADER_MUTATION, responseHeaders: NO_HEADER_MUTATION, perFilterConfig,
  };
}

/** The rest of the chain: records each request as it was when the filter let it go on, and answers 200. */
export class RecordingUpstream {
  readonly seen: RequestHead[] = [];

  next(ex: HttpExchange): () => Promise<HttpResponse> {
    return () => {
      this.seen.push({ ...ex.request, headers: { ...ex.request.headers } });
      return Promise.resolve({ status: 200, headers: {}, body: Buffer.from('upstream') });
    };
  }
}

export function bodyText(response: HttpResponse): string {
  return Buffer.isBuffer(response.body) ? response.body.toString() : '';
}
