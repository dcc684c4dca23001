import type { ServerHttp2Session } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { TimerHandle } from '../../../core/index.ts';
import type { DownstreamInfo } from '../../http/exchange.ts';
import type { DownstreamStream } from '../../http/downstream-stream.ts';
import { Http1Downstream } from '../../http/http1-downstream.ts';
import { acceptHttp2 } from '../../http/http2-downstream.ts';
import type { DownstreamConnection, NetworkFilter } from '../network-filter.ts';
import { ActiveStream, type StreamConnection, type StreamContext } from './active-stream.ts';
import { sniffHttp2Preface } from './sniff-preface.ts';

/**
 * One connection: its codec, the streams open on it, and its idle timer (armed whenever no
 * stream is open; Envoy's `commonHttpProtocolOptions.idleTimeout`).
 */
class ActiveConnection implements StreamConnection {
  readonly downstream: DownstreamInfo;
  readonly socket: Duplex;
  readonly context: StreamContext;
  http1 = true;
  session: ServerHttp2Session | undefined;
  draining = false;
  closed = false;
  openStreams = 0;
  /** A stream has started on it: it is not one accepted just now whose first request is on its way. */
  served = false;
  idleTimer: TimerHandle | undefined;
  readonly #manager: HttpConnectionManager;

  constructor(manager: HttpConnectionManager, connection: DownstreamConnection, context: StreamContext) {
    this.#manager = manager;
    this.downstream = connection.downstream;
    this.socket = connection.socket;
    this.context = context;
  }

  streamStarted(): void {
    this.openStreams++;
    this.served = true;
    this.#manager.clearIdleTimer(this);
  }

  streamEnded(): void {
    this.openStreams--;
    if (this.openStreams === 0) this.#manager.connectionIdle(this);
  }
}

/**
 * The HTTP connection manager of one filter chain: takes the connections the listener hands it,
 * speaks HTTP/1.1 or HTTP/2 on them (by config, ALPN, or the HTTP/2 connection preface), and runs
 * every request as an ActiveStream through the HTTP filters.
 */
export class HttpConnectionManager implements NetworkFilter {
  readonly #context: Omit<StreamContext, 'listenerName'>;
  readonly #http1: Http1Downstream;
  readonly #connections = new Set<ActiveConnection>();
  /** HTTP/1 streams arrive by socket; this finds their connection. */
  readonly #bySocket = new WeakMap<Duplex, ActiveConnection>();
  readonly #contexts = new Map<string, StreamContext>();
  #draining = false;
  #closed = false;

  constructor(context: Omit<StreamContext, 'listenerName'>) {
    this.#context = context;
    const config = context.config;
    this.#http1 = new Http1Downstream({
      maxHeaderBytes: config.maxRequestHeadersBytes,
      maxHeadersCount: config.maxHeadersCount,
      upgradeTypes: config.upgradeTypes,
      onStream: (stream, socket) => {
        const connection = this.#bySocket.get(socket);
        if (connection === undefined) stream.reset();
        else this.#startStream(connection, stream);
      },
      onCodecError: (socket, status, details) => this.#logCodecError(socket, status, details),
    });
  }

  /** A request the HTTP/1 parser refused is logged as Envoy logs it: a downstream protocol error. */
  #logCodecError(socket: Duplex, status: number, details: string): void {
    const context = this.#context;
    context.stats.cxProtocolError.inc();
    const active = this.#bySocket.get(socket);
    if (active === undefined) return;
    const now = context.clock.now();
    context.accessLog.log({
      kind: 'http',
      response: { status, headers: {} },
      downstream: active.downstream,
      info: { requestId: '', startTime: now, responseFlags: new Set(['DPE']), responseCodeDetails: details, attemptCount: 0, bytesReceived: 0, bytesSent: 0 },
      durationMs: 0,
      listenerName: active.context.listenerName,
    });
  }

  onConnection(connection: DownstreamConnection): void {
    const socket = connection.socket;
    if (this.#closed || this.#draining) {
      socket.destroy();
      return;
    }
    const stats = this.#context.stats;
    const active = new ActiveConnection(this, connection, this.#contextFor(connection.listenerName));
    this.#connections.add(active);
    stats.cxTotal.inc();
    stats.cxActive.inc();
    socket.on('error', () => {});
    socket.once('close', () => {
      active.closed = true;
      this.clearIdleTimer(active);
      this.#connections.delete(active);
      stats.cxActive.dec();
    });
    this.connectionIdle(active);
    const codec = this.#context.config.codecType;
    const alpn = connection.downstream.tls?.alpn;
    if (codec === 'HTTP2' || alpn === 'h2' || connection.sniffed.applicationProtocols.includes('h2c')) {
      this.#startHttp2(active);
    } else if (codec === 'HTTP1' || alpn === 'http/1.1' || connection.sniffed.applicationProtocols.some((p) => p.startsWith('http/1'))) {
      this.#startHttp1(active);
    } else {
      sniffHttp2Preface(socket, (http2) => {
        if (active.closed) return;
        if (http2) this.#startHttp2(active);
        else this.#startHttp1(active);
      });
    }
  }

  /** Streams of one listener share one context object. */
  #contextFor(listenerName: string): StreamContext {
    let context = this.#contexts.get(listenerName);
    if (context === undefined) {
      context = { ...this.#context, listenerName };
      this.#contexts.set(listenerName, context);
    }
    return context;
  }

  #startHttp1(active: ActiveConnection): void {
    this.#context.stats.cxHttp1Total.inc();
    active.http1 = true;
    this.#bySocket.set(active.socket, active);
    this.#http1.accept(active.socket);
  }

  #startHttp2(active: ActiveConnection): void {
    const config = this.#context.config;
    this.#context.stats.cxHttp2Total.inc();
    active.http1 = false;
    active.session = acceptHttp2(active.socket, {
      maxConcurrentStreams: config.http2.maxConcurrentStreams,
      initialStreamWindowSize: config.http2.initialStreamWindowSize,
      initialConnectionWindowSize: config.http2.initialConnectionWindowSize,
      maxHeaderBytes: config.maxRequestHeadersBytes,
      maxHeadersCount: config.maxHeadersCount,
      onStream: (stream) => this.#startStream(active, stream),
    });
    if (this.#draining) active.session.close();
  }

  #startStream(active: ActiveConnection, stream: DownstreamStream): void {
    active.streamStarted();
    new ActiveStream(active.context, active, stream).start();
  }

  /** Called when a connection has no stream open: closes it after the idle timeout, or now when draining. */
  connectionIdle(active: ActiveConnection): void {
    if (active.closed) return;
    if (this.#draining) {
      this.#closeConnection(active);
      return;
    }
    const timeoutMs = this.#context.config.idleTimeoutMs;
    if (timeoutMs === 0) return;
    this.clearIdleTimer(active);
    active.idleTimer = this.#context.timers.setTimeout(() => {
      active.idleTimer = undefined;
      if (active.openStreams > 0 || active.closed) return;
      this.#context.stats.cxIdleTimeout.inc();
      this.#closeConnection(active);
    }, timeoutMs);
  }

  clearIdleTimer(active: ActiveConnection): void {
    if (active.idleTimer === undefined) return;
    this.#context.timers.clearTimeout(active.idleTimer);
    active.idleTimer = undefined;
  }

  /** Closes a connection gracefully: HTTP/2 with GOAWAY, HTTP/1 by ending the socket. */
  #closeConnection(active: ActiveConnection): void {
    if (active.session !== undefined) active.session.close();
    else active.socket.end();
  }

  /**
   * Stops taking new work: HTTP/2 connections get a GOAWAY, HTTP/1 responses carry
   * `connection: close`, and connections close as soon as they have no stream open. An HTTP/1
   * connection accepted just before (no request parsed yet) is left to answer the request its client
   * is sending, with `connection: close`: closing it would reset a request the client already sent.
   * The drain time's close() ends it if none comes.
   */
  drain(): void {
    this.#draining = true;
    for (const active of this.#connections) {
      active.draining = true;
      if (active.session !== undefined) active.session.close();
      else if (active.openStreams === 0 && active.served) this.#closeConnection(active);
    }
  }

  close(): void {
    this.#closed = true;
    for (const active of this.#connections) {
      this.clearIdleTimer(active);
      active.session?.destroy();
      active.socket.destroy();
    }
    this.#connections.clear();
  }
}
