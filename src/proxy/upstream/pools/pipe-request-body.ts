import type { Readable, Writable } from 'node:stream';

/**
 * Copies a request body into an upstream request with back-pressure. Unlike `pipe`/`pipeline`,
 * an upstream failure never destroys the source: it may be the downstream request, whose
 * connection must survive to carry the local reply. A source that breaks off (downstream reset)
 * destroys the upstream request, which must not wait for the rest forever.
 * `beforeFirstChunk` runs once, before the first byte is written (HTTP/1.1 chooses its framing then).
 */
export function pipeRequestBody(source: Readable, sink: Writable, beforeFirstChunk?: () => void): void {
  if (source.readableEnded) {
    sink.end();
    return;
  }
  let started = false;
  let ended = false;
  const onData = (chunk: Buffer): void => {
    if (!started) {
      started = true;
      beforeFirstChunk?.();
    }
    if (!sink.write(chunk)) source.pause();
  };
  const onDrain = (): void => {
    source.resume();
  };
  const onEnd = (): void => {
    ended = true;
    detach();
    sink.end();
  };
  const onSourceGone = (): void => {
    detach();
    if (!ended) sink.destroy(new Error('request body ended early'));
  };
  const detach = (): void => {
    source.off('data', onData);
    source.off('end', onEnd);
    source.off('error', onSourceGone);
    source.off('close', onSourceGone);
    sink.off('drain', onDrain);
    sink.off('close', detach);
  };
  source.on('data', onData);
  source.once('end', onEnd);
  source.once('error', onSourceGone);
  source.once('close', onSourceGone);
  sink.on('drain', onDrain);
  sink.once('close', detach);
  source.resume();
}
