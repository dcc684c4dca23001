import * as http from 'node:http';
import type { Socket } from 'node:net';
import { Readable, type Duplex } from 'node:stream';
import { err, ok, type Result } from '../../../core/index.ts';
import type { Headers } from '../../http/headers.ts';
import type { RequestHead } from '../../http/request-head.ts';
import type { InternalOrigin } from '../internal-listeners.ts';
import { PLAINTEXT, whenEstablished } from '../transport-connect.ts';
import type { PoolDeps, UpstreamFailure, UpstreamResponse } from './connection-pool.ts';
import { connectFailure, isConnected, openConnection } from './open-connection.ts';
import { http1RequestHeaders, http1ResponseHeaders } from './upstream-headers.ts';

/** What an upgrade request got: the upstream switched protocols, or answered as to any request. */
export type UpgradeResponse =
  | {
    readonly kind: 'upgraded';
    /** 101 for an Upgrade; a 2xx for a CONNECT (200 for a tunnel the proxy opened itself). */
    readonly status: number;
    /** Lower-case names, hop-by-hop headers removed. */
    readonly headers: Headers;
    /** The upstream connection, carrying the upgraded protocol's bytes both ways (those already read come first). */
    readonly socket: Duplex;
    readonly localAddress?: string;
  }
  /** Any other answer; its connection closes once the response is over. */
  | { readonly kind: 'response'; readonly response: UpstreamResponse };

export type UpgradeResult = Result<UpgradeResponse, UpstreamFailure>;

const ABORTED: UpgradeResult = err({ kind: 'aborted' });
const OVERFLOW: UpgradeResult = err({ kind: 'overflow' });

/**
 * A connection of its own for one exchange, never a pooled one: it holds a `requests` and a
 * `connections` circuit-breaker slot, and counts as an active request of the host, until it
 * closes. `sockets` holds it while it is open, so that the pools' owner can close it.
 */
function openDedicated(deps: PoolDeps, sockets: Set<Socket>, origin: InternalOrigin | undefined): Socket | undefined {
  const { cluster, host, settings, timers, stats } = deps;
  const releaseRequest = cluster.circuitBreakers.tryAcquire('requests');
  if (releaseRequest === undefined) {
    stats.rqPendingOverflow.inc();
    return undefined;
  }
  const releaseConnection = cluster.circuitBreakers.tryAcquire('connections');
  if (releaseConnection === undefined) {
    releaseRequest();
    stats.cxOverflow.inc();
    return undefined;
  }
  stats.rqTotal.inc();
  stats.rqActive.inc();
  host.activeRequests++;
  if (host.stats !== undefined) host.stats.rqTotal++;
  const socket = openConnection(host, deps.security ?? PLAINTEXT, settings.connectTimeoutMs, timers, stats, { internal: deps.internal, origin, keepalive: settings.keepalive });
  sockets.add(socket);
  socket.once('close', () => {
    sockets.delete(socket);
    releaseRequest();
    releaseConnection();
    stats.rqActive.dec();
    host.activeRequests--;
  });
  return socket;
}

function localAddressOf(socket: Socket): { localAddress?: string } {
  return socket.localAddress !== undefined ? { localAddress: `${socket.localAddress}:${socket.localPort}` } : {};
}

/**
 * Sends an HTTP/1.1 Upgrade request (or a CONNECT, for `protocol` `connect`) on a connection of
 * its own (see openDedicated): an upgraded connection is never returned, and a connection that
 * carried a refused upgrade is closed. A CONNECT answered with a 2xx is a tunnel; any other
 * answer to it comes back without its body (Node hands over the raw connection whatever the status).
 */
export function openUpgrade(deps: PoolDeps, head: RequestHead, protocol: string, signal: AbortSignal, sockets: Set<Socket>): Promise<UpgradeResult> {
  if (signal.aborted) return Promise.resolve(ABORTED);
  const socket = openDedicated(deps, sockets, undefined);
  if (socket === undefined) return Promise.resolve(OVERFLOW);

  const connect = protocol === 'connect';
  const headers = http1RequestHeaders(head);
  if (!connect) {
    headers['connection'] = 'upgrade';
    headers['upgrade'] = protocol;
  }
  return new Promise((resolve) => {
    let settled = false;
    let requestSent = false;
    /** A plain response keeps listening to the signal until it is over: an abort then cuts its body off. */
    const settle = (result: UpgradeResult, listening = false): void => {
      if (settled) return;
      settled = true;
      if (!listening) signal.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const onAbort = (): void => {
      settle(ABORTED);
      socket.destroy();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    let req: http.ClientRequest;
    try {
      req = http.request({ createConnection: () => socket, method: connect ? 'CONNECT' : head.method, path: connect ? head.authority : head.path, headers, setHost: false });
    } catch (error) {
      socket.destroy();
      settle(err({ kind: 'reset', remote: false, requestSent: false, message: (error as Error).message }));
      return;
    }
    req.once('finish', () => (requestSent = true));
    const switched = (res: http.IncomingMessage, upgraded: Duplex, rest: Buffer): void => {
      // Bytes of the new protocol that came with the response head go back in front of the stream.
      if (rest.length > 0) upgraded.unshift(rest);
      settle(ok({ kind: 'upgraded', status: res.statusCode ?? 101, headers: http1ResponseHeaders(res.headers), socket: upgraded, ...localAddressOf(socket) }));
    };
    req.once('upgrade', switched);
    req.once('connect', (res: http.IncomingMessage, upgraded: Duplex, rest: Buffer) => {
      const status = res.statusCode ?? 502;
      if (status >= 200 && status < 300) {
        switched(res, upgraded, rest);
        return;
      }
      upgraded.destroy();
      const responseHeaders = http1ResponseHeaders(res.headers);
      delete responseHeaders['content-length'];
      settle(ok({ kind: 'response', response: { status, headers: responseHeaders, body: Readable.from([]), trailers: Promise.resolve(undefined), ...localAddressOf(socket) } }));
    });
    req.once('response', (res: http.IncomingMessage) => {
      const trailers = new Promise<Headers | undefined>((resolveTrailers) => {
        res.once('end', () => resolveTrailers(Object.keys(res.trailers).length > 0 ? (res.trailers as Headers) : undefined));
        res.once('close', () => resolveTrailers(undefined));
      });
      res.once('close', () => {
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
      });
      settle(ok({ kind: 'response', response: { status: res.statusCode ?? 502, headers: http1ResponseHeaders(res.headers), body: res, trailers, ...localAddressOf(socket) } }), true);
    });
    req.on('error', (error: Error) => {
      settle(err(isConnected(socket) ? { kind: 'reset', remote: false, requestSent, message: error.message } : connectFailure(error, socket)));
    });
    req.once('close', () => settle(err({ kind: 'reset', remote: false, requestSent, message: 'connection closed before the response' })));
    req.end();
  });
}

/**
 * A raw connection to the host for a CONNECT the proxy terminates, on a connection of its own (see
 * openDedicated): `upgraded` with status 200 once it is established (for TLS: handshake done),
 * else the connect failure. `origin` is the downstream connection it carries, for an internal
 * listener's side.
 */
export function openTunnel(deps: PoolDeps, signal: AbortSignal, sockets: Set<Socket>, origin?: InternalOrigin): Promise<UpgradeResult> {
  if (signal.aborted) return Promise.resolve(ABORTED);
  const socket = openDedicated(deps, sockets, origin);
  if (socket === undefined) return Promise.resolve(OVERFLOW);
  // Whoever takes the tunnel sees a failure as its close.
  socket.on('error', () => {});
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: UpgradeResult): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const onAbort = (): void => {
      settle(ABORTED);
      socket.destroy();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', (error: Error) => settle(err(connectFailure(error, socket))));
    socket.once('close', () => settle(err({ kind: 'connect-failure', message: 'the connection closed before it was established' })));
    whenEstablished(socket, () => settle(ok({ kind: 'upgraded', status: 200, headers: {}, socket, ...localAddressOf(socket) })));
  });
}
