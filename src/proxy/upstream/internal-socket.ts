import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

/** One end's addresses: its own, and its peer's. */
export interface InternalSocketEnds {
  readonly local: { readonly address: string; readonly port: number };
  readonly remote: { readonly address: string; readonly port: number };
  readonly allowHalfOpen: boolean;
}

/** Writing to an end whose peer is gone, as a TCP write after the peer's close. */
function peerClosed(): NodeJS.ErrnoException {
  return Object.assign(new Error('write EPIPE: the other end of the internal connection is closed'), { code: 'EPIPE' });
}

/**
 * One end of an in-process connection. What one end writes the other reads, with backpressure
 * (a write completes once the peer's reader has room). `end()` is a FIN: the peer reads its end.
 * Destroying an end before it has finished writing is a reset: the peer closes too. It carries
 * the `net.Socket` members the proxy's codecs and Node's HTTP client and server touch; Node's own
 * socket timers are never used by the proxy (it keeps its timeouts on injected timers), so
 * `setTimeout` only records the value.
 */
class InternalSocket extends Duplex {
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly remoteFamily: 'IPv4' | 'IPv6';
  readonly connecting = false;
  readonly pending = false;
  timeout = 0;
  #peer: InternalSocket | undefined;
  /** The peer's write that waits for this end's reader to take more. */
  #waitingWrite: ((error?: Error | null) => void) | undefined;

  constructor(ends: InternalSocketEnds) {
    super({ allowHalfOpen: ends.allowHalfOpen });
    this.localAddress = ends.local.address;
    this.localPort = ends.local.port;
    this.remoteAddress = ends.remote.address;
    this.remotePort = ends.remote.port;
    this.remoteFamily = ends.remote.address.includes(':') ? 'IPv6' : 'IPv4';
  }

  static pair(first: InternalSocketEnds, second: InternalSocketEnds): [InternalSocket, InternalSocket] {
    const a = new InternalSocket(first);
    const b = new InternalSocket(second);
    a.#peer = b;
    b.#peer = a;
    return [a, b];
  }

  override _read(): void {
    const waiting = this.#waitingWrite;
    this.#waitingWrite = undefined;
    waiting?.();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const peer = this.#peer;
    if (peer === undefined || peer.destroyed) {
      callback(peerClosed());
      return;
    }
    if (peer.push(chunk)) callback();
    else peer.#waitingWrite = callback;
  }

  override _final(callback: (error?: Error | null) => void): void {
    const peer = this.#peer;
    if (peer !== undefined && !peer.destroyed) peer.push(null);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const peer = this.#peer;
    this.#peer = undefined;
    const waiting = this.#waitingWrite;
    this.#waitingWrite = undefined;
    waiting?.(peerClosed());
    // After a FIN the peer keeps what it has not read yet; before one, this is a reset.
    if (peer !== undefined && !peer.destroyed && !this.writableFinished) peer.destroy();
    callback(error);
  }

  address(): { address: string; family: string; port: number } {
    return { address: this.localAddress, family: this.localAddress.includes(':') ? 'IPv6' : 'IPv4', port: this.localPort };
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  setTimeout(timeout: number): this {
    this.timeout = timeout;
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }
}

/**
 * Two connected ends of an in-process connection, typed as sockets: the proxy hands them to
 * whatever takes a `net.Socket` (Node's HTTP client and server take any Duplex).
 */
export function internalSocketPair(client: InternalSocketEnds, server: InternalSocketEnds): [client: Socket, server: Socket] {
  const [a, b] = InternalSocket.pair(client, server);
  return [a as unknown as Socket, b as unknown as Socket];
}
