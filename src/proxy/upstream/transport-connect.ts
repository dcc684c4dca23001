import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Cluster } from '../../xds/envoy/index.ts';
import type { UpstreamHost } from './cluster.ts';
import { InternalListeners, type InternalOrigin } from './internal-listeners.ts';
import { refusePeer } from '../security/tls-context.ts';
import type { UpstreamTls } from './upstream-tls.ts';

/** How one connection is secured: plaintext, or TLS with the SNI, SAN host and ALPN chosen for it. */
export type ConnectionSecurity =
  | { readonly kind: 'raw' }
  | {
    readonly kind: 'tls';
    readonly tls: UpstreamTls;
    readonly serverName: string | undefined;
    /** Auto SAN validation: the certificate must name this host (instead of the configured matchers). */
    readonly sanHost: string | undefined;
    readonly alpn: readonly string[];
  };

export const PLAINTEXT: ConnectionSecurity = { kind: 'raw' };

/** None registered: connecting to an internal listener is refused. */
const NO_INTERNAL_LISTENERS = new InternalListeners();

/** What a connection carries: ALPN follows it when the TLS context names none. */
export type ConnectionUse = 'http1' | 'http2' | 'tcp';

/**
 * The ALPN list for a connection: the configured one (without `h2` on an HTTP/1.1 connection,
 * which must not negotiate it), else `h2` or `http/1.1` by the protocol spoken; none for tcp_proxy.
 */
export function alpnFor(configured: readonly string[], use: ConnectionUse): readonly string[] {
  if (use === 'tcp') return configured;
  if (use === 'http2') return configured.length > 0 ? configured : ['h2'];
  const http1 = configured.filter((p) => p !== 'h2');
  return http1.length > 0 ? http1 : ['http/1.1'];
}

/** The server's certificate was refused after the handshake (chain, SANs, pins). */
export class PeerRefusedError extends Error {
  override readonly name = 'PeerRefusedError';
}

/** The TLS context cannot make connections yet (an SDS secret not delivered): a connect failure. */
export class TransportUnavailableError extends Error {
  override readonly name = 'TransportUnavailableError';
}

/** A socket that fails at once with `error`, as a connection that could not be made. */
function failedConnection(error: Error): net.Socket {
  const socket = new net.Socket();
  process.nextTick(() => socket.destroy(error));
  return socket;
}

/** Sockets ready for bytes: TCP connected and, for TLS, the handshake done and the server accepted. */
const established = new WeakSet<net.Socket>();
/** TLS sockets whose TCP connection is up: a failure before they are established is the handshake's. */
const tcpUp = new WeakSet<net.Socket>();

export interface ConnectUpstreamOptions {
  readonly allowHalfOpen?: boolean;
  /** Where hosts that are internal listeners are reached; without it, connecting to one is refused. */
  readonly internal?: InternalListeners;
  /** The downstream connection this one is made for, for the internal listener's side. */
  readonly origin?: InternalOrigin;
  /** TCP keepalive for connections over the network (not internal listeners). */
  readonly keepalive?: TcpKeepaliveOptions | undefined;
}

/** The cluster's `upstreamConnectionOptions.tcpKeepalive`, in Node's terms; unset fields keep the system's values. */
export interface TcpKeepaliveOptions {
  readonly initialDelayMs: number;
  readonly intervalMs: number;
  readonly probes: number;
}

/** Keepalive is on when the cluster has `tcpKeepalive` at all (as Envoy sets SO_KEEPALIVE); 0 leaves a value to the system. */
export function tcpKeepaliveOf(cluster: Cluster): TcpKeepaliveOptions | undefined {
  const keepalive = cluster.upstreamConnectionOptions?.tcpKeepalive;
  if (keepalive === undefined) return undefined;
  return {
    initialDelayMs: (keepalive.keepaliveTime ?? 0) * 1000,
    intervalMs: (keepalive.keepaliveInterval ?? 0) * 1000,
    probes: keepalive.keepaliveProbes ?? 0,
  };
}

/** Set once connected: before, Node keeps only the switch and the idle time, not the interval and count. */
function enableKeepalive(socket: net.Socket, keepalive: TcpKeepaliveOptions | undefined): void {
  if (keepalive !== undefined) socket.once('connect', () => setTcpKeepalive(socket, keepalive));
}

/** TCP keepalive as the cluster says: on with its times, or off (Envoy's default). */
export function setTcpKeepalive(socket: net.Socket, keepalive: TcpKeepaliveOptions | undefined): void {
  if (keepalive === undefined) socket.setKeepAlive(false);
  else socket.setKeepAlive({ enable: true, initialDelay: keepalive.initialDelayMs, interval: keepalive.intervalMs, count: keepalive.probes });
}

/**
 * Opens a connection to a host: TCP (in-process for an internal listener), or TLS over it. A TLS
 * socket is established once the handshake is done and the server's certificate passed the
 * checks of its context; otherwise it is destroyed with the reason (a PeerRefusedError), as a
 * connect failure. Node's own identity check is off: Envoy checks only what the context configures.
 */
export function connectUpstream(host: UpstreamHost, security: ConnectionSecurity, options: ConnectUpstreamOptions = {}): net.Socket {
  const allowHalfOpen = options.allowHalfOpen === true;
  const inner = host.internalListener === undefined ? undefined : connectInternal(host.internalListener, options);
  if (security.kind === 'raw') {
    const socket = inner ?? net.connect({ host: host.address, port: host.port, noDelay: true, allowHalfOpen });
    if (inner === undefined) enableKeepalive(socket, options.keepalive);
    socket.once('connect', () => established.add(socket));
    return socket;
  }
  const context = security.tls;
  const secureContext = context.context.current();
  if (!secureContext.ok) return failedConnection(new TransportUnavailableError(secureContext.error));
  // Node's tls.connect passes allowHalfOpen on to the socket, though its types leave it out.
  const connectOptions: tls.ConnectionOptions & { readonly allowHalfOpen: boolean } = {
    ...(inner !== undefined ? { socket: inner } : { host: host.address, port: host.port }),
    ...(security.serverName !== undefined && { servername: security.serverName }),
    secureContext: secureContext.value,
    ...(security.alpn.length > 0 && { ALPNProtocols: [...security.alpn] }),
    rejectUnauthorized: false,
    checkServerIdentity: () => undefined,
    allowHalfOpen,
  };
  const socket = tls.connect(connectOptions);
  socket.setNoDelay(true);
  if (inner === undefined) enableKeepalive(socket, options.keepalive);
  if (inner !== undefined) {
    // The in-process connection under TLS fails as a TCP connection does, before any handshake.
    inner.once('connect', () => tcpUp.add(socket));
    inner.once('error', (error: Error) => socket.destroy(error));
  } else {
    socket.once('connect', () => tcpUp.add(socket));
  }
  socket.once('secureConnect', () => {
    const refused = refusePeer(socket, context.verify, security.sanHost);
    if (refused !== undefined) socket.destroy(new PeerRefusedError(refused));
    else established.add(socket);
  });
  return socket;
}

function connectInternal(listener: string, options: ConnectUpstreamOptions): net.Socket {
  const internal = options.internal ?? NO_INTERNAL_LISTENERS;
  return internal.connect(listener, { allowHalfOpen: options.allowHalfOpen === true, ...(options.origin !== undefined && { origin: options.origin }) });
}

export function isEstablished(socket: net.Socket): boolean {
  return established.has(socket);
}

/** Calls `callback` once the socket is established (at once if it is); never if it fails first. */
export function whenEstablished(socket: net.Socket, callback: () => void): void {
  if (established.has(socket)) {
    callback();
    return;
  }
  socket.once(socket instanceof tls.TLSSocket ? 'secureConnect' : 'connect', () => {
    if (established.has(socket)) callback();
  });
}

/**
 * Envoy's %UPSTREAM_TRANSPORT_FAILURE_REASON% for a connection that failed before it was
 * established: the TLS handshake's failure or the refusal of the server's certificate; undefined
 * for a TCP failure.
 */
export function transportFailureReason(socket: net.Socket, error: Error): string | undefined {
  if (error instanceof PeerRefusedError) return `TLS error: ${error.message}`;
  if (error instanceof TransportUnavailableError) return error.message;
  if (!(socket instanceof tls.TLSSocket) || !tcpUp.has(socket) || established.has(socket)) return undefined;
  // OpenSSL's errors carry a short `reason` ("tlsv1 alert unknown ca") beside a long message.
  const reason = (error as Error & { reason?: unknown }).reason;
  return `TLS error: ${typeof reason === 'string' && reason !== '' ? reason : error.message}`;
}
