import type { Readable } from 'node:stream';
import type { HttpResponse } from './exchange.ts';
import type { RequestHead } from './request-head.ts';

/**
 * One request as a downstream codec (HTTP/1.1 or HTTP/2) delivers it to the connection manager,
 * and the way its response goes back. The codec owns the wire: framing, hop-by-hop headers,
 * 100-continue, trailers, flow control; the connection manager owns the HTTP semantics.
 */
export interface DownstreamStream {
  /** Hop-by-hop headers (and Host, which is the authority) removed; `te: trailers` kept. */
  readonly head: RequestHead;
  readonly body: Readable;
  /** As received, for the connection manager's limits. */
  readonly headerCount: number;
  readonly headerBytes: number;
  /** HTTP/2, or HTTP/1.1 with `TE: trailers`: response trailers can be sent. */
  readonly acceptsTrailers: boolean;
  /** The Upgrade token of an HTTP/1.1 upgrade request, lower-case; `connect` for a CONNECT; undefined otherwise. */
  readonly upgrade: string | undefined;
  /**
   * A rule of HTTP the request breaks that the codec let through (more than one Host header,
   * RFC 9112 §3.2), as the response details; the connection manager answers 400.
   */
  readonly malformed: string | undefined;
  /** Set once, before any event can fire. */
  attach(events: DownstreamStreamEvents): void;
  /** The whole request body has arrived. */
  requestComplete(): boolean;
  /** The response head has been written. */
  responseStarted(): boolean;
  /**
   * Writes the response: the head, then the body with backpressure, then trailers if the client
   * takes them. An upgrade answered 101 with `upgraded`, or a CONNECT answered 2xx with it,
   * becomes a raw tunnel.
   */
  respond(response: HttpResponse, options: RespondOptions): void;
  /** Abandons the stream: HTTP/2 RST_STREAM; HTTP/1 closes the connection. Reports no event. */
  reset(): void;
}

export interface RespondOptions {
  /** HTTP/1: `connection: close` and close after the response (draining, or the request is unread). */
  readonly closeConnection: boolean;
}

export interface DownstreamStreamEvents {
  /** Request body bytes arrived (activity, for the stream idle timer). */
  requestData(bytes: number): void;
  requestEnd(): void;
  responseData(bytes: number): void;
  /** The response went out to its last byte (a tunnel: both sides closed). */
  responseEnd(): void;
  /** The downstream reset the stream or went away before the response ended. */
  reset(): void;
  /** The response body failed mid-way (an upstream reset); the codec has reset the downstream stream. */
  responseFailed(): void;
}
