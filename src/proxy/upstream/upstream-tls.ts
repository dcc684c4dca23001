import { UPSTREAM_TLS_CONTEXT_TYPE } from '../../xds/envoy/index.ts';
import {
  checkFields, checkSecureContext, object, optionalString, parseCommonTlsContext, SecureContextSource,
  type PeerVerification, type Problem, type ReadFile,
} from '../security/tls-context.ts';
import type { SecretLookup } from '../security/secret-store.ts';

/**
 * Envoy's UpstreamTlsContext, checked when CDS delivers it and turned into what a connection
 * needs: a secure context (CA, client certificate, CRL, versions, ciphers; from SDS secrets too),
 * the SNI, ALPN, and the checks made on the server's certificate once the handshake is done.
 */

/** How connections to a host are carried. */
export type UpstreamTransportSocket =
  | { readonly kind: 'raw' }
  | { readonly kind: 'tls'; readonly tls: UpstreamTls }
  /** Accepted config that cannot be served: connections fail (503 UF) with `reason`. */
  | { readonly kind: 'unavailable'; readonly reason: string };

export const RAW_TRANSPORT: UpstreamTransportSocket = { kind: 'raw' };

export interface UpstreamTls {
  /** The secure context of a new connection, or why there is none yet (an SDS secret not delivered). */
  readonly context: SecureContextSource;
  /** The SNI sent, unless auto SNI takes it from the request. */
  readonly sni: string | undefined;
  /** ALPN as configured; empty lets the connection's HTTP protocol choose (`h2`, `http/1.1`). */
  readonly alpn: readonly string[];
  readonly verify: PeerVerification;
}

const UPSTREAM_FIELDS = new Set(['@type', 'commonTlsContext', 'sni', 'allowRenegotiation', 'maxSessionKeys', 'enforceRsaKeyUsage']);

type Json = Readonly<Record<string, unknown>>;

/**
 * Checks an UpstreamTlsContext (the typed config of an `envoy.transport_sockets.tls` socket),
 * reading the files it names. Secrets it names over SDS are read from `secrets` for each new
 * connection; without a secret store, such a socket is accepted but `unavailable`.
 */
export function parseUpstreamTlsContext(raw: Json, at: string, readFile: ReadFile, problem: Problem, secrets?: SecretLookup): UpstreamTransportSocket | undefined {
  let problems = 0;
  const report: Problem = (field, message) => {
    problems++;
    problem(field, message);
  };
  if (raw['@type'] !== UPSTREAM_TLS_CONTEXT_TYPE) {
    report(`${at}.@type`, `must be ${UPSTREAM_TLS_CONTEXT_TYPE} (got ${String(raw['@type'])})`);
    return undefined;
  }
  checkFields(raw, at, UPSTREAM_FIELDS, {}, report);
  const sni = optionalString(raw['sni'], `${at}.sni`, report);
  if (sni !== undefined && sni.length > 255) report(`${at}.sni`, 'must be at most 255 bytes');
  const common = parseCommonTlsContext(raw['commonTlsContext'], `${at}.commonTlsContext`, 'client', readFile, report);
  if (problems === 0) checkSecureContext(common, `${at}.commonTlsContext`, report);
  if (problems > 0) return undefined;
  const context = new SecureContextSource(common, secrets);
  if (secrets === undefined && context.secretNames.length > 0) {
    return { kind: 'unavailable', reason: `SDS secrets are not available here (this TLS context needs ${context.secretNames.map((name) => `"${name}"`).join(', ')})` };
  }
  return { kind: 'tls', tls: { context, sni: sni === '' ? undefined : sni, alpn: common.alpn, verify: common.verify } };
}
