import type { Socket } from 'node:net';
import type { TimerHandle, Timers } from '../../core/index.ts';
import { inspectHttp, type HttpInspection } from './http-inspector.ts';
import { inspectClientHello, type ClientHelloInspection } from './tls-inspector.ts';

/** What the listener filters found on a connection, for filter chain matching. */
export interface Sniffed {
  readonly sni?: string;
  /** `tls` when the TLS inspector saw a ClientHello, else `raw_buffer`. */
  readonly transportProtocol: string;
  /** The ClientHello's ALPN list, or the HTTP inspector's `http/1.1`, `http/1.0` or `h2c`. */
  readonly applicationProtocols: readonly string[];
}

export interface SniffOptions {
  readonly tls: boolean;
  readonly http: boolean;
  /** How long to wait for the bytes the inspectors need; 0 waits as long as it takes. */
  readonly timeoutMs: number;
  /** On timeout, match with what is known (true) or close the connection (false, Envoy's default). */
  readonly continueOnTimeout: boolean;
}

export type SniffOutcome =
  | { readonly kind: 'sniffed'; readonly sniffed: Sniffed }
  /** The listener filter timeout passed and the listener does not continue on timeout. */
  | { readonly kind: 'timeout' }
  /** The connection closed or failed while being inspected. */
  | { readonly kind: 'closed' };

export const RAW_BUFFER: Sniffed = { transportProtocol: 'raw_buffer', applicationProtocols: [] };

/**
 * Runs the TLS and HTTP inspectors on the first bytes of `socket` without consuming them: the
 * bytes are read in paused mode and put back with `unshift` before `done` is called, so whoever
 * takes the socket next reads them again. Calls `done` exactly once.
 */
export function sniffConnection(socket: Socket, options: SniffOptions, timers: Timers, done: (outcome: SniffOutcome) => void): void {
  if (!options.tls && !options.http) {
    done({ kind: 'sniffed', sniffed: RAW_BUFFER });
    return;
  }
  const chunks: Buffer[] = [];
  let data: Buffer = Buffer.alloc(0);
  let tls: ClientHelloInspection | undefined;
  let http: HttpInspection | undefined;
  let timer: TimerHandle | undefined;
  let settled = false;

  const settle = (outcome: SniffOutcome): void => {
    if (settled) return;
    settled = true;
    socket.off('readable', onReadable);
    socket.off('close', onClose);
    if (timer !== undefined) timers.clearTimeout(timer);
    if (outcome.kind === 'sniffed' && data.length > 0) socket.unshift(data);
    done(outcome);
  };

  /** Decides once no inspector needs more bytes; `final` makes the undecided ones give up. */
  const evaluate = (final: boolean): void => {
    if (options.tls && (tls === undefined || tls.kind === 'need-more')) tls = inspectClientHello(data);
    if (tls?.kind === 'need-more' && !final) return;
    const isTls = tls?.kind === 'tls';
    if (options.http && !isTls && (http === undefined || http === 'need-more')) http = inspectHttp(data);
    if (http === 'need-more' && !final && !isTls) return;
    settle({ kind: 'sniffed', sniffed: result(tls, isTls ? undefined : http) });
  };

  const onReadable = (): void => {
    const available = socket.readableLength;
    // 'readable' with nothing buffered is the end of the stream: the peer wrote all it will.
    // Reading exactly what is buffered (never past it) keeps 'end' for the socket's next reader.
    if (available === 0) {
      evaluate(true);
      return;
    }
    const chunk = socket.read(available) as Buffer | null;
    if (chunk === null) return;
    chunks.push(chunk);
    data = chunks.length === 1 ? chunk : Buffer.concat(chunks);
    evaluate(false);
  };

  const onClose = (): void => settle({ kind: 'closed' });

  if (options.timeoutMs > 0) {
    timer = timers.setTimeout(() => {
      timer = undefined;
      if (options.continueOnTimeout) evaluate(true);
      else settle({ kind: 'timeout' });
    }, options.timeoutMs);
  }
  socket.on('close', onClose);
  socket.on('readable', onReadable);
}

function result(tls: ClientHelloInspection | undefined, http: HttpInspection | undefined): Sniffed {
  if (tls?.kind === 'tls') {
    return tls.serverName !== undefined
      ? { sni: tls.serverName, transportProtocol: 'tls', applicationProtocols: tls.alpn }
      : { transportProtocol: 'tls', applicationProtocols: tls.alpn };
  }
  if (http === 'http/1.1' || http === 'http/1.0' || http === 'h2c') return { transportProtocol: 'raw_buffer', applicationProtocols: [http] };
  return RAW_BUFFER;
}
