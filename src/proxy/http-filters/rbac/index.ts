export { RBAC_METADATA_NAMESPACE, RBAC_POLICY_HEADER, RbacFilterFactory } from './rbac-filter.ts';
export {
  parseRbacFilter, parseRbacPerRoute, RBAC_HTTP_FILTER_NAME, RBAC_HTTP_TYPE, RBAC_PER_ROUTE_TYPE, RbacPerRoute, type RbacFilterSettings,
} from './rbac-settings.ts';
