import * as http2 from 'node:http2';
import type { Duplex, Readable } from 'node:stream';
import type { HttpResponse } from './exchange.ts';
import type { DownstreamStream, DownstreamStreamEvents, RespondOptions } from './downstream-stream.ts';
import { hasToken, stripRequestHopByHop, type Headers } from './headers.ts';
import type { RequestHead } from './request-head.ts';
import { observePushes, pumpBody } from './stream-io.ts';

export interface Http2DownstreamOptions {
  readonly maxConcurrentStreams: number;
  readonly initialStreamWindowSize: number;
  readonly initialConnectionWindowSize: number;
  /** The connection manager answers 431 above these; Node's own limits sit above them. */
  readonly maxHeaderBytes: number;
  readonly maxHeadersCount: number;
  readonly onStream: (stream: DownstreamStream) => void;
}

const NO_EVENTS: DownstreamStreamEvents = { requestData() {}, requestEnd() {}, responseData() {}, responseEnd() {}, reset() {}, responseFailed() {} };
const { NGHTTP2_INTERNAL_ERROR } = http2.constants;

/**
 * The HTTP/2 downstream codec for one connection (prior knowledge h2c, or h2 negotiated by ALPN
 * on a TLS socket): a server session on the socket, each stream delivered to the connection manager.
 */
export function acceptHttp2(socket: Duplex, options: Http2DownstreamOptions): http2.ServerHttp2Session {
  const session = http2.performServerHandshake(socket, {
    settings: {
      maxConcurrentStreams: options.maxConcurrentStreams,
      initialWindowSize: options.initialStreamWindowSize,
      // Node refuses header blocks over its limits by resetting the stream; the connection
      // manager's 431 comes first.
      maxHeaderListSize: options.maxHeaderBytes * 2 + 1024,
    },
    maxHeaderListPairs: options.maxHeadersCount * 2 + 8,
  });
  session.on('error', () => {});
  session.once('connect', () => session.setLocalWindowSize(options.initialConnectionWindowSize));
  session.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
    options.onStream(new Http2Stream(stream, headers, rawHeaders));
  });
  return session;
}

class Http2Stream implements DownstreamStream {
  readonly head: RequestHead;
  readonly body: Readable;
  readonly headerCount: number;
  readonly headerBytes: number;
  readonly acceptsTrailers = true;
  /** `connect` for a CONNECT (RFC 9113 §8.5); HTTP/2 has no Upgrade. */
  readonly upgrade: 'connect' | undefined;
  /** Node's HTTP/2 parser refuses what HTTP/2 forbids (RFC 9113 §8.2). */
  readonly malformed = undefined;
  readonly #stream: http2.ServerHttp2Stream;
  #events: DownstreamStreamEvents = NO_EVENTS;
  #ended = false;
  #started = false;
  #requestEnded = false;
  /** The stream carries a CONNECT tunnel: its close is the tunnel's normal end. */
  #tunnelled = false;
  #cancelPump: (() => void) | undefined;

  constructor(stream: http2.ServerHttp2Stream, received: http2.IncomingHttpHeaders, rawHeaders: readonly string[]) {
    this.#stream = stream;
    const headers: Headers = {};
    for (const name in received) {
      if (name.charCodeAt(0) === 58 /* ':' */ || name === 'host') continue;
      const value = received[name];
      if (value !== undefined) headers[name] = value;
    }
    stripRequestHopByHop(headers);
    // Envoy answers 100-continue itself rather than forwarding the expectation.
    if (headers['expect'] !== undefined && hasToken(headers['expect'], '100-continue')) {
      delete headers['expect'];
      stream.additionalHeaders({ ':status': 100 });
    }
    const scheme = received[':scheme'];
    const method = (received[':method'] as string | undefined) ?? 'GET';
    this.upgrade = method === 'CONNECT' ? 'connect' : undefined;
    this.head = {
      method,
      path: (received[':path'] as string | undefined) ?? '',
      authority: (received[':authority'] as string | undefined) ?? (received['host'] as string | undefined) ?? '',
      scheme: scheme === 'https' ? 'https' : 'http',
      headers,
      protocol: 'HTTP/2',
    };
    let count = 0;
    let bytes = 0;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!;
      bytes += name.length + rawHeaders[i + 1]!.length;
      if (name.charCodeAt(0) !== 58) count++;
    }
    this.headerCount = count;
    this.headerBytes = bytes;
    this.body = stream;
    stream.on('error', () => {});
    stream.once('close', () => {
      if (this.#tunnelled) {
        this.#finish();
        return;
      }
      if (this.#ended) return;
      this.#ended = true;
      this.#cancelPump?.();
      this.#events.reset();
    });
    observePushes(stream, (n) => this.#events.requestData(n), () => {
      this.#requestEnded = true;
      this.#events.requestEnd();
    });
  }

  attach(events: DownstreamStreamEvents): void {
    this.#events = events;
  }

  requestComplete(): boolean {
    return this.#requestEnded || this.#stream.readableEnded;
  }

  responseStarted(): boolean {
    return this.#started;
  }

  respond(response: HttpResponse, _options: RespondOptions): void {
    const stream = this.#stream;
    if (this.#ended || stream.destroyed || stream.closed) return;
    this.#started = true;
    const out: http2.OutgoingHttpHeaders = { ':status': response.status };
    const headers = response.headers;
    for (const name in headers) out[name] = headers[name];
    const upgraded = response.upgraded;
    if (this.upgrade === 'connect' && upgraded !== undefined && response.status >= 200 && response.status < 300) {
      this.#tunnel(out, upgraded);
      return;
    }
    const body = response.body;
    const trailers = response.trailers;
    try {
      if (body === null && trailers === undefined) {
        stream.respond(out, { endStream: true });
        this.#finish();
        return;
      }
      stream.respond(out, { waitForTrailers: trailers !== undefined });
    } catch {
      this.#bodyFailed();
      return;
    }
    if (trailers !== undefined) {
      stream.once('wantTrailers', () => {
        trailers.then(
          (values) => this.#sendTrailers(values ?? {}),
          () => this.#sendTrailers({}),
        );
      });
    } else {
      stream.once('finish', () => this.#finish());
    }
    if (body === null) {
      stream.end();
    } else if (Buffer.isBuffer(body)) {
      this.#events.responseData(body.length);
      stream.end(body);
    } else {
      this.#cancelPump = pumpBody(body, stream, (bytes) => this.#events.responseData(bytes), (error) => {
        if (error !== undefined) this.#bodyFailed();
        else stream.end();
      });
    }
  }

  /**
   * Answers a CONNECT with its 2xx (no body framing: RFC 9113 §8.5) and joins the stream and the
   * upstream connection until both ends are done; either side's close ends the other.
   */
  #tunnel(out: http2.OutgoingHttpHeaders, upgraded: Duplex): void {
    const stream = this.#stream;
    delete out['content-length'];
    try {
      stream.respond(out);
    } catch {
      upgraded.destroy();
      this.#bodyFailed();
      return;
    }
    this.#tunnelled = true;
    upgraded.on('error', () => {});
    upgraded.on('data', (chunk: Buffer) => this.#events.responseData(chunk.length));
    stream.pipe(upgraded);
    upgraded.pipe(stream);
    upgraded.once('close', () => {
      if (!stream.writableEnded) stream.end();
    });
    stream.once('close', () => upgraded.destroy());
  }

  #sendTrailers(values: Headers): void {
    if (this.#ended || this.#stream.destroyed) return;
    try {
      this.#stream.sendTrailers(values);
    } catch {
      this.#bodyFailed();
      return;
    }
    this.#finish();
  }

  #finish(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#events.responseEnd();
  }

  /** The response cannot be finished: the stream is reset and the connection manager told. */
  #bodyFailed(): void {
    if (this.#ended) return;
    this.reset();
    this.#events.responseFailed();
  }

  reset(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#tunnelled = false;
    this.#cancelPump?.();
    this.#stream.close(NGHTTP2_INTERNAL_ERROR);
  }
}
