import * as http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { err, ok, type Result } from '../../../core/index.ts';
import type { Headers } from '../../http/headers.ts';
import type { RequestHead } from '../../http/request-head.ts';
import { PLAINTEXT } from '../transport-connect.ts';
import type { PoolDeps, UpstreamFailure, UpstreamResponse } from './connection-pool.ts';
import { connectFailure, isConnected, openConnection } from './open-connection.ts';
import { http1RequestHeaders, http1ResponseHeaders } from './upstream-headers.ts';

/** What an upgrade request got: the upstream switched protocols, or answered as to any request. */
export type UpgradeResponse =
  | {
    readonly kind: 'upgraded';
    readonly status: 101;
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
 * Sends an HTTP/1.1 Upgrade request on a connection of its own, never a pooled one: an upgraded
 * connection is never returned, and a connection that carried a refused upgrade is closed. The
 * exchange holds a `requests` and a `connections` circuit-breaker slot, and counts as an active
 * request of the host, until the connection closes. `sockets` holds the connection while it is
 * open, so that the pools' owner can close it.
 */
export function openUpgrade(deps: PoolDeps, head: RequestHead, protocol: string, signal: AbortSignal, sockets: Set<Socket>): Promise<UpgradeResult> {
  if (signal.aborted) return Promise.resolve(ABORTED);
  const { cluster, host, settings, timers, stats } = deps;
  const releaseRequest = cluster.circuitBreakers.tryAcquire('requests');
  if (releaseRequest === undefined) {
    stats.rqPendingOverflow.inc();
    return Promise.resolve(OVERFLOW);
  }
  const releaseConnection = cluster.circuitBreakers.tryAcquire('connections');
  if (releaseConnection === undefined) {
    releaseRequest();
    stats.cxOverflow.inc();
    return Promise.resolve(OVERFLOW);
  }
  stats.rqTotal.inc();
  stats.rqActive.inc();
  host.activeRequests++;
  if (host.stats !== undefined) host.stats.rqTotal++;
  const socket = openConnection(host, deps.security ?? PLAINTEXT, settings.connectTimeoutMs, timers, stats);
  sockets.add(socket);
  socket.once('close', () => {
    sockets.delete(socket);
    releaseRequest();
    releaseConnection();
    stats.rqActive.dec();
    host.activeRequests--;
  });

  const headers = http1RequestHeaders(head);
  headers['connection'] = 'upgrade';
  headers['upgrade'] = protocol;
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
    const localAddress = (): { localAddress?: string } => (socket.localAddress !== undefined ? { localAddress: `${socket.localAddress}:${socket.localPort}` } : {});
    let req: http.ClientRequest;
    try {
      req = http.request({ createConnection: () => socket, method: head.method, path: head.path, headers, setHost: false });
    } catch (error) {
      socket.destroy();
      settle(err({ kind: 'reset', remote: false, requestSent: false, message: (error as Error).message }));
      return;
    }
    req.once('finish', () => (requestSent = true));
    req.once('upgrade', (res: http.IncomingMessage, upgraded: Duplex, rest: Buffer) => {
      // Bytes of the new protocol that came with the 101 head go back in front of the stream.
      if (rest.length > 0) upgraded.unshift(rest);
      settle(ok({ kind: 'upgraded', status: 101, headers: http1ResponseHeaders(res.headers), socket: upgraded, ...localAddress() }));
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
      settle(ok({ kind: 'response', response: { status: res.statusCode ?? 502, headers: http1ResponseHeaders(res.headers), body: res, trailers, ...localAddress() } }), true);
    });
    req.on('error', (error: Error) => {
      settle(err(isConnected(socket) ? { kind: 'reset', remote: false, requestSent, message: error.message } : connectFailure(error, socket)));
    });
    req.once('close', () => settle(err({ kind: 'reset', remote: false, requestSent, message: 'connection closed before the response' })));
    req.end();
  });
}
