export { RbacNetworkFilterFactory } from './rbac-network-filter.ts';
export { parseRbacNetworkFilter, RBAC_NETWORK_FILTER_NAME, RBAC_NETWORK_TYPE, type RbacNetworkSettings } from './rbac-network-settings.ts';
