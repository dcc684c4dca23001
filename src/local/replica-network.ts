/**
 * Where a local replica lives on the network and how its traffic reaches its sidecar: the one
 * thing that differs between explicit mode (a loopback address, the app on free ports, HTTP_PROXY)
 * and transparent mode (a network namespace with iptables capture, as a pod).
 */
export interface ReplicaNetwork {
  readonly mode: 'explicit' | 'transparent';
  /**
   * A place for the replica `<namespace>.<podName>` (the same address again for a key it already
   * placed), given the ports it declares and the service ports it may call.
   */
  place(key: string, podName: string, declaredPorts: readonly number[], services: readonly ServicePortRef[]): Promise<ReplicaPlacement>;
  /** Where the ingress gateway's own ports (admin, health, Prometheus) are, on an address of its own. */
  gateway(): Promise<ProxyAddresses>;
  /** Tells the network the services' names and addresses changed (transparent mode's hosts files). */
  servicesChanged(): Promise<void>;
  close(): Promise<void>;
}

/** A service port a replica may call: `reviews` in `default`, `reviews.default.svc.cluster.local:9080`. */
export interface ServicePortRef {
  readonly name: string;
  readonly namespace: string;
  readonly hostname: string;
  readonly port: number;
}

/** A proxy's address and where its admin (Envoy's 15000), health (15021) and Prometheus (15090) ports are. */
export interface ProxyAddresses {
  readonly address: string;
  readonly admin: string;
  readonly health: string;
  readonly stats: string;
}

/** The usual ports of a proxy with an address of its own. */
export function ownAddress(address: string): ProxyAddresses {
  return { address, admin: `${address}:15000`, health: `${address}:15021`, stats: `${address}:15090` };
}

export interface ReplicaPlacement {
  /** The replica's IP: its endpoints are `<address>:<declared port>`, or its hostPorts. */
  readonly address: string;
  /** The sidecar's own ports. */
  readonly proxy: ProxyAddresses;
  /** Declared port → where it is reached on `address` when several replicas share it (Kubernetes' hostPort). */
  readonly hostPorts: ReadonlyMap<number, number>;
  /** More flags for the sidecar's `weft proxy` (`--port-map` where its ports must move). */
  readonly proxyArgs: readonly string[];
  /** Declared port → the port the app listens on (the same in transparent mode). */
  readonly appPorts: ReadonlyMap<number, number>;
  /** Where the readiness probe connects to reach the app's ports (in `appPorts`). */
  readonly probeHost: string;
  /** Variables the app needs to reach its sidecar. */
  readonly appEnv: Readonly<Record<string, string>>;
  /** Node metadata the sidecar needs (INTERCEPTION_MODE, APP_PORTS). */
  readonly proxyMetadata: Readonly<Record<string, string>>;
  /** The argv that runs a program in the replica's place (the proxy as the identity the capture rules exclude). */
  command(program: string, args: readonly string[], role: 'app' | 'proxy'): { command: string; args: string[] };
  /** Gives the place back once the replica's processes have stopped. */
  release(): Promise<void>;
}
