export { JwtAuthnFilterFactory, type JwtAuthnFilterOptions } from './jwt-authn-filter.ts';
export {
  JWT_AUTHN_FILTER, JWT_AUTHN_PER_ROUTE_TYPE, JWT_AUTHN_TYPE, JwtPerRouteConfig, parseJwtAuthentication, parseJwtPerRoute,
  type JwtAuthnConfig, type JwtProvider, type JwtRequirement,
} from './jwt-authn-config.ts';
export type { FetchJwks } from './jwks-source.ts';
export { JWT_STATUS_MESSAGES, type JwtStatus } from './jwt-status.ts';
