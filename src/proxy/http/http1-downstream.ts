import * as http from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import type { HttpResponse } from './exchange.ts';
import type { DownstreamStream, DownstreamStreamEvents, RespondOptions } from './downstream-stream.ts';
import { hasToken, removeHopByHop, stripRequestHopByHop, type Headers } from './headers.ts';
import type { RequestHead } from './request-head.ts';
import { observePushes, pumpBody } from './stream-io.ts';

export interface Http1DownstreamOptions {
  /** Request line and headers together (node's maxHeaderSize); more is answered 431. */
  readonly maxHeaderBytes: number;
  /** More headers than this are refused by node's parser (431). */
  readonly maxHeadersCount: number;
  /** Upgrade tokens (lower-case) taken as upgrades; any other Upgrade is a plain request. */
  readonly upgradeTypes: ReadonlySet<string>;
  readonly onStream: (stream: DownstreamStream, socket: Duplex) => void;
  /**
   * A request node's parser refused (malformed, or its head too large). The codec has answered
   * it (400 or 431) and closes the connection; this only reports it.
   */
  readonly onCodecError: (socket: Duplex, status: number, details: string) => void;
}

const NO_EVENTS: DownstreamStreamEvents = { requestData() {}, requestEnd() {}, responseData() {}, responseEnd() {}, reset() {}, responseFailed() {} };

/**
 * The HTTP/1.1 downstream codec: node's HTTP server, fed sockets the listener accepted. Node's own
 * timers are off (the connection manager keeps the timeouts with injected timers); Node answers
 * `Expect: 100-continue` itself, as Envoy does by default.
 */
export class Http1Downstream {
  readonly #server: http.Server;

  constructor(options: Http1DownstreamOptions) {
    const upgradeTypes = options.upgradeTypes;
    this.#server = http.createServer({
      maxHeaderSize: options.maxHeaderBytes,
      requireHostHeader: false,
      optimizeEmptyRequests: true,
      keepAliveTimeout: 0,
      requestTimeout: 0,
      headersTimeout: 0,
      connectionsCheckingInterval: 2_147_483_647,
      noDelay: true,
      shouldUpgradeCallback: (req) => {
        const upgrade = req.headers.upgrade;
        return upgrade !== undefined && upgradeTypes.has(upgrade.toLowerCase());
      },
    });
    this.#server.maxHeadersCount = options.maxHeadersCount;
    this.#server.keepAliveTimeout = 0;
    this.#server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      options.onStream(new Http1Stream(req, res), req.socket);
    });
    this.#server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      options.onStream(new Http1UpgradeStream(req, socket, head), socket);
    });
    // Node hands a CONNECT over with its raw socket, as an upgrade (without a listener it closes the connection).
    this.#server.on('connect', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      options.onStream(new Http1UpgradeStream(req, socket, head), socket);
    });
    this.#server.on('clientError', (error: Error & { code?: string; rawPacket?: Buffer }, socket: Duplex) => {
      const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
      const status = tooLarge ? 431 : 400;
      const details = !tooLarge ? 'http1.codec_error' : countLines(error.rawPacket) > options.maxHeadersCount ? 'http1.too_many_headers' : 'http1.headers_too_large';
      if (!socket.writable || error.code === 'ECONNRESET') {
        socket.destroy();
        return;
      }
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
      options.onCodecError(socket, status, details);
    });
  }

  /**
   * Takes over a connection. Bytes sniffing unshifted are read first; a socket left paused by
   * sniffing is resumed, as node's server only reads a flowing one.
   */
  accept(socket: Duplex): void {
    this.#server.emit('connection', socket);
    socket.resume();
  }
}

/** Header lines in what the parser had read when it gave up (the request line counts too). */
function countLines(raw: Buffer | undefined): number {
  if (raw === undefined) return 0;
  let lines = 0;
  for (let at = raw.indexOf(10); at >= 0; at = raw.indexOf(10, at + 1)) lines++;
  return lines - 1;
}

/**
 * The head of an HTTP/1.x request: the origin form, the absolute form (`GET http://host/path`), or
 * a CONNECT's authority form (`CONNECT host:port`), whose target is the authority and which has no path.
 */
function requestHead(req: http.IncomingMessage, headers: Headers): RequestHead {
  let path = req.url ?? '/';
  let authority = req.headers.host ?? '';
  if (req.method === 'CONNECT') {
    authority = path;
    path = '';
  } else if (path.charCodeAt(0) !== 47 /* '/' */ && path !== '*') {
    const match = /^https?:\/\/([^/?#]*)(.*)$/i.exec(path);
    if (match !== null) {
      authority = match[1]!;
      path = match[2] === '' ? '/' : match[2]!;
    }
  }
  delete headers['host'];
  return {
    method: req.method ?? 'GET',
    path,
    authority,
    scheme: 'http',
    headers,
    protocol: req.httpVersionMinor === 0 ? 'HTTP/1.0' : 'HTTP/1.1',
  };
}

function hostHeaders(raw: readonly string[]): number {
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') count++;
  }
  return count;
}

function headerBytes(raw: readonly string[]): number {
  let bytes = 0;
  for (const part of raw) bytes += part.length;
  return bytes;
}

abstract class Http1StreamBase {
  readonly head: RequestHead;
  readonly body: Readable;
  readonly headerCount: number;
  readonly headerBytes: number;
  readonly acceptsTrailers: boolean;
  readonly upgrade: string | undefined;
  readonly malformed: string | undefined;
  protected events: DownstreamStreamEvents = NO_EVENTS;
  protected readonly req: http.IncomingMessage;
  /** The response is over: sent to its end, reset, or the downstream went away. */
  protected ended = false;
  protected started = false;
  protected cancelPump: (() => void) | undefined;

  constructor(req: http.IncomingMessage) {
    this.req = req;
    const headers = req.headers as Headers;
    const upgrade = req.method === 'CONNECT' ? 'connect' : req.headers.upgrade?.toLowerCase();
    // h2c upgrades are not taken (Envoy strips them): the request goes on as HTTP/1.1.
    this.upgrade = upgrade === undefined || upgrade === 'h2c' ? undefined : upgrade;
    this.acceptsTrailers = stripRequestHopByHop(headers);
    if (headers['expect'] !== undefined && hasToken(headers['expect'], '100-continue')) delete headers['expect'];
    this.head = requestHead(req, headers);
    this.headerCount = req.rawHeaders.length / 2;
    // Node keeps the first Host and drops the others; a proxy that routes by one while the app reads another is a smuggling vector.
    this.malformed = hostHeaders(req.rawHeaders) > 1 ? 'http1.multiple_host_headers' : undefined;
    this.headerBytes = headerBytes(req.rawHeaders);
    this.body = req;
    req.on('error', () => {});
    observePushes(req, (bytes) => this.events.requestData(bytes), () => this.events.requestEnd());
  }

  attach(events: DownstreamStreamEvents): void {
    this.events = events;
  }

  requestComplete(): boolean {
    return this.req.complete || this.req.readableEnded;
  }

  responseStarted(): boolean {
    return this.started;
  }

  protected finishResponse(): void {
    if (this.ended) return;
    this.ended = true;
    this.events.responseEnd();
  }

  abstract reset(): void;

  /** The response cannot be finished: the stream is reset and the connection manager told. */
  protected bodyFailed(): void {
    if (this.ended) return;
    this.reset();
    this.events.responseFailed();
  }

  protected downstreamGone(): void {
    if (this.ended) return;
    this.ended = true;
    this.cancelPump?.();
    this.events.reset();
  }
}

class Http1Stream extends Http1StreamBase implements DownstreamStream {
  readonly #res: http.ServerResponse;

  constructor(req: http.IncomingMessage, res: http.ServerResponse) {
    super(req);
    this.#res = res;
    res.on('finish', () => this.finishResponse());
    res.on('close', () => this.downstreamGone());
    res.on('error', () => {});
  }

  respond(response: HttpResponse, options: RespondOptions): void {
    const res = this.#res;
    if (this.ended || res.destroyed) return;
    this.started = true;
    const headers = response.headers;
    if (options.closeConnection) headers['connection'] = 'close';
    try {
      res.writeHead(response.status, headers);
    } catch {
      this.bodyFailed();
      return;
    }
    const body = response.body;
    if (body === null) {
      this.#end(response);
    } else if (Buffer.isBuffer(body)) {
      this.events.responseData(body.length);
      res.end(body);
    } else {
      this.cancelPump = pumpBody(body, res, (bytes) => this.events.responseData(bytes), (error) => {
        if (error !== undefined) this.bodyFailed();
        else this.#end(response);
      });
    }
  }

  /** Ends the response, with trailers when the client takes them and the body is chunked. */
  #end(response: HttpResponse): void {
    const res = this.#res;
    const trailers = response.trailers;
    if (trailers === undefined || !this.acceptsTrailers || response.headers['content-length'] !== undefined) {
      res.end();
      return;
    }
    trailers.then(
      (values) => {
        if (this.ended) return;
        if (values !== undefined) res.addTrailers(values);
        res.end();
      },
      () => res.end(),
    );
  }

  reset(): void {
    if (this.ended) return;
    this.ended = true;
    this.cancelPump?.();
    this.#res.destroy();
  }
}

/**
 * An Upgrade request or a CONNECT: node has handed over the raw socket. A 101 (a 2xx for a
 * CONNECT) with an upstream stream becomes a tunnel; any other answer is written by hand and the
 * connection closed.
 */
class Http1UpgradeStream extends Http1StreamBase implements DownstreamStream {
  readonly #socket: Duplex;
  /** Bytes the client sent after the request head: the start of the upgraded protocol. */
  readonly #early: Buffer;
  #upgraded: Duplex | undefined;

  constructor(req: http.IncomingMessage, socket: Duplex, early: Buffer) {
    super(req);
    this.#socket = socket;
    this.#early = early;
    socket.on('error', () => {});
    // Once tunnelled, a close on either side is the tunnel's normal end.
    socket.once('close', () => (this.#upgraded === undefined ? this.downstreamGone() : this.#closeTunnel()));
  }

  respond(response: HttpResponse, _options: RespondOptions): void {
    const socket = this.#socket;
    if (this.ended || socket.destroyed) return;
    this.started = true;
    const upgraded = response.upgraded;
    const headers = response.headers;
    removeHopByHop(headers);
    const connect = this.upgrade === 'connect';
    const switched = connect ? response.status >= 200 && response.status < 300 : response.status === 101;
    if (switched && upgraded !== undefined) {
      this.#tunnel(response.status, headers, upgraded);
      return;
    }
    const body = response.body;
    if (Buffer.isBuffer(body)) headers['content-length'] = String(body.length);
    else if (body === null && headers['content-length'] === undefined) headers['content-length'] = '0';
    headers['connection'] = 'close';
    socket.write(serializeHead(response.status, headers));
    if (body === null) {
      socket.end(() => this.finishResponse());
    } else if (Buffer.isBuffer(body)) {
      this.events.responseData(body.length);
      socket.end(body, () => this.finishResponse());
    } else {
      this.cancelPump = pumpBody(body, socket, (bytes) => this.events.responseData(bytes), (error) => {
        if (error !== undefined) this.bodyFailed();
        else socket.end(() => this.finishResponse());
      });
    }
  }

  /**
   * Writes the 101 (a CONNECT's 2xx, which frames no body: RFC 9110 §9.3.6) and joins the two raw
   * streams until either side closes.
   */
  #tunnel(status: number, headers: Headers, upgraded: Duplex): void {
    const socket = this.#socket;
    this.#upgraded = upgraded;
    if (this.upgrade === 'connect') {
      delete headers['content-length'];
    } else {
      headers['connection'] = 'upgrade';
      headers['upgrade'] = this.upgrade ?? '';
    }
    socket.write(serializeHead(status, headers));
    upgraded.on('error', () => {});
    if (this.#early.length > 0) {
      this.events.requestData(this.#early.length);
      upgraded.write(this.#early);
    }
    socket.on('data', (chunk: Buffer) => this.events.requestData(chunk.length));
    upgraded.on('data', (chunk: Buffer) => this.events.responseData(chunk.length));
    socket.pipe(upgraded);
    upgraded.pipe(socket);
    upgraded.once('close', () => this.#closeTunnel());
  }

  #closeTunnel(): void {
    this.#socket.end();
    this.#upgraded?.end();
    this.finishResponse();
  }

  reset(): void {
    if (this.ended) return;
    this.ended = true;
    this.cancelPump?.();
    this.#upgraded?.destroy();
    this.#socket.destroy();
  }
}

const FORBIDDEN_IN_HEADER = /[\r\n]/;

/** A response head for a socket node no longer frames; CR and LF never reach the wire. */
function serializeHead(status: number, headers: Headers): string {
  let head = `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n`;
  for (const name in headers) {
    const value = headers[name]!;
    for (const one of Array.isArray(value) ? value : [value]) {
      if (!FORBIDDEN_IN_HEADER.test(name) && !FORBIDDEN_IN_HEADER.test(one)) head += `${name}: ${one}\r\n`;
    }
  }
  return `${head}\r\n`;
}
