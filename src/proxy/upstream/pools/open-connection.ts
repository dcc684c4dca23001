import type * as net from 'node:net';
import type { Timers } from '../../../core/index.ts';
import type { UpstreamHost } from '../cluster.ts';
import { connectUpstream, isEstablished, transportFailureReason, whenEstablished, type ConnectionSecurity, type ConnectUpstreamOptions } from '../transport-connect.ts';
import type { UpstreamFailure } from './connection-pool.ts';
import type { PoolStats } from './pool-stats.ts';

class ConnectTimeoutError extends Error {
  override readonly name = 'ConnectTimeoutError';
}

/**
 * Opens a connection to a host, plaintext or TLS, destroyed if it is not established (for TLS:
 * handshake done, certificate accepted) within the cluster's connect timeout (0: no limit), on the
 * injected timers. Counts it in the cluster's and the host's connection stats until it closes.
 */
export function openConnection(
  host: UpstreamHost, security: ConnectionSecurity, connectTimeoutMs: number, timers: Timers, stats: PoolStats, connect: ConnectUpstreamOptions = {},
): net.Socket {
  const socket = connectUpstream(host, security, connect);
  const hostStats = host.stats;
  stats.cxTotal.inc();
  stats.cxActive.inc();
  if (hostStats !== undefined) {
    hostStats.cxTotal++;
    hostStats.cxActive++;
  }
  socket.once('error', (error: Error) => {
    if (isEstablished(socket)) return;
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
      if (!isEstablished(socket)) socket.destroy(new ConnectTimeoutError(`connect timeout after ${connectTimeoutMs}ms`));
    }, connectTimeoutMs);
    const clear = (): void => timers.clearTimeout(timer);
    whenEstablished(socket, clear);
    socket.once('close', clear);
  }
  return socket;
}

/** Whether the socket is ready for bytes: a failure after that is a reset, not a connect failure. */
export function isConnected(socket: net.Socket): boolean {
  return isEstablished(socket);
}

/** A failure before the socket was established: timeout, refusal or TLS failure (UF). */
export function connectFailure(error: Error, socket: net.Socket): UpstreamFailure {
  if (error instanceof ConnectTimeoutError) return { kind: 'connect-timeout' };
  const reason = transportFailureReason(socket, error);
  return { kind: 'connect-failure', message: error.message, ...(reason !== undefined && { transportFailureReason: reason }) };
}
