/**
 * Request and response headers as Node keeps them: lower-case names, a string or a list of
 * strings. Pseudo-headers (`:method`, `:path`, ...) never appear here; they are fields of the head.
 */
export type Headers = Record<string, string | string[]>;

/** Hop-by-hop headers (RFC 9110 §7.6.1), never forwarded by a proxy. */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-authenticate', 'proxy-authorization',
]);

export function headerValue(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * Removes a request's hop-by-hop headers and those its Connection header names (before the proxy
 * adds its own, so a client cannot strip those), keeping
 * `te: trailers` (gRPC needs it end to end). Returns whether the client takes trailers.
 */
export function stripRequestHopByHop(headers: Headers): boolean {
  const te = headers['te'];
  const acceptsTrailers = te !== undefined && hasToken(te, 'trailers');
  removeHopByHop(headers);
  if (acceptsTrailers) headers['te'] = 'trailers';
  return acceptsTrailers;
}

/** Removes a response's hop-by-hop headers and those its Connection header names. */
export function removeHopByHop(headers: Headers): void {
  const connection = headers['connection'];
  if (connection !== undefined) {
    for (const token of (Array.isArray(connection) ? connection.join(',') : connection).split(',')) {
      const name = token.trim().toLowerCase();
      if (name !== '') delete headers[name];
    }
  }
  for (const name of HOP_BY_HOP_HEADERS) {
    if (headers[name] !== undefined) delete headers[name];
  }
}

/** Whether a comma-separated header value holds `token` (case-insensitive). */
export function hasToken(value: string | string[], token: string): boolean {
  const text = Array.isArray(value) ? value.join(',') : value;
  if (text.length === token.length) return text.toLowerCase() === token;
  for (const part of text.split(',')) {
    const trimmed = part.trim();
    const semicolon = trimmed.indexOf(';');
    if ((semicolon < 0 ? trimmed : trimmed.slice(0, semicolon).trim()).toLowerCase() === token) return true;
  }
  return false;
}

/** Adds a value after any the header has (a list when there are several), as Envoy appends. */
export function appendHeader(headers: Headers, name: string, value: string): void {
  const existing = headers[name];
  headers[name] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
}
