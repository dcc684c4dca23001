import type { Filter, HttpFilter } from '../../xds/envoy/index.ts';
import type { ProxyView } from '../model/index.ts';
import type { MeshSnapshot } from '../snapshot/index.ts';
import type { InboundSecurity } from './listener-inbound.ts';
import { authorizationHttpFilters, authorizationNetworkFilters, jwtAuthnFilters, pathNormalizationOptions, type PathNormalizationOptions } from './security/index.ts';

/**
 * What a proxy's policies put in front of its workload, in Istio's order: CUSTOM authorization,
 * then JWT authentication (and Istio's authn filter that names the request principal), then the
 * AUDIT, DENY and ALLOW RBAC filters; on TCP chains the network RBAC filters.
 */
export function securityFilters(proxy: ProxyView, snapshot: MeshSnapshot, edge: boolean): { readonly http: readonly HttpFilter[]; readonly tcp: readonly Filter[] } {
  const input = {
    policies: snapshot.authorizationPoliciesFor(proxy.namespace, proxy.labels),
    trustDomain: snapshot.mesh.trustDomain,
    extensionProviders: snapshot.mesh.extensionProviders,
  };
  const authorization = authorizationHttpFilters(input);
  const jwt = jwtAuthnFilters({
    requestAuthentications: snapshot.requestAuthenticationsFor(proxy.namespace, proxy.labels),
    jwks: (uri) => snapshot.jwks(uri),
    clearRouteCache: edge,
  });
  return { http: [...authorization.custom, ...jwt.filters, ...authorization.rbac], tcp: authorizationNetworkFilters(input) };
}

/** A sidecar's inbound side: its mTLS modes and the security filters of each chain. */
export function inboundSecurity(proxy: ProxyView, snapshot: MeshSnapshot): InboundSecurity {
  return {
    peerAuthentication: snapshot.peerAuthenticationFor(proxy.namespace, proxy.labels),
    filters: securityFilters(proxy, snapshot, false),
    pathNormalization: meshPathNormalization(snapshot),
  };
}

/** How connection managers that enforce policies normalize paths (meshConfig.pathNormalization). */
export function meshPathNormalization(snapshot: MeshSnapshot): PathNormalizationOptions {
  return pathNormalizationOptions(snapshot.mesh.pathNormalization);
}
