import { err, ok, type Result } from '../../../core/index.ts';
import type { HttpExchange, HttpFilter, HttpResponse, PeerCertificate } from '../../http/exchange.ts';
import type { HttpFilterFactory } from '../../http/filter-factory.ts';

export const ISTIO_AUTHN_TYPE = 'type.googleapis.com/io.istio.network.authn.Config';
/** The filter's name, which is also the metadata namespace it writes (what Istio's RBAC and routes read). */
export const ISTIO_AUTHN_FILTER = 'istio_authn';
/** Where jwt_authn leaves the verified payloads, by its providers' payloadInMetadata (Istio: the issuer). */
const JWT_AUTHN_NAMESPACE = 'envoy.filters.http.jwt_authn';
const SPIFFE_PREFIX = 'spiffe://';
/** Claims OAuth writes as one space-separated string, which Istio matches word by word. */
const SPACE_DELIMITED_CLAIMS: ReadonlySet<string> = new Set(['scope', 'permission']);

/** The config is empty; `shared` (a connection-level detail of Istio's network filter) is accepted and changes nothing. */
export interface IstioAuthnConfig {
  readonly shared: boolean;
}

/**
 * `istio_authn`: turns what authentication established into the attributes Istio's policies
 * read, in metadata namespace `istio_authn`, and never refuses a request. Placed after
 * jwt_authn, it takes the payload jwt_authn verified (when there are several, the one whose
 * metadata key, the issuer in Istio's config, sorts first) and writes `request.auth.principal`
 * (`<iss>/<sub>`, when both are there), `request.auth.audiences` (`aud` as a list),
 * `request.auth.presenter` (`azp`) and `request.auth.claims`: each string claim as a one-element
 * list (`scope` and `permission` split into their words), lists keeping their strings, objects
 * kept as nested records so that a path [request.auth.claims, a, b] reaches `a.b`; numbers and
 * booleans are left out. It then matches the route again, for routes that match on claims.
 * From a mutual-TLS peer's SPIFFE certificate it writes `source.principal`
 * (`cluster.local/ns/foo/sa/bar`) and `source.namespace` (`foo`).
 */
export class IstioAuthnFilterFactory implements HttpFilterFactory<IstioAuthnConfig> {
  readonly typeUrl = ISTIO_AUTHN_TYPE;

  parse(config: Readonly<Record<string, unknown>>): Result<IstioAuthnConfig, string> {
    const problems: string[] = [];
    for (const field of Object.keys(config)) {
      if (field !== '@type' && field !== 'shared') problems.push(`${field}: is not a field of io.istio.network.authn.Config (which has only shared)`);
    }
    if (config['@type'] !== undefined && config['@type'] !== ISTIO_AUTHN_TYPE) problems.push(`@type: ${JSON.stringify(config['@type'])} is not ${ISTIO_AUTHN_TYPE}`);
    const shared = config['shared'] ?? false;
    if (typeof shared !== 'boolean') problems.push(`shared: ${JSON.stringify(shared)} is not true or false`);
    return problems.length > 0 ? err(problems.join('\n')) : ok({ shared: shared === true });
  }

  create(): HttpFilter {
    return new IstioAuthnFilter();
  }
}

class IstioAuthnFilter implements HttpFilter {
  handle(exchange: HttpExchange, next: () => Promise<HttpResponse>): Promise<HttpResponse> {
    const attributes: Record<string, unknown> = {};
    const peer = peerIdentity(exchange.downstream.tls?.peerCertificate);
    if (peer !== undefined) {
      attributes['source.principal'] = peer.principal;
      if (peer.namespace !== undefined) attributes['source.namespace'] = peer.namespace;
    }
    const payload = firstPayload(exchange.metadata.get(JWT_AUTHN_NAMESPACE));
    if (payload !== undefined) Object.assign(attributes, requestAuth(payload));
    if (Object.keys(attributes).length > 0) exchange.metadata.set(ISTIO_AUTHN_FILTER, { ...exchange.metadata.get(ISTIO_AUTHN_FILTER), ...attributes });
    if (payload !== undefined) exchange.clearRouteCache();
    return next();
  }
}

/** The principal of the first SPIFFE URI SAN (the id without `spiffe://`) and the namespace in it. */
function peerIdentity(certificate: PeerCertificate | undefined): { readonly principal: string; readonly namespace: string | undefined } | undefined {
  const san = certificate?.uriSans.find((uri) => uri.startsWith(SPIFFE_PREFIX));
  if (san === undefined) return undefined;
  const principal = san.slice(SPIFFE_PREFIX.length);
  return { principal, namespace: /^[^/]+\/ns\/([^/]+)\//.exec(principal)?.[1] };
}

function firstPayload(payloads: Readonly<Record<string, unknown>> | undefined): Readonly<Record<string, unknown>> | undefined {
  if (payloads === undefined) return undefined;
  for (const key of Object.keys(payloads).sort()) {
    const payload = payloads[key];
    if (isRecord(payload)) return payload;
  }
  return undefined;
}

function requestAuth(payload: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const { iss, sub, aud, azp } = payload;
  if (typeof iss === 'string' && iss !== '' && typeof sub === 'string' && sub !== '') out['request.auth.principal'] = `${iss}/${sub}`;
  if (typeof aud === 'string') out['request.auth.audiences'] = [aud];
  else if (Array.isArray(aud)) out['request.auth.audiences'] = aud.filter((a) => typeof a === 'string');
  if (typeof azp === 'string') out['request.auth.presenter'] = azp;
  out['request.auth.claims'] = claims(payload);
  return out;
}

function claims(payload: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(payload)) {
    if (typeof value === 'string') out[name] = SPACE_DELIMITED_CLAIMS.has(name) ? value.split(' ').filter((word) => word !== '') : [value];
    else if (Array.isArray(value)) out[name] = value.filter((item) => typeof item === 'string');
    else if (isRecord(value)) out[name] = claims(value);
  }
  return out;
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
