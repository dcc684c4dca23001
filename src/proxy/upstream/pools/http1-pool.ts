import * as http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TimerHandle } from '../../../core/index.ts';
import type { Headers } from '../../http/headers.ts';
import type { RequestHead } from '../../http/request-head.ts';
import { PLAINTEXT, setTcpKeepalive, whenEstablished, type TcpKeepaliveOptions } from '../transport-connect.ts';
import type { HttpConnectionPool, PoolDeps, PoolRequestOptions, UpstreamRequestBody, UpstreamResult } from './connection-pool.ts';
import { connectFailure, isConnected, openConnection } from './open-connection.ts';
import { pipeRequestBody } from './pipe-request-body.ts';
import { PoolRequest } from './pool-request.ts';
import { http1RequestHeaders, http1ResponseHeaders } from './upstream-headers.ts';

interface Connection {
  uses: number;
  /** Past maxConnectionDuration: closed at the end of its request. */
  expired: boolean;
  idleTimer: TimerHandle | undefined;
  durationTimer: TimerHandle | undefined;
  release: (() => void) | undefined;
}

const OVERFLOW: UpstreamResult = { ok: false, error: { kind: 'overflow' } };
const ABORTED: UpstreamResult = { ok: false, error: { kind: 'aborted' } };
const NO_SLOT = (): void => {};

/** Methods node frames without a body unless told otherwise. */
const BODYLESS_BY_DEFAULT = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);

/**
 * HTTP/1.1 to one host with keep-alive: a connection carries one request at a time and returns
 * to the pool after it. node's Agent keeps the free sockets; this pool decides when a request may
 * have one, so that the circuit breakers hold: a new connection needs a `connections` slot, and a
 * request with no free connection waits as pending (bounded by `pendingRequests`). Connections
 * close after `maxRequestsPerConnection` requests or `idleTimeoutMs` unused.
 */
export class Http1ConnectionPool implements HttpConnectionPool {
  readonly protocol = 'http1';
  readonly #deps: PoolDeps;
  readonly #agent: PoolAgent;
  readonly #agentName: string;
  readonly #connections = new Map<Socket, Connection>();
  /** `connections` slots taken for requests about to make the agent open a socket. */
  readonly #reserved: (() => void)[] = [];
  readonly #queue: PoolRequest[] = [];
  #active = 0;
  #draining = false;
  #closed = false;

  constructor(deps: PoolDeps) {
    this.#deps = deps;
    this.#agent = new PoolAgent(this, deps.settings.keepalive);
    this.#agentName = this.#agent.getName({ host: deps.host.address, port: deps.host.port });
    // Registered after the agent's own 'free' listener, so the socket is already in freeSockets (or destroyed).
    this.#agent.on('free', (socket: Socket) => this.#onFree(socket));
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
      if (this.#freeCount() > 0) {
        this.#dispatch(request);
        return;
      }
      const releasePending = cluster.circuitBreakers.tryAcquire('pendingRequests');
      if (releasePending === undefined) {
        stats.rqPendingOverflow.inc();
        this.#finished();
        request.fail({ kind: 'overflow' });
        return;
      }
      request.pending(releasePending);
      const slot = this.#connectionSlot();
      if (slot !== undefined) {
        this.#dispatchOnNewConnection(request, slot);
        return;
      }
      this.#queue.push(request);
      request.onAbort(() => {
        const at = this.#queue.indexOf(request);
        if (at >= 0) this.#queue.splice(at, 1);
        this.#finished();
        request.fail({ kind: 'aborted' });
      });
    });
  }

  isIdle(): boolean {
    return this.#connections.size === 0 && this.#active === 0 && this.#queue.length === 0;
  }

  drain(): void {
    this.#draining = true;
    for (const socket of this.#agent.freeSockets[this.#agentName] ?? []) socket.destroy();
  }

  close(): void {
    this.#closed = true;
    this.#draining = true;
    for (const request of this.#queue.splice(0)) {
      this.#finished();
      request.fail({ kind: 'reset', remote: false, requestSent: false, message: 'connection pool closed' });
    }
    for (const socket of [...this.#connections.keys()]) socket.destroy();
    this.#agent.destroy();
  }

  /** Called by the agent when it needs a socket: always after this pool allowed it. */
  openSocket(): Socket {
    const { cluster, host, settings, timers, stats, security = PLAINTEXT, internal } = this.#deps;
    const socket = openConnection(host, security, settings.connectTimeoutMs, timers, stats, { internal, keepalive: settings.keepalive });
    // A reserved slot normally exists; when a free socket died between the check and the agent's choice, take one now.
    const connection: Connection = {
      uses: 0, expired: false, idleTimer: undefined, durationTimer: undefined, release: this.#reserved.pop() ?? cluster.circuitBreakers.tryAcquire('connections'),
    };
    this.#connections.set(socket, connection);
    if (settings.maxConnectionDurationMs > 0) {
      connection.durationTimer = timers.setTimeout(() => {
        connection.expired = true;
        // A free connection goes now; a busy one after its request (reusable says no).
        if (this.#agent.freeSockets[this.#agentName]?.includes(socket) === true) socket.destroy();
      }, settings.maxConnectionDurationMs);
    }
    socket.once('close', () => {
      if (connection.idleTimer !== undefined) timers.clearTimeout(connection.idleTimer);
      if (connection.durationTimer !== undefined) timers.clearTimeout(connection.durationTimer);
      this.#connections.delete(socket);
      connection.release?.();
      this.#wake();
    });
    return socket;
  }

  /** Whether the agent may keep a socket that just finished a request. */
  reusable(socket: Duplex): boolean {
    if (this.#draining) return false;
    const connection = this.#connections.get(socket as Socket);
    return connection === undefined || (!connection.expired && connection.uses < this.#deps.settings.maxRequestsPerConnection);
  }

  /**
   * A `connections` slot for a new connection. As in Envoy, a pool with no connection at all may
   * open one beyond the limit, or its requests could wait with nothing to serve them.
   */
  #connectionSlot(): (() => void) | undefined {
    const slot = this.#deps.cluster.circuitBreakers.tryAcquire('connections');
    if (slot !== undefined) return slot;
    this.#deps.stats.cxOverflow.inc();
    return this.#connections.size === 0 && this.#reserved.length === 0 ? NO_SLOT : undefined;
  }

  #freeCount(): number {
    return this.#agent.freeSockets[this.#agentName]?.length ?? 0;
  }

  #dispatchOnNewConnection(request: PoolRequest, slot: () => void): void {
    this.#reserved.push(slot);
    const reservedBefore = this.#reserved.length;
    this.#dispatch(request);
    // The agent opens sockets synchronously; a slot it did not use goes back.
    if (this.#reserved.length === reservedBefore) this.#reserved.pop()?.();
  }

  #onFree(socket: Socket): void {
    if (socket.destroyed) return;
    const connection = this.#connections.get(socket);
    if (connection === undefined) return;
    const idleMs = this.#deps.settings.idleTimeoutMs;
    if (idleMs > 0) connection.idleTimer = this.#deps.timers.setTimeout(() => socket.destroy(), idleMs);
    this.#wake();
  }

  /** Serves waiting requests while there are free sockets or connection slots. */
  #wake(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      if (this.#freeCount() > 0) {
        this.#dispatch(this.#queue.shift()!);
        continue;
      }
      const slot = this.#connectionSlot();
      if (slot === undefined) return;
      this.#dispatchOnNewConnection(this.#queue.shift()!, slot);
    }
  }

  #finished(): void {
    this.#active--;
  }

  #dispatch(request: PoolRequest): void {
    const { host } = this.#deps;
    const head = request.head;
    const headers = http1RequestHeaders(head);
    let req: http.ClientRequest;
    try {
      req = http.request({ agent: this.#agent, host: host.address, port: host.port, method: head.method, path: head.path, headers, setHost: false });
    } catch (error) {
      this.#finished();
      request.fail({ kind: 'reset', remote: false, requestSent: false, message: (error as Error).message });
      return;
    }
    let requestSent = false;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      this.#finished();
      request.finish();
    };
    const connected = (): void => {
      requestSent = true;
      request.attached();
    };
    req.once('socket', (socket: Socket) => {
      const connection = this.#connections.get(socket);
      if (connection !== undefined) {
        connection.uses++;
        if (connection.idleTimer !== undefined) {
          this.#deps.timers.clearTimeout(connection.idleTimer);
          connection.idleTimer = undefined;
        }
      }
      whenEstablished(socket, connected);
    });
    req.once('response', (res: http.IncomingMessage) => {
      const trailers = new Promise<Headers | undefined>((resolve) => {
        res.once('end', () => resolve(hasAny(res.trailers) ? (res.trailers as Headers) : undefined));
        res.once('close', () => resolve(undefined));
      });
      res.once('close', finish);
      request.onAbort(() => {
        res.destroy();
        req.destroy();
      });
      const socket = req.socket;
      request.respond({
        status: res.statusCode ?? 502,
        headers: http1ResponseHeaders(res.headers),
        body: res,
        trailers,
        ...(socket !== null && socket.localAddress !== undefined ? { localAddress: `${socket.localAddress}:${socket.localPort}` } : {}),
      });
    });
    req.on('error', (error: Error) => {
      if (request.settled) return;
      const socket = req.socket;
      finish();
      request.fail(socket !== null && !isConnected(socket)
        ? connectFailure(error, socket)
        : { kind: 'reset', remote: false, requestSent, message: error.message });
    });
    req.once('close', () => {
      if (request.settled) return;
      finish();
      request.fail({ kind: 'reset', remote: false, requestSent, message: 'connection closed before the response' });
    });
    request.onAbort(() => {
      finish();
      request.fail({ kind: 'aborted' });
      req.destroy();
    });
    writeBody(req, head, request.body);
  }
}

function writeBody(req: http.ClientRequest, head: RequestHead, body: UpstreamRequestBody): void {
  if (body === null) {
    req.end();
    return;
  }
  if (Buffer.isBuffer(body)) {
    if (head.headers['content-length'] === undefined) req.setHeader('content-length', body.length);
    req.end(body);
    return;
  }
  // A body of unknown length is sent chunked, even on methods node frames without one by default.
  const needsFraming = head.headers['content-length'] === undefined && BODYLESS_BY_DEFAULT.has(head.method);
  pipeRequestBody(body, req, needsFraming ? () => req.setHeader('transfer-encoding', 'chunked') : undefined);
}

function hasAny(record: object): boolean {
  for (const _ in record) return true;
  return false;
}

/** node's keep-alive Agent, with the pool deciding how sockets are opened and when they are kept. */
class PoolAgent extends http.Agent {
  readonly #pool: Http1ConnectionPool;
  readonly #tcpKeepalive: TcpKeepaliveOptions | undefined;

  constructor(pool: Http1ConnectionPool, tcpKeepalive: TcpKeepaliveOptions | undefined) {
    super({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: Infinity, scheduling: 'lifo' });
    this.#pool = pool;
    this.#tcpKeepalive = tcpKeepalive;
  }

  override createConnection(): Duplex {
    return this.#pool.openSocket();
  }

  override keepSocketAlive(socket: Duplex): boolean {
    if (!this.#pool.reusable(socket)) return false;
    // node's own check honours the upstream's `Keep-Alive: timeout=N` hint.
    const kept = (super.keepSocketAlive(socket) as unknown) !== false;
    // It also turns TCP keepalive on at 1 s; the cluster's tcpKeepalive decides instead.
    if (kept) setTcpKeepalive(socket as Socket, this.#tcpKeepalive);
    return kept;
  }
}
