import type { Resource } from '../../../config/index.ts';
import type { JWTRule } from '../../../config/kinds/security/request-authentication.ts';
import type { HttpFilter } from '../../../xds/envoy/index.ts';
import {
  ISTIO_AUTHN_FILTER, ISTIO_AUTHN_TYPE, JWT_AUTHN_FILTER, JWT_AUTHN_TYPE,
  type IstioAuthn, type JwtAuthentication, type JwtProvider, type JwtRequirement,
} from './jwt-authn-config.ts';

/**
 * RequestAuthentications as Istio compiles them (pilot/pkg/security/authn/policy_applier.go): the
 * JWT filter, with one provider per JWT rule, then Istio's authn filter, which records the
 * verified token as `request.auth.*` metadata for AuthorizationPolicies. A request with an invalid
 * token is refused (401); one without a token passes, unauthenticated, for AuthorizationPolicies
 * to decide.
 */

export interface JwtAuthnInput {
  /** Those that apply to the workload (see SecurityPolicyIndex), in a stable order. */
  readonly requestAuthentications: readonly Resource<'RequestAuthentication'>[];
  /** The key set fetched from a `jwksUri` (JwksResolver.get), or undefined while it is not. */
  readonly jwks: (uri: string) => string | undefined;
  /** True for gateways, whose routes may match on claims (Istio sets it for every proxy but sidecars). */
  readonly clearRouteCache: boolean;
}

export interface JwtAuthnFilters {
  /** True when any RequestAuthentication applies, even one without JWT rules. */
  readonly applies: boolean;
  /** The JWT filter then the authn filter, in that order; none when no JWT rule applies. */
  readonly filters: readonly HttpFilter[];
}

/**
 * What a provider is given while its key set is unknown (not fetched yet, or never fetched): a
 * public RSA key whose private half was discarded (Istio's PublicOnlyJwks), so that every token
 * fails rather than passes.
 */
export const UNRESOLVED_JWKS = JSON.stringify({
  keys: [{
    kty: 'RSA',
    e: 'AQAB',
    n: '0xObjM0UvS_oaazjpEYlAbwctEJ4L8pH3OuTb7qth7gUwqet-EzQB4dgFdvSdMgrLnSncQGRjpEYz3F3viIbH-3EN3TxSlPNviHxeOdyiBVfumN8dMxbLvVJUpfNOnvmMxJcl-8NNjAwcOjk4otSALaYgYYyOPyvKtgVdrQr-FoubWX4yrjxW-MJ2-7OBeepUUNOsVwGV23YX03sVkkyvY3otRflkBcY3_HKpBxJl9wk2GyOShN4_PNUF9-vwfnvOXMbCDX-w4PTef4geeb_GiT40YCKHTKMSPVanGRn5GExIWmki-mmqh94-mPTJyBR74ShspL3BxPZitDL574T1w',
  }],
});

/** Claims whose values are space-separated lists in every token (OAuth's `scope`). */
const SPACE_DELIMITED_CLAIMS = ['permission', 'scope'];

/** The JWT rules of every RequestAuthentication, as providers `origins-<i>`, ordered by issuer (stably). */
export function jwtAuthnFilters(input: JwtAuthnInput): JwtAuthnFilters {
  const rules = input.requestAuthentications
    .flatMap((ra) => ra.object.spec.jwtRules ?? [])
    .map((rule, i) => ({ rule, i }))
    .sort((a, b) => compareText(a.rule.issuer ?? '', b.rule.issuer ?? '') || a.i - b.i)
    .map(({ rule }) => rule);
  const applies = input.requestAuthentications.length > 0;
  if (rules.length === 0) return { applies, filters: [] };
  const names = rules.map((_, i) => `origins-${i}`);
  const providers: Record<string, JwtProvider> = {};
  rules.forEach((rule, i) => { providers[names[i]!] = provider(rule, input); });
  const jwt: JwtAuthentication = {
    '@type': JWT_AUTHN_TYPE,
    providers,
    rules: [{ match: { prefix: '/' }, requires: requirement(names) }],
    bypassCorsPreflight: true,
  };
  const authn: IstioAuthn = { '@type': ISTIO_AUTHN_TYPE };
  return { applies, filters: [{ name: JWT_AUTHN_FILTER, typedConfig: jwt }, { name: ISTIO_AUTHN_FILTER, typedConfig: authn }] };
}

function provider(rule: JWTRule, input: JwtAuthnInput): JwtProvider {
  const uri = rule.jwksUri ?? rule.jwks_uri;
  const jwks = rule.jwks ?? (uri !== undefined ? input.jwks(uri) : undefined) ?? UNRESOLVED_JWKS;
  const spaceDelimited = [...new Set([...(rule.spaceDelimitedClaims ?? []), ...SPACE_DELIMITED_CLAIMS])].sort(compareText);
  return {
    ...(rule.issuer !== undefined ? { issuer: rule.issuer } : {}),
    ...(rule.audiences !== undefined && rule.audiences.length > 0 ? { audiences: rule.audiences } : {}),
    localJwks: { inlineString: jwks },
    ...(rule.forwardOriginalToken === true ? { forward: true } : {}),
    ...(rule.outputPayloadToHeader !== undefined && rule.outputPayloadToHeader !== '' ? { forwardPayloadHeader: rule.outputPayloadToHeader } : {}),
    ...(rule.fromHeaders !== undefined ? { fromHeaders: rule.fromHeaders.map((h) => ({ name: h.name, ...(h.prefix !== undefined ? { valuePrefix: h.prefix } : {}) })) } : {}),
    ...(rule.fromParams !== undefined ? { fromParams: rule.fromParams } : {}),
    ...(rule.fromCookies !== undefined ? { fromCookies: rule.fromCookies } : {}),
    ...(rule.outputClaimToHeaders !== undefined ? { claimToHeaders: rule.outputClaimToHeaders.map((c) => ({ headerName: c.header, claimName: c.claim })) } : {}),
    // The authn filter finds the payload under the issuer.
    ...(rule.issuer !== undefined ? { payloadInMetadata: rule.issuer } : {}),
    normalizePayloadInMetadata: { spaceDelimitedClaims: spaceDelimited },
    ...(input.clearRouteCache ? { clearRouteCache: true } : {}),
  };
}

/**
 * A token, when present, must be valid for some provider. With one provider: it, or no token.
 * With several, Istio's form: one of them, or every one of them-or-missing; the first half lets
 * providers that read the same header pass a token meant for any of them.
 */
function requirement(names: readonly string[]): JwtRequirement {
  const orMissing = (name: string): JwtRequirement => ({ requiresAny: { requirements: [{ providerName: name }, { allowMissing: {} }] } });
  if (names.length === 1) return orMissing(names[0]!);
  return {
    requiresAny: {
      requirements: [...names.map((name) => ({ providerName: name })), { requiresAll: { requirements: names.map(orMissing) } }],
    },
  };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
