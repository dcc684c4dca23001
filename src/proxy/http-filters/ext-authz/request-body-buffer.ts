import { PassThrough, Readable } from 'node:stream';

/** The start of a request body, read for the authorizer, and the whole body again for the upstream. */
export interface BufferedBody {
  /** The whole body, or its first `maxBytes` when it is longer. */
  readonly bytes: Buffer;
  /** The body was longer than `maxBytes`. */
  readonly partial: boolean;
  /** Streams the body from its first byte: what was read, then the rest as it arrives. */
  readonly replay: Readable;
}

/**
 * Reads a request body until it ends or `maxBytes` have arrived. A body that ended is replayed from
 * the buffer; a longer one from the buffer, then from the source, piped with backpressure, the
 * source's failure passed on. Rejects when the body fails before that.
 */
export function bufferRequestBody(body: Readable, maxBytes: number): Promise<BufferedBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size <= maxBytes) return;
      cleanup();
      body.pause();
      const read = Buffer.concat(chunks, size);
      const replay = new PassThrough();
      replay.write(read);
      body.once('error', (error) => replay.destroy(error));
      body.pipe(replay);
      resolve({ bytes: read.subarray(0, maxBytes), partial: true, replay });
    };
    const onEnd = (): void => {
      cleanup();
      const read = Buffer.concat(chunks, size);
      resolve({ bytes: read, partial: false, replay: Readable.from([read], { objectMode: false }) });
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
  });
}
