import { HTTP_CONNECTION_MANAGER_TYPE, type Listener } from '../../xds/envoy/index.ts';
import { ADS_CONFIG_SOURCE, routerFilter } from './listener-filters.ts';
import type { GrpcTarget } from './route-grpc.ts';

/**
 * The listener a proxyless gRPC client asks for when it dials a target: an API listener whose
 * connection manager names the route configuration of the same name, fetched over ADS, with only
 * the router filter (grpc-js refuses a filter it does not implement).
 */
export function grpcListener(target: GrpcTarget): Listener {
  return {
    name: target.name,
    apiListener: {
      apiListener: {
        '@type': HTTP_CONNECTION_MANAGER_TYPE,
        rds: { configSource: ADS_CONFIG_SOURCE, routeConfigName: target.name },
        httpFilters: [routerFilter()],
      },
    },
  };
}
