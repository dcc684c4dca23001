import type { HttpResponse, ResponseFlag, StreamInfo } from './exchange.ts';
import type { Headers } from './headers.ts';

export interface LocalReplyOptions {
  readonly status: number;
  /** Plain text, as Envoy words it (`no healthy upstream`); no body when empty or absent. */
  readonly body?: string;
  readonly flag?: ResponseFlag;
  /** Envoy's %RESPONSE_CODE_DETAILS% (`route_not_found`, `direct_response`, `stream_idle_timeout`). */
  readonly details: string;
  readonly headers?: Headers;
  /** The request was gRPC: answer trailers-only (HTTP 200 with grpc-status), as Envoy does. */
  readonly grpc?: boolean;
}

/** Envoy's mapping of a local reply's HTTP status to a gRPC status (Grpc::Utility::httpToGrpcStatus). */
function grpcStatus(status: number): number {
  switch (status) {
    case 400: return 13;
    case 401: return 16;
    case 403: return 7;
    case 404: return 12;
    case 429: case 502: case 503: case 504: return 14;
    default: return 2;
  }
}

/**
 * A response the proxy makes itself (no route, a direct response, a timeout, a limit), in Envoy's
 * form: `content-type: text/plain` and a short body, or a trailers-only gRPC answer to a gRPC
 * request. Records the flag and details in the stream info.
 */
export function localReply(info: StreamInfo, options: LocalReplyOptions): HttpResponse {
  if (options.flag !== undefined) info.responseFlags.add(options.flag);
  info.responseCodeDetails = options.details;
  const text = options.body ?? '';
  if (options.grpc === true) {
    const headers: Headers = { ...options.headers, 'content-type': 'application/grpc', 'grpc-status': String(grpcStatus(options.status)) };
    if (text !== '') headers['grpc-message'] = encodeURIComponent(text);
    return { status: 200, headers, body: null };
  }
  if (text === '') return { status: options.status, headers: { ...options.headers, 'content-length': '0' }, body: null };
  const body = Buffer.from(text);
  return { status: options.status, headers: { ...options.headers, 'content-type': 'text/plain', 'content-length': String(body.length) }, body };
}

/** Whether a request is gRPC (its local replies then answer in gRPC's terms). */
export function isGrpcRequest(headers: Headers): boolean {
  const type = headers['content-type'];
  return typeof type === 'string' && type.startsWith('application/grpc');
}
