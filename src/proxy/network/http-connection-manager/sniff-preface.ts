import type { Duplex } from 'node:stream';

const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/**
 * Envoy's AUTO codec without ALPN: reads until the first bytes either match the HTTP/2 connection
 * preface or cannot, puts them back, and reports which. A connection that closes first reports
 * HTTP/1 (its codec then sees the close).
 */
export function sniffHttp2Preface(socket: Duplex, decide: (http2: boolean) => void): void {
  let seen: Buffer = Buffer.alloc(0);
  const finish = (http2: boolean): void => {
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.pause();
    if (seen.length > 0) socket.unshift(seen);
    decide(http2);
  };
  const onData = (chunk: Buffer): void => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const length = Math.min(seen.length, HTTP2_PREFACE.length);
    if (seen.compare(HTTP2_PREFACE, 0, length, 0, length) !== 0) finish(false);
    else if (length === HTTP2_PREFACE.length) finish(true);
  };
  const onEnd = (): void => finish(false);
  socket.on('data', onData);
  socket.once('end', onEnd);
  // The listener may hand over a socket it paused while sniffing.
  socket.resume();
}
