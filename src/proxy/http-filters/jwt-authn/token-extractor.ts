import type { Headers } from '../../http/headers.ts';
import type { RequestHead } from '../../http/request-head.ts';
import type { JwtProvider } from './jwt-authn-config.ts';

/** A token found in a request. */
export interface ExtractedToken {
  readonly token: string;
  /** Whether a provider that looks where the token was found takes tokens from `issuer`. */
  issuerAllowed(issuer: string): boolean;
  /** Takes the token out of the request (a provider's `forward: false`); a cookie keeps it, as in Envoy. */
  remove(request: RequestHead): void;
}

/** The issuers of the providers that look in one place; a provider with no issuer takes any. */
class IssuerSet {
  #any = false;
  readonly #issuers = new Set<string>();

  add(issuer: string): void {
    if (issuer === '') this.#any = true;
    else this.#issuers.add(issuer);
  }

  has(issuer: string): boolean {
    return this.#any || this.#issuers.has(issuer);
  }
}

interface HeaderLocation {
  readonly name: string;
  readonly valuePrefix: string;
  readonly issuers: IssuerSet;
}

/** base64url and '.', the characters of a compact JWS. */
const TOKEN_CHAR = /[A-Za-z0-9_.-]/;

/**
 * Finds the tokens of a set of providers in a request, as Envoy's extractor does: in each
 * configured header (the part after `valuePrefix`, wherever the prefix occurs in the value),
 * each query parameter (its first value, percent-decoded) and each cookie. A provider with no
 * location configured looks in `Authorization: Bearer <t>` and `?access_token=<t>`.
 */
export class TokenExtractor {
  readonly #headers: readonly HeaderLocation[];
  readonly #params: ReadonlyMap<string, IssuerSet>;
  readonly #cookies: ReadonlyMap<string, IssuerSet>;
  /** Headers the providers write for a good token, removed from every request first so that a client cannot forge them. */
  readonly #written: readonly string[];

  constructor(providers: readonly JwtProvider[]) {
    const headers = new Map<string, HeaderLocation>();
    const params = new Map<string, IssuerSet>();
    const cookies = new Map<string, IssuerSet>();
    const written: string[] = [];
    const issuers = <K>(map: Map<K, IssuerSet>, key: K): IssuerSet => {
      let set = map.get(key);
      if (set === undefined) map.set(key, (set = new IssuerSet()));
      return set;
    };
    for (const provider of providers) {
      const defaults = provider.fromHeaders.length === 0 && provider.fromParams.length === 0 && provider.fromCookies.length === 0;
      const fromHeaders = defaults ? [{ name: 'authorization', valuePrefix: 'Bearer ' }] : provider.fromHeaders;
      for (const { name, valuePrefix } of fromHeaders) {
        const key = `${name}\n${valuePrefix}`;
        let location = headers.get(key);
        if (location === undefined) headers.set(key, (location = { name, valuePrefix, issuers: new IssuerSet() }));
        location.issuers.add(provider.issuer);
      }
      for (const param of defaults ? ['access_token'] : provider.fromParams) issuers(params, param).add(provider.issuer);
      for (const cookie of provider.fromCookies) issuers(cookies, cookie).add(provider.issuer);
      if (provider.forwardPayloadHeader !== '') written.push(provider.forwardPayloadHeader);
      for (const { headerName } of provider.claimToHeaders) written.push(headerName);
    }
    // Envoy keeps its locations in ordered maps; the order decides which bad token is reported.
    this.#headers = [...headers.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, location]) => location);
    this.#params = new Map([...params].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    this.#cookies = new Map([...cookies].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    this.#written = written;
  }

  /** Removes the headers a good token would set (forwardPayloadHeader, claimToHeaders). */
  sanitize(headers: Headers): void {
    for (const name of this.#written) delete headers[name];
  }

  extract(request: RequestHead): ExtractedToken[] {
    const tokens: ExtractedToken[] = [];
    for (const location of this.#headers) {
      const value = request.headers[location.name];
      if (value === undefined) continue;
      for (const one of Array.isArray(value) ? value : [value]) {
        const token = tokenIn(one, location.valuePrefix);
        if (token === undefined) continue;
        const name = location.name;
        tokens.push({ token, issuerAllowed: (issuer) => location.issuers.has(issuer), remove: (r) => delete r.headers[name] });
      }
    }
    if (this.#params.size > 0) {
      const query = queryParams(request.path);
      for (const [param, issuers] of this.#params) {
        const token = query.get(param);
        if (token !== undefined) tokens.push({ token, issuerAllowed: (issuer) => issuers.has(issuer), remove: (r) => removeParam(r, param) });
      }
    }
    if (this.#cookies.size > 0) {
      const jar = cookies(request.headers['cookie']);
      for (const [cookie, issuers] of this.#cookies) {
        const token = jar.get(cookie);
        if (token !== undefined) tokens.push({ token, issuerAllowed: (issuer) => issuers.has(issuer), remove: () => {} });
      }
    }
    return tokens;
  }
}

/**
 * The token in a header value: after the prefix (wherever it occurs), from the first character a
 * token can hold (so `Bearer  <t>` works); the rest of the value as it is when none follows.
 */
function tokenIn(value: string, prefix: string): string | undefined {
  if (prefix === '') return value;
  const at = value.indexOf(prefix);
  if (at < 0) return undefined;
  for (let i = at + prefix.length; i < value.length; i++) {
    if (TOKEN_CHAR.test(value[i]!)) return value.slice(i);
  }
  return value;
}

/** The first value of each query parameter, names and values percent-decoded. */
function queryParams(path: string): Map<string, string> {
  const out = new Map<string, string>();
  const start = path.indexOf('?');
  if (start < 0) return out;
  const end = path.indexOf('#', start);
  for (const part of path.slice(start + 1, end < 0 ? undefined : end).split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decode(eq < 0 ? part : part.slice(0, eq));
    if (!out.has(name)) out.set(name, eq < 0 ? '' : decode(part.slice(eq + 1)));
  }
  return out;
}

/** Drops every `param=...` from the query string, leaving the other parameters as they were written. */
function removeParam(request: RequestHead, param: string): void {
  const path = request.path;
  const start = path.indexOf('?');
  if (start < 0) return;
  const hash = path.indexOf('#', start);
  const end = hash < 0 ? path.length : hash;
  const kept = path.slice(start + 1, end).split('&').filter((part) => {
    const eq = part.indexOf('=');
    return decode(eq < 0 ? part : part.slice(0, eq)) !== param;
  });
  request.path = path.slice(0, start) + (kept.length > 0 ? `?${kept.join('&')}` : '') + path.slice(end);
}

/** Cookies by name (the first of a name wins), a value's surrounding quotes removed. */
function cookies(header: string | string[] | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (header === undefined) return out;
  for (const pair of (Array.isArray(header) ? header.join('; ') : header).split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const name = pair.slice(0, eq).trim();
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (!out.has(name)) out.set(name, value);
  }
  return out;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
