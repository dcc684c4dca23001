import * as net from 'node:net';
import type { Timers } from '../../../core/index.ts';
import type { UpstreamHost } from '../cluster.ts';
import type { UpstreamFailure } from './connection-pool.ts';
import type { PoolStats } from './pool-stats.ts';

/** Sockets that completed their TCP handshake: a failure on them is a reset, not a connect failure. */
const connected = new WeakSet<net.Socket>();

class ConnectTimeoutError extends Error {
  override readonly name = 'ConnectTimeoutError';
}

/**
 * Opens a TCP connection to a host, destroyed if it is not established within the cluster's
 * connect timeout (0: no limit), on the injected timers. Counts it in the cluster's and the host's
 * connection stats until it closes.
 */
export function openConnection(host: UpstreamHost, connectTimeoutMs: number, timers: Timers, stats: PoolStats): net.Socket {
  const socket = net.connect({ host: host.address, port: host.port, noDelay: true });
  const hostStats = host.stats;
  stats.cxTotal.inc();
  stats.cxActive.inc();
  if (hostStats !== undefined) {
    hostStats.cxTotal++;
    hostStats.cxActive++;
  }
  socket.once('connect', () => connected.add(socket));
  socket.once('error', (error: Error) => {
    if (connected.has(socket)) return;
    if (error instanceof ConnectTimeoutError) stats.cxConnectTimeout.inc();
    else stats.cxConnectFail.inc();
    if (hostStats !== undefined) hostStats.cxConnectFail++;
  });
  socket.once('close', () => {
    stats.cxActive.dec();
    if (hostStats !== undefined) hostStats.cxActive--;
  });
  if (connectTimeoutMs > 0) {
    const timer = timers.setTimeout(() => {
      if (!connected.has(socket)) socket.destroy(new ConnectTimeoutError(`connect timeout after ${connectTimeoutMs}ms`));
    }, connectTimeoutMs);
    const clear = (): void => timers.clearTimeout(timer);
    socket.once('connect', clear);
    socket.once('close', clear);
  }
  return socket;
}

export function isConnected(socket: net.Socket): boolean {
  return connected.has(socket);
}

/** A failure before the socket connected: timeout or refusal (UF). */
export function connectFailure(error: Error): UpstreamFailure {
  return error instanceof ConnectTimeoutError ? { kind: 'connect-timeout' } : { kind: 'connect-failure', message: error.message };
}
