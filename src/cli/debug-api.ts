/**
 * The JSON the control plane's debug API returns, as far as the CLI reads it. The server's side
 * is src/control/debug/; the HTTP API is the contract between the two.
 */
export type SyncState = 'SYNCED' | 'NOT SENT' | 'STALE' | 'ERROR';

export interface TypeSyncStatus {
  readonly status: SyncState;
  readonly sentVersion?: string;
  readonly ackedVersion?: string;
  readonly error?: string;
}

export interface ProxySyncStatus {
  /** `<workload>.<namespace>`, as istioctl names pods. */
  readonly name: string;
  readonly id: string;
  readonly kind: string;
  readonly cluster: string;
  readonly version: string;
  readonly controlPlane: string;
  readonly types: Readonly<Record<'CDS' | 'LDS' | 'EDS' | 'RDS' | 'SDS', TypeSyncStatus>>;
}

/** Envoy's admin ConfigDump, as the control plane last sent it to one proxy. */
export interface ConfigDump {
  readonly configs: readonly ConfigDumpSection[];
}

export type JsonObject = { readonly [key: string]: unknown };

export type ConfigDumpSection =
  | { readonly '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump'; readonly dynamicActiveClusters?: readonly { readonly versionInfo?: string; readonly cluster: JsonObject }[] }
  | { readonly '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump'; readonly dynamicListeners?: readonly { readonly name: string; readonly activeState?: { readonly versionInfo?: string; readonly listener: JsonObject } }[] }
  | { readonly '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump'; readonly dynamicRouteConfigs?: readonly { readonly versionInfo?: string; readonly routeConfig: JsonObject }[] }
  | { readonly '@type': 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump'; readonly dynamicEndpointConfigs?: readonly { readonly versionInfo?: string; readonly endpointConfig: JsonObject }[] };
