import { createWriteStream } from 'node:fs';
import type { TimerHandle, Timers } from '../../core/index.ts';
import type { AccessLogEntry, AccessLogSink } from './access-log.ts';
import type { AccessLogFormatter } from './access-log-formatter.ts';

/** Where log lines go: stdout, or a file opened with `openAccessLogFile`. */
export interface AccessLogOutput {
  write(chunk: string, callback: (error?: Error | null) => void): unknown;
  /** Called on close when the sink owns the output (a file), never for stdout. */
  end?(callback: () => void): unknown;
}

export interface BufferedAccessLogSinkOptions {
  readonly format: AccessLogFormatter;
  readonly output: AccessLogOutput;
  /** Whether close() ends the output too (true for a file the sink opened). */
  readonly ownsOutput?: boolean;
  readonly timers: Timers;
  /** How long a line may wait in the buffer (Envoy's access log flush interval: 1 s). */
  readonly flushIntervalMs?: number;
  /** A buffer this large is written at once (Envoy's: 64 KiB). */
  readonly maxBufferBytes?: number;
  /** A failed write; the sink goes on. */
  readonly onError?: (error: Error) => void;
}

/**
 * Writes log lines as Envoy's file access log does: lines gather in a buffer that is written once
 * a second or when it grows past 64 KiB, so a request costs a string, not a system call.
 * `close()` writes what is left.
 */
export class BufferedAccessLogSink implements AccessLogSink {
  readonly #options: BufferedAccessLogSinkOptions;
  readonly #flushIntervalMs: number;
  readonly #maxBufferBytes: number;
  #lines: string[] = [];
  #bytes = 0;
  #timer: TimerHandle | undefined;
  #pending = new Set<Promise<void>>();
  #closed = false;

  constructor(options: BufferedAccessLogSinkOptions) {
    this.#options = options;
    this.#flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.#maxBufferBytes = options.maxBufferBytes ?? 64 * 1024;
  }

  log(entry: AccessLogEntry): void {
    if (this.#closed) return;
    const line = this.#options.format(entry);
    this.#lines.push(line);
    this.#bytes += line.length;
    if (this.#bytes >= this.#maxBufferBytes) this.flush();
    else this.#timer ??= this.#options.timers.setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, this.#flushIntervalMs);
  }

  /** Writes the buffer now. */
  flush(): void {
    if (this.#timer !== undefined) this.#options.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#lines.length === 0) return;
    const chunk = this.#lines.join('');
    this.#lines = [];
    this.#bytes = 0;
    const written = new Promise<void>((resolve) => {
      this.#options.output.write(chunk, (error) => {
        if (error != null) this.#options.onError?.(error);
        resolve();
      });
    });
    this.#pending.add(written);
    void written.then(() => this.#pending.delete(written));
  }

  /** Writes what is buffered, waits for it, and ends the output when the sink owns it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.flush();
    await Promise.all(this.#pending);
    const { output, ownsOutput } = this.#options;
    if (ownsOutput === true && output.end !== undefined) await new Promise<void>((resolve) => output.end!(resolve));
  }
}

/** Opens a log file for appending (Istio's `accessLogFile`), for a sink that owns it. */
export function openAccessLogFile(path: string): AccessLogOutput {
  return createWriteStream(path, { flags: 'a' });
}
