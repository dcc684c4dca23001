/** Helpers for the listener and route generators' tests; only tests import this module. */
import { createRequire } from 'node:module';
import { assertValidMessage, packAny, TypeUrl, type ProtoJson } from '../../xds/index.ts';
import type { Listener, RouteConfiguration } from '../../xds/envoy/index.ts';
import type { ProxyView } from '../model/index.ts';
import type { MeshSnapshot } from '../snapshot/index.ts';
import { ListenerGenerator } from './listener-generator.ts';
import { chainAction, selectFilterChain, selectListener, type ChainAction, type SimulatedConnection } from './listener-simulation.ts';
import { RouteGenerator } from './route-generator.ts';
import { simulateRoute, type RouteOutcome, type SimulatedRequest } from './route-simulation.ts';

/** Every listener the proxy gets, each checked against Envoy's Listener message. */
export function listenersFor(proxy: ProxyView, snapshot: MeshSnapshot, names: ReadonlySet<string> | 'all' = 'all'): Listener[] {
  return new ListenerGenerator().generate(proxy, snapshot, names).map((r) => {
    assertValidMessage('envoy.config.listener.v3.Listener', r.resource);
    return r.resource as unknown as Listener;
  });
}

/** The route configurations of those names, each checked against Envoy's RouteConfiguration message. */
export function routeConfigurationsFor(proxy: ProxyView, snapshot: MeshSnapshot, names: ReadonlySet<string> | 'all'): RouteConfiguration[] {
  return new RouteGenerator().generate(proxy, snapshot, names).map((r) => {
    assertValidMessage('envoy.config.route.v3.RouteConfiguration', r.resource);
    return r.resource as unknown as RouteConfiguration;
  });
}

export function routeConfigurationFor(proxy: ProxyView, snapshot: MeshSnapshot, name: string): RouteConfiguration {
  const [config] = routeConfigurationsFor(proxy, snapshot, new Set([name]));
  if (config === undefined) throw new Error(`no route configuration ${name} for ${proxy.id}`);
  return config;
}

export interface HttpRequestTrace {
  readonly listener: string;
  readonly filterChain: string | undefined;
  readonly routeConfiguration: string;
  readonly outcome: RouteOutcome;
}

export interface SimulatedHttpRequest extends SimulatedRequest {
  /** The destination the client connected to: the address (the service's VIP by default) and port. */
  readonly address?: string;
  readonly port: number;
}

/**
 * Where a proxy sends an HTTP request: the listener of the destination, its HTTP chain, the route
 * configuration that chain names, and the route. A proxyless gRPC client looks the listener up
 * by the target's name (`authority`).
 */
export function sendHttp(proxy: ProxyView, snapshot: MeshSnapshot, request: SimulatedHttpRequest): HttpRequestTrace {
  const listeners = listenersFor(proxy, snapshot, proxy.generator === 'grpc' ? new Set([request.authority]) : 'all');
  let listener: Listener | undefined;
  let action: ChainAction | undefined;
  let chainName: string | undefined;
  if (proxy.generator === 'grpc') {
    listener = listeners[0];
    const hcm = listener?.apiListener?.apiListener;
    if (hcm?.rds !== undefined) action = { kind: 'http', rds: hcm.rds.routeConfigName };
  } else {
    const connection: SimulatedConnection = { address: request.address ?? addressOf(snapshot, proxy, request.authority), port: request.port, applicationProtocol: 'http/1.1' };
    listener = selectListener(listeners, connection);
    const chain = listener !== undefined ? selectFilterChain(listener, connection) : undefined;
    chainName = chain?.name;
    action = chain !== undefined ? chainAction(chain) : undefined;
  }
  if (listener === undefined) throw new Error(`no listener takes ${request.authority} port ${request.port}`);
  if (action?.kind !== 'http') throw new Error(`listener ${listener.name} does not route ${request.authority} as HTTP (${JSON.stringify(action)})`);
  const config = action.routeConfig ?? routeConfigurationFor(proxy, snapshot, action.rds!);
  return { listener: listener.name, filterChain: chainName, routeConfiguration: config.name, outcome: simulateRoute(config, request) };
}

/** Where a proxy sends a TCP (or TLS) connection: the listener, its chain, and the chain's clusters. */
export function connectTcp(proxy: ProxyView, snapshot: MeshSnapshot, connection: SimulatedConnection): { listener: string; filterChain: string | undefined; action: ChainAction } {
  const listener = selectListener(listenersFor(proxy, snapshot), connection);
  if (listener === undefined) throw new Error(`no listener takes ${connection.address}:${connection.port}`);
  const chain = selectFilterChain(listener, connection);
  if (chain === undefined) throw new Error(`listener ${listener.name} has no chain for ${JSON.stringify(connection)}`);
  return { listener: listener.name, filterChain: chain.name, action: chainAction(chain) };
}

/** The VIP of the service a Host names (as the client's DNS would resolve it), else an address outside the mesh. */
function addressOf(snapshot: MeshSnapshot, proxy: ProxyView, authority: string): string {
  const host = authority.replace(/:\d+$/, '').toLowerCase();
  const domain = snapshot.mesh.clusterDomain;
  for (const candidate of [host, `${host}.${domain}`, `${host}.svc.${domain}`, snapshot.resolveHost(host, proxy.namespace)]) {
    const address = snapshot.service(candidate)?.address;
    if (address !== undefined) return address;
  }
  return '203.0.113.10';
}

const require = createRequire(import.meta.url);
let grpcRegistered = false;

/** A bootstrap naming the certificate provider `default`, as Istio's agent writes it for proxyless gRPC. */
const GRPC_CONTEXT = { bootstrap: { certificateProviders: { default: {} } }, server: {} };

interface ResourceTypeClass {
  get(): { decode(context: unknown, resource: { type_url: string; value: Uint8Array }): { name: string; error?: string } };
}

/**
 * What @grpc/grpc-js-xds says of a listener or route configuration when it receives it: undefined
 * when it accepts it, else its validation errors (it would NACK the response).
 */
export function grpcRejection(typeUrl: typeof TypeUrl.Listener | typeof TypeUrl.RouteConfiguration, resource: Listener | RouteConfiguration): string | undefined {
  if (!grpcRegistered) {
    // What an application does first; loading the package also sets up the protos its validation decodes with.
    (require('@grpc/grpc-js-xds') as { register(): void }).register();
    grpcRegistered = true;
  }
  const type = typeUrl === TypeUrl.Listener
    ? (require('@grpc/grpc-js-xds/build/src/xds-resource-type/listener-resource-type.js') as { ListenerResourceType: ResourceTypeClass }).ListenerResourceType
    : (require('@grpc/grpc-js-xds/build/src/xds-resource-type/route-config-resource-type.js') as { RouteConfigurationResourceType: ResourceTypeClass }).RouteConfigurationResourceType;
  return type.get().decode(GRPC_CONTEXT, packAny(typeUrl, resource as unknown as ProtoJson)).error;
}
