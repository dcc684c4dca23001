import type { Socket } from 'node:net';
import { internalSocketPair } from './internal-socket.ts';

/**
 * The connection an in-process connection is made for (a CONNECT's downstream, say): the internal
 * listener's side takes its addresses as its own remote and local address.
 */
export interface InternalOrigin {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
}

/** Takes the listener's end of a new in-process connection, as a bound listener takes an accepted socket. */
export type InternalAcceptor = (socket: Socket) => void;

export interface InternalConnectOptions {
  /** The client end's: tcp_proxy keeps half-closed connections open. */
  readonly allowHalfOpen?: boolean;
  readonly origin?: InternalOrigin;
}

/** Addresses of an in-process connection made for no connection in particular (a pooled HTTP connection). */
const LOOPBACK: InternalOrigin = { remoteAddress: '127.0.0.1', remotePort: 0, localAddress: '127.0.0.1', localPort: 0 };

/**
 * Envoy's internal listeners, by name: listeners with `internalListener` bind no socket, and
 * clusters reach them through endpoints whose address is an `envoyInternalAddress`. The listener
 * manager registers the ones it runs; the upstream side connects to them in-process, through a
 * pair of connected streams whose one end goes to the listener as if accepted.
 */
export class InternalListeners {
  readonly #acceptors = new Map<string, InternalAcceptor>();

  register(name: string, acceptor: InternalAcceptor): void {
    this.#acceptors.set(name, acceptor);
  }

  unregister(name: string, acceptor: InternalAcceptor): void {
    if (this.#acceptors.get(name) === acceptor) this.#acceptors.delete(name);
  }

  has(name: string): boolean {
    return this.#acceptors.has(name);
  }

  /**
   * A connection to the internal listener `name`: the client end, which emits 'connect' once the
   * listener has its end. With no such listener it fails as a refused TCP connection does
   * (an ECONNREFUSED error, then 'close').
   */
  connect(name: string, options: InternalConnectOptions = {}): Socket {
    const origin = options.origin ?? LOOPBACK;
    const [client, server] = internalSocketPair(
      { local: { address: origin.remoteAddress, port: origin.remotePort }, remote: { address: origin.localAddress, port: origin.localPort }, allowHalfOpen: options.allowHalfOpen === true },
      { local: { address: origin.localAddress, port: origin.localPort }, remote: { address: origin.remoteAddress, port: origin.remotePort }, allowHalfOpen: true },
    );
    // Asynchronous, as a TCP connect is: the caller attaches its listeners first.
    process.nextTick(() => {
      if (client.destroyed) {
        server.destroy();
        return;
      }
      const acceptor = this.#acceptors.get(name);
      if (acceptor === undefined) {
        client.destroy(Object.assign(new Error(`connect ECONNREFUSED envoy://${name}/: no internal listener "${name}"`), { code: 'ECONNREFUSED' }));
        return;
      }
      acceptor(server);
      client.emit('connect');
    });
    return client;
  }
}
