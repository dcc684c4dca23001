import type { Duplex, Readable } from 'node:stream';
import type { Headers } from './headers.ts';
import type { RequestHead } from './request-head.ts';
import type { RouteEntry } from '../route/route-entry.ts';

export type { HttpProtocol, RequestHead } from './request-head.ts';

/** The connection a request came on. */
export interface DownstreamInfo {
  readonly connectionId: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Present when the proxy terminated TLS on the connection. */
  readonly tls?: DownstreamTls;
}

/** A TLS connection the proxy terminated: what was negotiated and who the peer proved to be. */
export interface DownstreamTls {
  readonly sni?: string;
  readonly alpn?: string;
  /** The client's certificate, when it presented one that was verified (mutual TLS). */
  readonly peerCertificate?: PeerCertificate;
  /** The URI SANs of the certificate the proxy presented (XFCC's `By`). */
  readonly localUriSans: readonly string[];
}

/** A verified peer certificate, as Envoy's RBAC (`authenticated`) and XFCC read it. */
export interface PeerCertificate {
  /** URI SANs: a workload's SPIFFE id. */
  readonly uriSans: readonly string[];
  readonly dnsSans: readonly string[];
  /** The subject, RFC 2253 (`CN=foo,O=bar`). */
  readonly subject: string;
  /** Lower-case hex SHA-256 of the DER. */
  readonly sha256: string;
  /** The certificate in PEM. */
  readonly pem: string;
}

/**
 * Envoy's dynamic metadata: what filters learn about a request and leave for later filters and the
 * access log, by namespace (the writing filter's name: `envoy.filters.http.jwt_authn`, `istio_authn`).
 */
export type DynamicMetadata = Map<string, Record<string, unknown>>;

/**
 * Envoy's response flags, written to access logs and metrics: UH no healthy upstream, UF connect
 * failure, UO overflow, NR no route, URX retry limit, UT timeout, UC upstream closed, DC downstream
 * closed, LR local reset, UR remote reset, DI/FI fault delay/abort, RL rate limited, NC no cluster,
 * UAEX external authz denied, DPE/UPE protocol errors, SI stream idle timeout, DT duration timeout.
 */
export type ResponseFlag = 'UH' | 'UF' | 'UO' | 'NR' | 'URX' | 'UT' | 'UC' | 'DC' | 'LR' | 'UR' | 'DI' | 'FI' | 'RL' | 'NC' | 'UAEX' | 'DPE' | 'UPE' | 'SI' | 'DT';

/** What happened to a request, for the access log, stats and tracing. */
export interface StreamInfo {
  readonly requestId: string;
  /** Milliseconds since the epoch (from the injected clock). */
  readonly startTime: number;
  readonly responseFlags: Set<ResponseFlag>;
  /** Envoy's %RESPONSE_CODE_DETAILS% (`via_upstream`, `route_not_found`, ...). */
  responseCodeDetails?: string;
  routeName?: string;
  upstreamCluster?: string;
  /** `address:port` of the last upstream host tried. */
  upstreamHost?: string;
  upstreamLocalAddress?: string;
  /** Requests sent upstream, retries included. */
  attemptCount: number;
  bytesReceived: number;
  bytesSent: number;
  /** Milliseconds from the first upstream byte sent to the response head, for x-envoy-upstream-service-time. */
  upstreamServiceTime?: number;
  /** Envoy's %UPSTREAM_TRANSPORT_FAILURE_REASON%: why the upstream connection failed (a TLS error, say). */
  upstreamTransportFailureReason?: string;
  /** Envoy's %CONNECTION_TERMINATION_DETAILS%: why the proxy closed the downstream connection. */
  connectionTerminationDetails?: string;
}

/**
 * One request as it moves through the HTTP filters. The body streams: it is read once, by the
 * router (which keeps what a retry needs) or by a filter that answers locally.
 */
export interface HttpExchange {
  readonly request: RequestHead;
  /**
   * The request body, streamed with backpressure. An HTTP/1 request that announced no body (no
   * content-length, no transfer-encoding) has `readableEnded` true from the start; the head never
   * carries `transfer-encoding` (hop-by-hop), so test `readableEnded`, not the header. A filter
   * that reads the body before the router (ext_authz with the body) replaces it with a stream that
   * replays it from the first byte.
   */
  body: Readable;
  readonly downstream: DownstreamInfo;
  readonly info: StreamInfo;
  /** Filled by filters (a JWT's payload, an RBAC shadow result) for later filters and the access log. */
  readonly metadata: DynamicMetadata;
  /** Aborted when the downstream resets or goes away. */
  readonly signal: AbortSignal;
  /** The route chosen for the request (set before the filters run); undefined when none matched. */
  route: RouteEntry | undefined;
  /** Matches the route again after a filter changed what routing reads (headers, path, authority). */
  clearRouteCache(): void;
  /**
   * Present on an HTTP/1.1 Upgrade request or a CONNECT that the route's `upgradeConfigs` (else the
   * connection manager's) allow; set before the filters run.
   */
  readonly upgrade?: UpgradeRequest;
}

/**
 * An Upgrade (WebSocket) request or a CONNECT. The head carries neither `connection` nor
 * `upgrade`: the router sends the request upstream with `connection: upgrade` and
 * `upgrade: <protocol>`, and when the upstream answers 101 it returns that response with
 * `upgraded` set to the upstream's raw stream (the bytes after the 101 head). The connection
 * manager then writes the 101 downstream and pipes the two raw streams both ways until one side
 * ends. Any other response is sent as a plain response and the downstream connection is closed
 * after it. A CONNECT (its authority the target, its path empty) goes the same way with a 2xx in
 * place of the 101: sent upstream as a CONNECT, or terminated by the router, which connects to the
 * cluster itself and answers 200.
 */
export interface UpgradeRequest {
  /** The Upgrade token, lower-case (`websocket`); `connect` for a CONNECT. */
  readonly protocol: string;
}

/** A response on its way back: from upstream, or a local reply. */
export interface HttpResponse {
  status: number;
  headers: Headers;
  /** Streamed from upstream, or a complete local body; null for none. */
  body: Readable | Buffer | null;
  /** Trailers, known once the body has ended (gRPC's grpc-status travels here). */
  trailers?: Promise<Headers | undefined>;
  /** For a 101 answer to `HttpExchange.upgrade` (a 2xx to a CONNECT): the upstream connection, carrying raw bytes both ways. */
  upgraded?: Duplex;
}

/** An HTTP filter: an async onion around the rest of the chain; the router is the innermost one. */
export interface HttpFilter {
  handle(exchange: HttpExchange, next: () => Promise<HttpResponse>): Promise<HttpResponse>;
}
