/** The type URLs of the resources exchanged over ADS. */
export const TypeUrl = {
  Listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  RouteConfiguration: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  Cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  ClusterLoadAssignment: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  Secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
} as const;

export type TypeUrl = (typeof TypeUrl)[keyof typeof TypeUrl];

export const TYPE_URL_PREFIX = 'type.googleapis.com/';

/** The short names istioctl and Envoy's stats use for each type. */
export const TYPE_SHORT_NAME: Readonly<Record<TypeUrl, string>> = {
  [TypeUrl.Listener]: 'LDS',
  [TypeUrl.RouteConfiguration]: 'RDS',
  [TypeUrl.Cluster]: 'CDS',
  [TypeUrl.ClusterLoadAssignment]: 'EDS',
  [TypeUrl.Secret]: 'SDS',
};

/** The order in which a client should apply types so that nothing refers to what it lacks (CDS, EDS, LDS, RDS, SDS). */
export const TYPE_ORDER: readonly TypeUrl[] = [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration, TypeUrl.Secret];

export function typeNameOf(typeUrl: string): string {
  return typeUrl.startsWith(TYPE_URL_PREFIX) ? typeUrl.slice(TYPE_URL_PREFIX.length) : typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}

export function isTypeUrl(value: string): value is TypeUrl {
  return (Object.values(TypeUrl) as string[]).includes(value);
}
