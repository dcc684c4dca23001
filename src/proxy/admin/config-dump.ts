import type { ProtoJson } from '../../xds/index.ts';

/**
 * Envoy's admin ConfigDump (`envoy.admin.v3.ConfigDump`), in proto3 JSON form as the rest of Weft
 * writes it (camelCase): `configs` holds one section per part of the proxy, each an `Any` whose
 * `@type` names the section.
 */
export const ConfigDumpType = {
  Bootstrap: 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump',
  Clusters: 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
  Endpoints: 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump',
  Listeners: 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
  ScopedRoutes: 'type.googleapis.com/envoy.admin.v3.ScopedRoutesConfigDump',
  Routes: 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
  Secrets: 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump',
} as const;

export type ConfigDumpType = (typeof ConfigDumpType)[keyof typeof ConfigDumpType];

/** The order Envoy lists sections in. */
export const CONFIG_DUMP_ORDER: readonly ConfigDumpType[] = [
  ConfigDumpType.Bootstrap,
  ConfigDumpType.Clusters,
  ConfigDumpType.Endpoints,
  ConfigDumpType.Listeners,
  ConfigDumpType.ScopedRoutes,
  ConfigDumpType.Routes,
  ConfigDumpType.Secrets,
];

/** A resource as Envoy dumps it: the message as an `Any` (`{"@type": ..., ...fields}`). */
export type TypedResource = ProtoJson & { readonly '@type': string };

export interface BootstrapConfigDump {
  readonly '@type': typeof ConfigDumpType.Bootstrap;
  readonly bootstrap: ProtoJson;
  /** RFC 3339. */
  readonly lastUpdated?: string;
}

export interface ClustersConfigDump {
  readonly '@type': typeof ConfigDumpType.Clusters;
  readonly versionInfo?: string;
  readonly staticClusters?: readonly { readonly cluster: TypedResource; readonly lastUpdated?: string }[];
  readonly dynamicActiveClusters?: readonly { readonly versionInfo?: string; readonly cluster: TypedResource; readonly lastUpdated?: string }[];
  readonly dynamicWarmingClusters?: readonly { readonly versionInfo?: string; readonly cluster: TypedResource; readonly lastUpdated?: string }[];
}

export interface EndpointsConfigDump {
  readonly '@type': typeof ConfigDumpType.Endpoints;
  readonly dynamicEndpointConfigs?: readonly { readonly versionInfo?: string; readonly endpointConfig: TypedResource; readonly lastUpdated?: string }[];
}

export interface ListenerState {
  readonly versionInfo?: string;
  readonly listener: TypedResource;
  readonly lastUpdated?: string;
}

export interface ListenersConfigDump {
  readonly '@type': typeof ConfigDumpType.Listeners;
  readonly versionInfo?: string;
  readonly dynamicListeners?: readonly {
    readonly name: string;
    readonly activeState?: ListenerState;
    readonly warmingState?: ListenerState;
    readonly drainingState?: ListenerState;
    readonly errorState?: { readonly failedConfiguration?: TypedResource; readonly lastUpdateAttempt?: string; readonly details?: string };
  }[];
}

export interface RoutesConfigDump {
  readonly '@type': typeof ConfigDumpType.Routes;
  readonly dynamicRouteConfigs?: readonly { readonly versionInfo?: string; readonly routeConfig: TypedResource; readonly lastUpdated?: string }[];
}

export interface SecretsConfigDump {
  readonly '@type': typeof ConfigDumpType.Secrets;
  /** Private keys are written as "[redacted]", as Envoy does. */
  readonly dynamicActiveSecrets?: readonly { readonly name: string; readonly versionInfo?: string; readonly secret: TypedResource; readonly lastUpdated?: string }[];
}

export type ConfigDumpSection = BootstrapConfigDump | ClustersConfigDump | EndpointsConfigDump | ListenersConfigDump | RoutesConfigDump | SecretsConfigDump;

export interface ConfigDump {
  readonly configs: readonly ConfigDumpSection[];
}

/** A part of the proxy that can show its config: the bootstrap, each xDS type's handler. */
export interface ConfigDumpSource {
  dump(): ConfigDumpSection;
}

/**
 * The sections of every source in Envoy's order; endpoints only when asked (`?include_eds`), as
 * Envoy leaves them out by default.
 */
export function buildConfigDump(sources: readonly ConfigDumpSource[], options: { readonly includeEndpoints: boolean }): ConfigDump {
  const sections = sources.map((source) => source.dump()).filter((section) => options.includeEndpoints || section['@type'] !== ConfigDumpType.Endpoints);
  const rank = (section: ConfigDumpSection): number => CONFIG_DUMP_ORDER.indexOf(section['@type']);
  return { configs: sections.map((section, index) => ({ section, index })).sort((a, b) => rank(a.section) - rank(b.section) || a.index - b.index).map(({ section }) => section) };
}
