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
