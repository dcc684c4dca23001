import type { IncomingHttpHeaders } from 'node:http';
import type { IncomingHttpHeaders as Http2IncomingHeaders, OutgoingHttpHeaders } from 'node:http2';
import { HOP_BY_HOP_HEADERS, removeHopByHop, type Headers } from '../../http/headers.ts';
import type { RequestHead } from '../../http/request-head.ts';

/**
 * Header blocks as each codec wants them. Hop-by-hop headers belong to one connection and are
 * never forwarded (RFC 9110 §7.6.1); HTTP/2 refuses them outright, except `te: trailers`, which
 * gRPC needs.
 */

/** HTTP/1.1 request headers: the head's, with `host` from the authority. */
export function http1RequestHeaders(head: RequestHead): Headers {
  const out: Headers = {};
  const source = head.headers;
  for (const name in source) {
    if (HOP_BY_HOP_HEADERS.has(name) || name === 'host') continue;
    out[name] = source[name]!;
  }
  out['host'] = head.authority;
  return out;
}

/** HTTP/2 request headers: pseudo-headers from the head, the rest without connection-specific ones. */
export function http2RequestHeaders(head: RequestHead): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {
    ':method': head.method,
    ':path': head.path,
    ':authority': head.authority,
    ':scheme': head.scheme,
  };
  const source = head.headers;
  for (const name in source) {
    if (name === 'host') continue;
    const value = source[name]!;
    if (HOP_BY_HOP_HEADERS.has(name)) {
      if (name === 'te' && value === 'trailers') out[name] = value;
      continue;
    }
    out[name] = value;
  }
  return out;
}

/** HTTP/1.1 response headers without the hop-by-hop ones (and those Connection names); node's object is reused. */
export function http1ResponseHeaders(headers: IncomingHttpHeaders): Headers {
  removeHopByHop(headers as Headers);
  return headers as Headers;
}

/** HTTP/2 response headers or trailers without pseudo-headers. */
export function http2ResponseHeaders(headers: Http2IncomingHeaders): Headers {
  const out: Headers = {};
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 /* ':' */) continue;
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}
