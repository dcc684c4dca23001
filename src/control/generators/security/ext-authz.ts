import { HTTP_STATUS_CODE_NAMES, type MetadataMatcher } from '../../../xds/envoy/index.ts';
import type { EnvoyExtAuthzHttpProvider } from '../../model/mesh-config.ts';
import { outboundClusterName } from '../cluster-name.ts';
import { EXT_AUTHZ_TYPE, type ExtAuthz, type ListStringMatcher } from './ext-authz-config.ts';
import { HTTP_RBAC_FILTER } from './rbac-config.ts';

/** The RBAC shadow rules of CUSTOM policies write their results under keys with this prefix. */
export const EXT_AUTHZ_SHADOW_STAT_PREFIX = 'istio_ext_authz_';

/** CUSTOM policies' RBAC names start with this, so that ext_authz checks only requests they match. */
export const EXT_AUTHZ_POLICY_PREFIX = 'istio-ext-authz';

/** Istio's placeholder: the real limit belongs in a DestinationRule for the service. */
const DEFAULT_TIMEOUT = '600s';

/**
 * The ext_authz filter for an HTTP extension provider, as Istio builds it
 * (pilot/pkg/security/authz/builder/extauthz.go): it checks a request only when the CUSTOM
 * policies' shadow RBAC matched it, which it reads from the RBAC filter's dynamic metadata.
 */
export function extAuthzHttpConfig(provider: EnvoyExtAuthzHttpProvider): ExtAuthz {
  // `[<namespace>/]<hostname>`: the namespace only disambiguates in Istio's registry lookup.
  const hostname = provider.service.slice(provider.service.indexOf('/') + 1);
  const status = provider.statusOnError !== undefined ? Number(provider.statusOnError) : undefined;
  const additional = Object.keys(provider.includeAdditionalHeadersInCheck ?? {}).sort();
  const upstream = headerList(provider.headersToUpstreamOnAllow);
  const client = headerList(provider.headersToDownstreamOnDeny);
  const allowed = headerList(provider.includeRequestHeadersInCheck);
  return {
    '@type': EXT_AUTHZ_TYPE,
    httpService: {
      serverUri: { uri: `http://${hostname}`, cluster: outboundClusterName(provider.port, undefined, hostname), timeout: provider.timeout ?? DEFAULT_TIMEOUT },
      ...(provider.pathPrefix !== undefined ? { pathPrefix: provider.pathPrefix } : {}),
      ...(additional.length > 0 ? { authorizationRequest: { headersToAdd: additional.map((key) => ({ key, value: provider.includeAdditionalHeadersInCheck![key]! })) } } : {}),
      ...(upstream !== undefined || client !== undefined
        ? { authorizationResponse: { ...(upstream !== undefined ? { allowedUpstreamHeaders: upstream } : {}), ...(client !== undefined ? { allowedClientHeaders: client } : {}) } }
        : {}),
    },
    transportApiVersion: 'V3',
    ...(provider.failOpen === true ? { failureModeAllow: true } : {}),
    ...(status !== undefined ? { statusOnError: { code: HTTP_STATUS_CODE_NAMES[status] ?? status } } : {}),
    filterEnabledMetadata: customPolicyMatched(),
    ...(allowed !== undefined ? { allowedHeaders: allowed } : {}),
    ...(provider.includeRequestBodyInCheck !== undefined ? { withRequestBody: provider.includeRequestBodyInCheck } : {}),
  };
}

/** True when a CUSTOM policy's shadow rule matched the request. */
function customPolicyMatched(): MetadataMatcher {
  return {
    filter: HTTP_RBAC_FILTER,
    path: [{ key: `${EXT_AUTHZ_SHADOW_STAT_PREFIX}shadow_effective_policy_id` }],
    value: { stringMatch: { prefix: EXT_AUTHZ_POLICY_PREFIX } },
  };
}

/** Header names by Istio's rules (`abc`, `abc*`, `*abc`), ignoring case. */
function headerList(headers: readonly string[] | undefined): ListStringMatcher | undefined {
  if (headers === undefined || headers.length === 0) return undefined;
  return {
    patterns: headers.map((h) => (h.startsWith('*') ? { suffix: h.slice(1), ignoreCase: true } : h.endsWith('*') ? { prefix: h.slice(0, -1), ignoreCase: true } : { exact: h, ignoreCase: true })),
  };
}
