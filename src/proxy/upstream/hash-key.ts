import { isIPv6 } from 'node:net';
import { parseDuration } from '../../core/index.ts';
import type { HashPolicy } from '../../xds/envoy/index.ts';
import type { DownstreamInfo, RequestHead } from '../http/exchange.ts';
import { xxHash64 } from './xx-hash64.ts';

/**
 * The request hash for ring hash and maglev, from a route's hash policies, with Envoy's semantics:
 * each policy that finds its input hashes it with xxHash64, and the values are combined in order
 * (the previous value rotated left by one bit, then XORed with the next); a `terminal` policy that
 * produced a value ends the list. A policy whose input is absent adds nothing; no value at all
 * leaves the hash undefined, and the balancer picks at random.
 */
export interface RequestHash {
  readonly hash: bigint | undefined;
  /**
   * `Set-Cookie` values the response must carry: a cookie policy with a ttl generates its cookie
   * when the request lacks it, so that the client's next requests hash the same.
   */
  readonly setCookies: readonly string[];
}

/** What of the downstream connection hashing reads. */
export type HashDownstream = Pick<DownstreamInfo, 'remoteAddress' | 'remotePort' | 'localAddress' | 'localPort'>;

type Method =
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'cookie'; readonly name: string; readonly path: string; readonly ttlSeconds: number | undefined }
  | { readonly kind: 'sourceIp' }
  | { readonly kind: 'queryParameter'; readonly name: string }
  | { readonly kind: 'none' };

interface CompiledPolicy {
  readonly method: Method;
  readonly terminal: boolean;
}

const NO_HASH: RequestHash = { hash: undefined, setCookies: [] };
const MASK_64 = (1n << 64n) - 1n;
const compiled = new WeakMap<readonly HashPolicy[], readonly CompiledPolicy[]>();

/** The hash of a request under a route's hash policies (compiled once per policy list). */
export function requestHash(policies: readonly HashPolicy[], head: RequestHead, downstream: HashDownstream): RequestHash {
  if (policies.length === 0) return NO_HASH;
  let list = compiled.get(policies);
  if (list === undefined) {
    list = policies.map(compilePolicy);
    compiled.set(policies, list);
  }
  let hash: bigint | undefined;
  let setCookies: string[] | undefined;
  for (const policy of list) {
    let value: bigint | undefined;
    const method = policy.method;
    switch (method.kind) {
      case 'header':
        value = headerHash(head, method.name);
        break;
      case 'cookie': {
        const cookie = cookieValue(head.headers['cookie'], method.name);
        if (cookie !== undefined && cookie !== '') value = xxHash64(cookie);
        else if (method.ttlSeconds !== undefined) {
          const generated = generatedCookie(method.name, method.path, method.ttlSeconds, downstream);
          (setCookies ??= []).push(generated.setCookie);
          value = xxHash64(generated.value);
        }
        break;
      }
      case 'sourceIp':
        value = downstream.remoteAddress === '' ? undefined : xxHash64(downstream.remoteAddress);
        break;
      case 'queryParameter': {
        const parameter = queryParameter(head.path, method.name);
        value = parameter === undefined ? undefined : xxHash64(parameter);
        break;
      }
      case 'none':
        break;
    }
    if (value !== undefined) hash = hash === undefined ? value : (((hash << 1n) | (hash >> 63n)) & MASK_64) ^ value;
    if (policy.terminal && hash !== undefined) break;
  }
  return hash === undefined && setCookies === undefined ? NO_HASH : { hash, setCookies: setCookies ?? [] };
}

/**
 * The cookie a cookie policy with a ttl sets when the request has none: Envoy's value, the hex
 * xxHash64 of the downstream remote and local addresses (so requests racing on one connection get
 * the same cookie), as `name="value"; Max-Age=ttl; Path=path; HttpOnly`. A ttl of 0 makes a
 * session cookie (no Max-Age).
 */
export function generatedCookie(name: string, path: string, ttlSeconds: number, downstream: HashDownstream): { readonly value: string; readonly setCookie: string } {
  const value = xxHash64(address(downstream.remoteAddress, downstream.remotePort) + address(downstream.localAddress, downstream.localPort))
    .toString(16)
    .padStart(16, '0');
  let setCookie = `${name}="${value}"`;
  if (ttlSeconds > 0) setCookie += `; Max-Age=${ttlSeconds}`;
  if (path !== '') setCookie += `; Path=${path}`;
  return { value, setCookie: `${setCookie}; HttpOnly` };
}

function compilePolicy(policy: HashPolicy): CompiledPolicy {
  const terminal = policy.terminal === true;
  if (policy.header !== undefined) return { method: { kind: 'header', name: policy.header.headerName.toLowerCase() }, terminal };
  if (policy.cookie !== undefined) {
    const { name, path = '', ttl } = policy.cookie;
    const parsed = ttl === undefined ? undefined : parseDuration(ttl);
    const ttlSeconds = parsed?.ok === true ? Math.floor(parsed.value / 1000) : undefined;
    return { method: { kind: 'cookie', name, path, ttlSeconds }, terminal };
  }
  if (policy.connectionProperties?.sourceIp === true) return { method: { kind: 'sourceIp' }, terminal };
  if (policy.queryParameter !== undefined) return { method: { kind: 'queryParameter', name: policy.queryParameter.name }, terminal };
  // filterState: the proxy keeps no filter state to hash.
  return { method: { kind: 'none' }, terminal };
}

/** A header's hash; several values are sorted and chained (each hash seeds the next), so their order does not matter. */
function headerHash(head: RequestHead, name: string): bigint | undefined {
  switch (name) {
    case ':authority':
    case 'host':
      return xxHash64(head.authority);
    case ':path':
      return xxHash64(head.path);
    case ':method':
      return xxHash64(head.method);
    case ':scheme':
      return xxHash64(head.scheme);
  }
  const value = head.headers[name];
  if (value === undefined) return undefined;
  if (typeof value === 'string') return xxHash64(value);
  if (value.length === 0) return undefined;
  let hash: bigint = 0n;
  for (const v of [...value].sort()) hash = xxHash64(v, hash);
  return hash;
}

/** The first cookie of that name in the Cookie header(s), without surrounding quotes. */
function cookieValue(header: string | string[] | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const line of typeof header === 'string' ? [header] : header) {
    for (const part of line.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
      const value = part.slice(eq + 1).trim();
      return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
    }
  }
  return undefined;
}

/** The first value of a query parameter, as written (not percent-decoded, as Envoy hashes it); '' for a bare name. */
function queryParameter(path: string, name: string): string | undefined {
  const question = path.indexOf('?');
  if (question < 0) return undefined;
  const end = path.indexOf('#', question);
  for (const pair of path.slice(question + 1, end < 0 ? undefined : end).split('&')) {
    const eq = pair.indexOf('=');
    if ((eq < 0 ? pair : pair.slice(0, eq)) === name) return eq < 0 ? '' : pair.slice(eq + 1);
  }
  return undefined;
}

function address(ip: string, port: number): string {
  return isIPv6(ip) ? `[${ip}]:${port}` : `${ip}:${port}`;
}
