import * as http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { TimerHandle } from '../../../core/index.ts';
import type { Headers } from '../../http/headers.ts';
import type { RequestHead } from '../../http/request-head.ts';
import { PLAINTEXT } from '../transport-connect.ts';
import type { HttpConnectionPool, PoolDeps, PoolRequestOptions, UpstreamFailure, UpstreamRequestBody, UpstreamResult } from './connection-pool.ts';
import { connectFailure, isConnected, openConnection } from './open-connection.ts';
import { pipeRequestBody } from './pipe-request-body.ts';
import { PoolRequest } from './pool-request.ts';
import { http2RequestHeaders, http2ResponseHeaders } from './upstream-headers.ts';

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = http2.constants;

interface Session {
  readonly client: http2.ClientHttp2Session;
  readonly socket: Socket;
  /** connecting → ready → draining (GOAWAY, max requests, max duration, idle, pool drain) → closed. */
  state: 'connecting' | 'ready' | 'draining' | 'closed';
  /** Streams open now. */
  active: number;
  /** Streams ever started, for maxRequestsPerConnection. */
  started: number;
  idleTimer: TimerHandle | undefined;
  durationTimer: TimerHandle | undefined;
  release: (() => void) | undefined;
  /** Why the connection failed before it was established. */
  failure: UpstreamFailure | undefined;
}

const OVERFLOW: UpstreamResult = { ok: false, error: { kind: 'overflow' } };
const ABORTED: UpstreamResult = { ok: false, error: { kind: 'aborted' } };

/**
 * HTTP/2 to one host, h2c with prior knowledge or h2 over TLS: a session carries concurrent
 * streams, up to our `maxConcurrentStreams` and the upstream's SETTINGS; beyond, another session
 * is opened if the connections circuit breaker allows, else requests wait as pending. A session that received GOAWAY, failed, reached `maxRequestsPerConnection` or sat idle
 * is retired and the next request opens a new one; a retired session finishes its streams and
 * closes. gRPC works as any request: trailers arrive on the response's `trailers` promise.
 */
export class Http2ConnectionPool implements HttpConnectionPool {
  readonly protocol = 'http2';
  readonly #deps: PoolDeps;
  readonly #sessions = new Set<Session>();
  readonly #queue: PoolRequest[] = [];
  #active = 0;
  #closed = false;

  constructor(deps: PoolDeps) {
    this.#deps = deps;
  }

  request(head: RequestHead, body: UpstreamRequestBody, options: PoolRequestOptions): Promise<UpstreamResult> {
    if (this.#closed) return Promise.resolve({ ok: false, error: { kind: 'reset', remote: false, requestSent: false, message: 'connection pool closed' } });
    if (options.signal.aborted) return Promise.resolve(ABORTED);
    const { cluster, host, stats } = this.#deps;
    const releaseRequest = cluster.circuitBreakers.tryAcquire('requests');
    if (releaseRequest === undefined) {
      stats.rqPendingOverflow.inc();
      return Promise.resolve(OVERFLOW);
    }
    stats.rqTotal.inc();
    return new Promise((resolve) => {
      const request = new PoolRequest(head, body, options.signal, host, stats, releaseRequest, resolve);
      this.#active++;
      const session = this.#available();
      if (session !== undefined) {
        this.#dispatch(session, request);
        return;
      }
      const releasePending = cluster.circuitBreakers.tryAcquire('pendingRequests');
      if (releasePending === undefined) {
        stats.rqPendingOverflow.inc();
        this.#active--;
        request.fail({ kind: 'overflow' });
        return;
      }
      request.pending(releasePending);
      this.#queue.push(request);
      request.onAbort(() => {
        const at = this.#queue.indexOf(request);
        if (at >= 0) this.#queue.splice(at, 1);
        this.#active--;
        request.fail({ kind: 'aborted' });
      });
      this.#wake();
    });
  }

  isIdle(): boolean {
    return this.#sessions.size === 0 && this.#active === 0 && this.#queue.length === 0;
  }

  drain(): void {
    for (const session of this.#sessions) this.#retire(session);
  }

  close(): void {
    this.#closed = true;
    for (const request of this.#queue.splice(0)) {
      this.#active--;
      request.fail({ kind: 'reset', remote: false, requestSent: false, message: 'connection pool closed' });
    }
    for (const session of [...this.#sessions]) session.client.destroy();
  }

  #capacity(session: Session): number {
    return Math.min(this.#deps.settings.maxConcurrentStreams, session.client.remoteSettings.maxConcurrentStreams ?? Infinity);
  }

  #hasCapacity(session: Session): boolean {
    return session.state === 'ready' && session.active < this.#capacity(session) && session.started < this.#deps.settings.maxRequestsPerConnection;
  }

  /** A session that takes another stream now. */
  #available(): Session | undefined {
    for (const session of this.#sessions) if (this.#hasCapacity(session)) return session;
    return undefined;
  }

  /**
   * Starts waiting requests on sessions with room; when every session is at its stream limit, opens
   * another (as Envoy does), as far as the connections circuit breaker allows, one at a time.
   */
  #wake(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      const session = this.#available();
      if (session !== undefined) {
        this.#dispatch(session, this.#queue.shift()!);
        continue;
      }
      for (const s of this.#sessions) if (s.state === 'connecting') return;
      if (this.#open() === undefined) return;
    }
  }

  #open(): Session | undefined {
    const { cluster, host, settings, timers, stats, security = PLAINTEXT } = this.#deps;
    let release = cluster.circuitBreakers.tryAcquire('connections');
    if (release === undefined) {
      stats.cxOverflow.inc();
      // As in Envoy, a pool with no connection at all may open one beyond the limit, or its requests would wait for nothing.
      if (this.#sessions.size > 0) return undefined;
      release = () => {};
    }
    const socket = openConnection(host, security, settings.connectTimeoutMs, timers, stats, { internal: this.#deps.internal, keepalive: settings.keepalive });
    // The session's default authority; every request sets its own. An internal listener's address is no URL host.
    const authority = host.internalListener !== undefined ? 'localhost' : host.address.includes(':') ? `[${host.address}]:${host.port}` : `${host.address}:${host.port}`;
    const client = http2.connect(`${security.kind === 'tls' ? 'https' : 'http'}://${authority}`, { createConnection: () => socket, settings: { enablePush: false } });
    const session: Session = { client, socket, state: 'connecting', active: 0, started: 0, idleTimer: undefined, durationTimer: undefined, release, failure: undefined };
    this.#sessions.add(session);
    if (settings.maxConnectionDurationMs > 0) {
      session.durationTimer = timers.setTimeout(() => {
        session.durationTimer = undefined;
        this.#retire(session);
        this.#wake();
      }, settings.maxConnectionDurationMs);
    }
    socket.once('error', (error: Error) => {
      if (!isConnected(socket)) session.failure = connectFailure(error, socket);
    });
    // A closing session only ends its side of the TCP connection, and a peer that does not end
    // its own (node's HTTP/2 server after GOAWAY) would keep it, and the session, open forever.
    socket.once('finish', () => socket.destroy());
    client.once('connect', () => {
      if (session.state !== 'connecting') return;
      session.state = 'ready';
      this.#becameIdleIfUnused(session);
      this.#wake();
    });
    client.on('remoteSettings', () => this.#wake());
    client.once('goaway', () => {
      this.#retire(session);
      this.#wake();
    });
    // Failures reach requests through stream and session 'close'; without a listener 'error' would throw.
    client.on('error', () => {});
    client.once('close', () => {
      const wasConnecting = session.state === 'connecting';
      session.state = 'closed';
      if (session.idleTimer !== undefined) timers.clearTimeout(session.idleTimer);
      if (session.durationTimer !== undefined) timers.clearTimeout(session.durationTimer);
      this.#sessions.delete(session);
      session.release?.();
      if (wasConnecting) {
        // The requests waiting were waiting for this connection: they fail as it did (UF).
        const failure = session.failure ?? { kind: 'connect-failure', message: 'connection closed before it was established' };
        for (const request of this.#queue.splice(0)) {
          this.#active--;
          request.fail(failure);
        }
      }
      this.#wake();
    });
    return session;
  }

  /** No new streams on this session; it closes once its streams are done. */
  #retire(session: Session): void {
    if (session.state === 'closed') return;
    session.state = 'draining';
    if (session.active === 0) session.client.close();
  }

  #becameIdleIfUnused(session: Session): void {
    if (session.active > 0 || session.state !== 'ready') return;
    const idleMs = this.#deps.settings.idleTimeoutMs;
    if (idleMs <= 0) return;
    session.idleTimer = this.#deps.timers.setTimeout(() => {
      session.idleTimer = undefined;
      if (session.active === 0) this.#retire(session);
    }, idleMs);
  }

  #dispatch(session: Session, request: PoolRequest): void {
    if (session.idleTimer !== undefined) {
      this.#deps.timers.clearTimeout(session.idleTimer);
      session.idleTimer = undefined;
    }
    request.attached();
    session.active++;
    session.started++;
    if (session.started >= this.#deps.settings.maxRequestsPerConnection) session.state = 'draining';
    const body = request.body;
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.client.request(http2RequestHeaders(request.head), { endStream: body === null });
    } catch (error) {
      session.active--;
      this.#active--;
      const code = (error as { code?: string }).code;
      // A session that is going away refuses the stream before it exists: as safe to retry as REFUSED_STREAM.
      request.fail(code === 'ERR_HTTP2_GOAWAY_SESSION' || code === 'ERR_HTTP2_INVALID_SESSION'
        ? { kind: 'refused-stream' }
        : { kind: 'reset', remote: false, requestSent: false, message: (error as Error).message });
      this.#streamClosed(session);
      return;
    }
    let requestSent = false;
    stream.once('ready', () => {
      requestSent = true;
    });
    stream.once('response', (headers) => {
      const trailers = new Promise<Headers | undefined>((resolve) => {
        stream.once('trailers', (fields) => resolve(http2ResponseHeaders(fields)));
        stream.once('close', () => resolve(undefined));
      });
      request.onAbort(() => stream.close(NGHTTP2_CANCEL));
      const socket = session.socket;
      request.respond({
        status: Number(headers[':status'] ?? 502),
        headers: http2ResponseHeaders(headers),
        body: stream,
        trailers,
        ...(socket.localAddress !== undefined ? { localAddress: `${socket.localAddress}:${socket.localPort}` } : {}),
      });
    });
    // Failures are read from the RST code when the stream closes.
    stream.on('error', () => {});
    stream.once('close', () => {
      session.active--;
      this.#active--;
      request.finish();
      if (!request.settled) {
        const code = stream.rstCode;
        request.fail(code === NGHTTP2_REFUSED_STREAM
          ? { kind: 'refused-stream' }
          : session.client.destroyed
            ? { kind: 'reset', remote: false, requestSent, message: 'connection closed before the response' }
            : { kind: 'reset', remote: true, requestSent, message: `stream reset by the upstream (code ${code})` });
      }
      this.#streamClosed(session);
    });
    request.onAbort(() => {
      request.fail({ kind: 'aborted' });
      stream.close(NGHTTP2_CANCEL);
    });
    if (body === null) return;
    if (Buffer.isBuffer(body)) stream.end(body);
    else pipeRequestBody(body, stream);
  }

  #streamClosed(session: Session): void {
    if (session.active === 0) {
      if (session.state === 'draining') session.client.close();
      else this.#becameIdleIfUnused(session);
    }
    this.#wake();
  }
}
