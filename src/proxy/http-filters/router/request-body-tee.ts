import { PassThrough, type Readable } from 'node:stream';

/**
 * Reads the downstream request body once and gives each attempt (and each mirror) the whole of
 * it: what has arrived is replayed from a buffer, the rest streams in as it comes, so an attempt
 * starts before the body has ended (a gRPC stream may never end). The buffer is bounded: once
 * the body outgrows it, only the attempt reading now keeps streaming, and nothing can be
 * replayed (no more retries, no mirror), as with Envoy's buffer limit.
 */
export class RequestBodyTee {
  readonly #source: Readable;
  readonly #limitBytes: number;
  #chunks: Buffer[] = [];
  #size = 0;
  #overflowed = false;
  #ended = false;
  #broken = false;
  #reading = false;
  #sink: PassThrough | undefined;
  #waitingForDrain = false;
  readonly #completion: Promise<void>;
  #complete!: () => void;

  constructor(source: Readable, limitBytes: number) {
    this.#source = source;
    this.#limitBytes = limitBytes;
    this.#completion = new Promise((resolve) => (this.#complete = resolve));
  }

  /** False once the body outgrew the buffer or broke off: no attempt can be started again. */
  get replayable(): boolean {
    return !this.#overflowed && !this.#broken;
  }

  /** Resolves when the downstream body has ended or broken off. */
  get done(): Promise<void> {
    return this.#completion;
  }

  /**
   * The body for a new attempt, from its first byte; the previous attempt's stream stops being
   * fed. Undefined when the body cannot be replayed.
   */
  open(): Readable | undefined {
    if (!this.replayable) return undefined;
    const sink = new PassThrough();
    this.#sink = sink;
    this.#waitingForDrain = false;
    for (const chunk of this.#chunks) sink.write(chunk);
    if (this.#ended) sink.end();
    else this.#read();
    return sink;
  }

  /** The complete body once it has ended, or undefined when it outgrew the buffer or broke off. */
  async whole(): Promise<Buffer | undefined> {
    if (!this.#ended && !this.#broken) this.#read();
    await this.#completion;
    return this.replayable ? Buffer.concat(this.#chunks, this.#size) : undefined;
  }

  #read(): void {
    if (this.#reading) {
      if (!this.#waitingForDrain) this.#source.resume();
      return;
    }
    this.#reading = true;
    const source = this.#source;
    source.on('data', (chunk: Buffer) => this.#onData(chunk));
    source.once('end', () => {
      this.#ended = true;
      this.#sink?.end();
      this.#complete();
    });
    const broken = (): void => {
      if (this.#ended) return;
      this.#broken = true;
      this.#sink?.destroy(new Error('request body ended early'));
      this.#complete();
    };
    source.once('error', broken);
    source.once('close', broken);
    if (source.readableEnded) {
      this.#ended = true;
      this.#sink?.end();
      this.#complete();
    } else source.resume();
  }

  #onData(chunk: Buffer): void {
    if (!this.#overflowed) {
      this.#size += chunk.length;
      if (this.#size > this.#limitBytes) {
        this.#overflowed = true;
        this.#chunks = [];
      } else this.#chunks.push(chunk);
    }
    const sink = this.#sink;
    if (sink !== undefined && !sink.destroyed && !sink.write(chunk)) {
      this.#waitingForDrain = true;
      this.#source.pause();
      sink.once('drain', () => {
        if (this.#sink !== sink) return;
        this.#waitingForDrain = false;
        this.#source.resume();
      });
    }
  }
}
