import type { Readable } from 'node:stream';
import type { Clock, Logger, TimerHandle, Timers } from '../../../core/index.ts';
import type { DownstreamStream, DownstreamStreamEvents } from '../../http/downstream-stream.ts';
import type { DownstreamInfo, DynamicMetadata, HttpExchange, HttpResponse, RequestHead, StreamInfo, UpgradeRequest } from '../../http/exchange.ts';
import type { FilterChain } from '../../http/filter-chain.ts';
import { isGrpcRequest, localReply, type LocalReplyOptions } from '../../http/local-reply.ts';
import { normalizeRequestPath } from '../../http/path-normalization.ts';
import type { RouteEntry, RouteTable } from '../../route/index.ts';
import type { AccessLogSink } from '../../telemetry/access-log.ts';
import type { HcmConfig } from './hcm-config.ts';
import type { HcmStats } from './hcm-stats.ts';
import { mutateRequestHeaders, mutateResponseHeaders } from './standard-headers.ts';

/** What every stream of one connection manager shares. */
export interface StreamContext {
  readonly config: HcmConfig;
  readonly stats: HcmStats;
  readonly chain: FilterChain;
  /** The route table now (RDS swaps it by reference); undefined until RDS delivers it. */
  routeTable(): RouteTable | undefined;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: () => number;
  readonly newRequestId: () => string;
  readonly logger: Logger;
  readonly accessLog: AccessLogSink;
  readonly listenerName: string;
}

/** The connection a stream lives on, as the stream sees it. */
export interface StreamConnection {
  readonly downstream: DownstreamInfo;
  readonly http1: boolean;
  /** Responses on HTTP/1 then carry `connection: close`. */
  readonly draining: boolean;
  streamEnded(): void;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * One request from its head to the last byte of its response: checks the connection manager's
 * limits, sets the standard headers, matches the route, runs the HTTP filters, writes the answer,
 * keeps the stream idle and request timeouts, and logs the stream when it is over. It is the
 * HttpExchange the filters see.
 */
export class ActiveStream implements HttpExchange {
  readonly request: RequestHead;
  body: Readable;
  readonly downstream: DownstreamInfo;
  readonly info: StreamInfo;
  readonly metadata: DynamicMetadata = new Map();
  readonly signal: AbortSignal;
  route: RouteEntry | undefined;
  /** Set once the route is known, when the route (else the connection manager) allows the upgrade asked for. */
  upgrade: UpgradeRequest | undefined;

  readonly #context: StreamContext;
  readonly #connection: StreamConnection;
  readonly #stream: DownstreamStream;
  readonly #controller = new AbortController();
  #table: RouteTable | undefined;
  #response: HttpResponse | undefined;
  /** A response was chosen (later ones are discarded). */
  #responded = false;
  /** The stream is over and logged. */
  #done = false;
  /** Close the HTTP/1 connection after this response (a request the codec could not trust). */
  #closeConnection = false;
  #idleTimeoutMs = 0;
  #idleTimer: TimerHandle | undefined;
  #lastActivity: number;
  #requestTimer: TimerHandle | undefined;

  constructor(context: StreamContext, connection: StreamConnection, stream: DownstreamStream) {
    this.#context = context;
    this.#connection = connection;
    this.#stream = stream;
    const config = context.config;
    const downstream = connection.downstream;
    const head = stream.head;
    if (head.protocol !== 'HTTP/2') head.scheme = downstream.tls !== undefined ? 'https' : 'http';
    if (head.authority === '' && head.protocol === 'HTTP/1.0') head.authority = config.defaultHostForHttp10;
    // A CONNECT's authority keeps its port (RFC 9110 §9.3.6 requires one), as in Envoy.
    if (config.stripPort !== 'none' && head.method !== 'CONNECT') head.authority = stripPort(head.authority, config.stripPort === 'any' ? undefined : downstream.localPort);
    this.request = head;
    this.body = stream.body;
    this.downstream = downstream;
    this.signal = this.#controller.signal;
    const now = context.clock.now();
    this.#lastActivity = now;
    const info: Writable<StreamInfo> = {
      requestId: mutateRequestHeaders(head, downstream, config, context.newRequestId),
      startTime: now,
      responseFlags: new Set(),
      attemptCount: 0,
      bytesReceived: 0,
      bytesSent: 0,
    };
    this.info = info;
  }

  clearRouteCache(): void {
    this.route = this.#table?.match(this.request, this.#context.random());
  }

  start(): void {
    const context = this.#context;
    const stats = context.stats;
    stats.rqTotal.inc();
    stats.rqActive.inc();
    (this.request.protocol === 'HTTP/2' ? stats.rqHttp2Total : stats.rqHttp1Total).inc();
    this.#stream.attach(this.#events());
    this.#armIdleTimer(context.config.streamIdleTimeoutMs);
    const requestTimeout = context.config.requestTimeoutMs;
    if (requestTimeout > 0 && !this.#stream.requestComplete()) {
      this.#requestTimer = context.timers.setTimeout(() => this.#onRequestTimeout(), requestTimeout);
    }

    const rejection = this.#check();
    if (rejection !== undefined) {
      this.#send(this.#localReply(rejection));
      return;
    }
    this.#table = context.routeTable();
    this.clearRouteCache();
    const requested = this.#stream.upgrade;
    if (requested !== undefined) {
      if (!this.#upgradeAllowed(requested)) {
        if (requested === 'websocket') context.stats.rqWsOnNonWsRoute.inc();
        this.#send(this.#localReply({ status: 403, details: 'upgrade_failed' }));
        return;
      }
      this.upgrade = { protocol: requested };
    }
    const action = this.route?.action;
    if (action?.kind === 'forward' && action.idleTimeoutMs !== undefined) this.#armIdleTimer(action.idleTimeoutMs);
    context.chain.run(this).then(
      (response) => this.#send(response),
      (error: unknown) => this.#onFilterError(error),
    );
  }

  /** The connection manager's own checks, in Envoy's order; a local reply for a request refused. */
  #check(): LocalReplyOptions | undefined {
    const config = this.#context.config;
    const stats = this.#context.stats;
    const stream = this.#stream;
    const head = this.request;
    const codec = head.protocol === 'HTTP/2' ? 'http2' : 'http1';
    if (stream.headerCount > config.maxHeadersCount) {
      stats.rqTooLarge.inc();
      this.#closeConnection = true;
      return { status: 431, details: `${codec}.too_many_headers` };
    }
    if (stream.headerBytes > config.maxRequestHeadersBytes) {
      stats.rqTooLarge.inc();
      this.#closeConnection = true;
      return { status: 431, details: `${codec}.headers_too_large` };
    }
    if (head.protocol === 'HTTP/1.0' && !config.acceptHttp10) {
      this.#closeConnection = true;
      return { status: 426, details: 'low_version' };
    }
    if (stream.malformed !== undefined) {
      this.#closeConnection = true;
      return { status: 400, details: stream.malformed };
    }
    if (head.authority === '') return { status: 400, details: 'missing_host_header' };
    if (head.method !== 'CONNECT' && head.path !== '*') {
      const normalized = normalizeRequestPath(head.path, config.path);
      switch (normalized.kind) {
        case 'ok':
          head.path = normalized.path;
          break;
        case 'reject':
          stats.rqFailedPathNormalization.inc();
          return { status: 400, details: 'path_normalization_failed' };
        case 'redirect':
          stats.rqRedirectedWithNormalizedPath.inc();
          return { status: 307, details: 'path_normalization_redirect', headers: { location: normalized.path } };
      }
    }
    return undefined;
  }

  /**
   * Envoy's rule: the route's `upgradeConfigs` entry for the type decides, else the connection
   * manager's. CONNECT counts as the upgrade type `connect`.
   */
  #upgradeAllowed(type: string): boolean {
    const action = this.route?.action;
    const byRoute = action?.kind === 'forward' ? action.upgrades?.get(type) : undefined;
    return byRoute ?? this.#context.config.upgradeTypes.has(type);
  }

  #localReply(options: LocalReplyOptions): HttpResponse {
    return localReply(this.info, { ...options, grpc: isGrpcRequest(this.request.headers) });
  }

  #events(): DownstreamStreamEvents {
    return {
      requestData: (bytes) => {
        this.info.bytesReceived += bytes;
        this.#lastActivity = this.#context.clock.now();
      },
      requestEnd: () => this.#clearRequestTimer(),
      responseData: (bytes) => {
        this.info.bytesSent += bytes;
        this.#lastActivity = this.#context.clock.now();
      },
      responseEnd: () => this.#complete(),
      reset: () => this.#onDownstreamReset(),
      responseFailed: () => {
        this.#context.stats.rqTxReset.inc();
        this.#controller.abort();
        this.#complete();
      },
    };
  }

  #send(response: HttpResponse): void {
    if (this.#responded || this.#done) {
      discard(response);
      return;
    }
    this.#responded = true;
    this.#response = response;
    // Envoy's request timeout covers the request until the response begins.
    this.#clearRequestTimer();
    this.#lastActivity = this.#context.clock.now();
    mutateResponseHeaders(response.headers, this.#context.config, this.info.requestId);
    const connection = this.#connection;
    const closeConnection = connection.http1 && (this.#closeConnection || connection.draining || !this.#stream.requestComplete());
    this.#stream.respond(response, { closeConnection });
  }

  #onFilterError(error: unknown): void {
    this.#context.logger.error('an HTTP filter failed', { error: error instanceof Error ? error.message : String(error), requestId: this.info.requestId });
    if (!this.#responded) this.#send(this.#localReply({ status: 500, details: 'filter_chain_error' }));
    else if (!this.#done) this.#resetStream();
  }

  #onDownstreamReset(): void {
    if (this.#done) return;
    this.#context.stats.rqRxReset.inc();
    this.info.responseFlags.add('DC');
    if (!this.#responded) this.info.responseCodeDetails = 'downstream_remote_disconnect';
    this.#controller.abort();
    if (this.#response !== undefined) discard(this.#response);
    this.#complete();
  }

  /** Envoy resets the stream (the response had begun, or failed mid-way). */
  #resetStream(): void {
    this.#context.stats.rqTxReset.inc();
    this.#controller.abort();
    this.#stream.reset();
    if (this.#response !== undefined) discard(this.#response);
    this.#complete();
  }

  #armIdleTimer(timeoutMs: number): void {
    const timers = this.#context.timers;
    if (this.#idleTimer !== undefined) timers.clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#idleTimeoutMs = timeoutMs;
    if (timeoutMs > 0) this.#idleTimer = timers.setTimeout(() => this.#onIdleTimer(), timeoutMs);
  }

  /** Activity only records a time; the timer checks it when it fires and sleeps again if needed. */
  #onIdleTimer(): void {
    this.#idleTimer = undefined;
    if (this.#done) return;
    const idleFor = this.#context.clock.now() - this.#lastActivity;
    if (idleFor < this.#idleTimeoutMs) {
      this.#idleTimer = this.#context.timers.setTimeout(() => this.#onIdleTimer(), this.#idleTimeoutMs - idleFor);
      return;
    }
    this.#context.stats.rqIdleTimeout.inc();
    this.info.responseFlags.add('SI');
    if (!this.#stream.responseStarted() && !this.#responded) {
      this.#controller.abort();
      this.#send(this.#localReply({ status: 408, body: 'stream timeout', details: 'stream_idle_timeout' }));
      return;
    }
    this.info.responseCodeDetails ??= 'stream_idle_timeout';
    this.#resetStream();
  }

  #onRequestTimeout(): void {
    this.#requestTimer = undefined;
    if (this.#done || this.#responded) return;
    this.#context.stats.rqTimeout.inc();
    this.#controller.abort();
    this.#send(this.#localReply({ status: 408, body: 'request timeout', details: 'request_overall_timeout' }));
  }

  #clearRequestTimer(): void {
    if (this.#requestTimer === undefined) return;
    this.#context.timers.clearTimeout(this.#requestTimer);
    this.#requestTimer = undefined;
  }

  /** The stream is over: timers stopped, stats and the access log written, the connection told. */
  #complete(): void {
    if (this.#done) return;
    this.#done = true;
    const context = this.#context;
    if (this.#idleTimer !== undefined) context.timers.clearTimeout(this.#idleTimer);
    this.#clearRequestTimer();
    const stats = context.stats;
    const durationMs = context.clock.now() - this.info.startTime;
    const response = this.#response;
    stats.rqActive.dec();
    stats.rqCompleted.inc();
    if (response !== undefined) stats.statusClass(response.status)?.inc();
    stats.rqTime.record(durationMs);
    context.accessLog.log({
      kind: 'http',
      request: this.request,
      ...(response !== undefined ? { response: { status: response.status, headers: response.headers } } : {}),
      downstream: this.downstream,
      info: this.info,
      durationMs,
      listenerName: context.listenerName,
    });
    this.#connection.streamEnded();
  }
}

/** A response nobody will send: its body is released so that the upstream stops. */
function discard(response: HttpResponse): void {
  const body = response.body;
  if (body !== null && !Buffer.isBuffer(body) && !body.destroyed) body.destroy();
  response.upgraded?.destroy();
}

/** Host without its port: any port, or only the listener's. IPv6 literals keep their brackets. */
function stripPort(authority: string, onlyPort: number | undefined): string {
  const colon = authority.lastIndexOf(':');
  if (colon < 0 || colon < authority.lastIndexOf(']')) return authority;
  if (onlyPort !== undefined && authority.slice(colon + 1) !== String(onlyPort)) return authority;
  return authority.slice(0, colon);
}
