import type { Readable, Writable } from 'node:stream';

/**
 * Calls `onData` with the size of every chunk a readable receives from its source, and `onEnd`
 * when the source signals the end, without reading it: the stream keeps its backpressure (a
 * 'data' listener would switch it to flowing). Node's codecs feed request bodies through `push`.
 */
export function observePushes(body: Readable, onData: (bytes: number) => void, onEnd: () => void): void {
  const push = body.push;
  body.push = function observedPush(this: Readable, chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk === null) onEnd();
    else if (typeof chunk === 'string') onData(Buffer.byteLength(chunk));
    else if (chunk instanceof Uint8Array) onData(chunk.length);
    return push.call(this, chunk, encoding);
  };
}

/**
 * Copies `body` into `out` with backpressure (pausing the body while `out` is full), without
 * ending `out`. `done` is called once: with no argument when the body ended, with an error when
 * it failed or closed early. Returns a function that stops copying (and calls nothing).
 */
export function pumpBody(body: Readable, out: Writable, onBytes: (bytes: number) => void, done: (error?: Error) => void): () => void {
  let finished = false;
  const onData = (chunk: Buffer | string): void => {
    onBytes(typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length);
    if (!out.write(chunk)) body.pause();
  };
  const onDrain = (): void => {
    body.resume();
  };
  const stop = (): void => {
    finished = true;
    body.off('data', onData);
    body.off('end', onEnd);
    body.off('error', onError);
    body.off('close', onClose);
    out.off('drain', onDrain);
  };
  const finish = (error?: Error): void => {
    if (finished) return;
    stop();
    done(error);
  };
  const onEnd = (): void => finish();
  const onError = (error: Error): void => finish(error);
  const onClose = (): void => {
    if (!body.readableEnded) finish(new Error('the body closed before its end'));
  };
  body.on('data', onData);
  body.once('end', onEnd);
  body.once('error', onError);
  body.once('close', onClose);
  out.on('drain', onDrain);
  return () => {
    if (!finished) stop();
  };
}
