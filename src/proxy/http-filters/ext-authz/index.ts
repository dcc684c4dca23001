export { ExtAuthzFilterFactory, type ExtAuthzFilterOptions } from './ext-authz-filter.ts';
export {
  EXT_AUTHZ_FILTER, EXT_AUTHZ_PER_ROUTE_TYPE, EXT_AUTHZ_TYPE, ExtAuthzPerRoute, parseExtAuthz, parseExtAuthzPerRoute, type BufferSettings, type ExtAuthzConfig,
} from './ext-authz-config.ts';
export type { AuthzPools } from './http-authz-client.ts';
