import type { HttpResponse, RequestHead, DownstreamInfo, StreamInfo } from '../http/exchange.ts';

/** One finished request (or TCP connection), as an access log sees it. */
export interface AccessLogEntry {
  readonly kind: 'http' | 'tcp';
  readonly request?: RequestHead;
  readonly response?: Pick<HttpResponse, 'status' | 'headers'>;
  readonly downstream: DownstreamInfo;
  readonly info: StreamInfo;
  /** Milliseconds from start to the last byte. */
  readonly durationMs: number;
  /** The listener's and route config's names, for %ROUTE_NAME% and friends. */
  readonly listenerName?: string;
}

/** Where finished requests are written (stdout or a file, Envoy's text format or JSON). */
export interface AccessLogSink {
  log(entry: AccessLogEntry): void;
}
