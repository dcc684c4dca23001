export {
  authorizationHttpFilters, authorizationNetworkFilters, DRY_RUN_ANNOTATION,
  type AuthorizationHttpFilters, type AuthorizationInput,
} from './authorization.ts';
export { jwtAuthnFilters, UNRESOLVED_JWKS, type JwtAuthnFilters, type JwtAuthnInput } from './jwt-authn.ts';
export { pathNormalizationOptions, type PathNormalizationOptions } from './path-normalization.ts';
export { AUTHN_METADATA_FILTER } from './rbac-policy.ts';
export * from './rbac-config.ts';
export * from './ext-authz-config.ts';
export * from './jwt-authn-config.ts';
