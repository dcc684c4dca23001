export type {
  ClusterChoice, HeaderMutation, RequestMirror, RetryCondition, RetryPolicy, RouteAction, RouteEntry, RouteRequest, RouteTable,
} from './route-entry.ts';
export { compileRouteConfiguration, type CompileRouteOptions, type PerFilterConfigParser } from './compile-route-configuration.ts';
export { applyHeaderMutation, NO_HEADER_MUTATION } from './header-mutation.ts';
export { RouteConfigStore, type RouteConfigDump, type RouteConfigStoreOptions, type RouteTableListener } from './route-config-store.ts';
