import type { Labels } from './labels.ts';
import type { WorkloadPort } from './workload.ts';

/**
 * How the workload's traffic reaches its sidecar (Istio's INTERCEPTION_MODE): REDIRECT (iptables
 * sends it to 15001 and 15006), or NONE (nothing is captured: the sidecar binds the workload's
 * ports itself and the app sends its outbound requests to the sidecar as to an HTTP proxy, which
 * is Weft's local explicit mode).
 */
export type InterceptionMode = 'REDIRECT' | 'NONE';

/** In local explicit mode: a port of the sidecar's address that stands for one service port, for apps that do not use HTTP_PROXY. */
export interface LocalServicePort {
  readonly localPort: number;
  readonly hostname: string;
  readonly port: number;
}

/** In local mode: the app serves the workload's `port` at `127.0.0.1:<appPort>`, since replicas share the host. */
export interface AppPort {
  readonly port: number;
  readonly appPort: number;
}

/**
 * What the control plane knows of a connected proxy, read from its xDS node (id and metadata),
 * in Istio's conventions: node id `sidecar~10.0.0.1~reviews-v1-1.default~default.svc.cluster.local`
 * (or `router~...` for gateways), metadata NAMESPACE, LABELS, SERVICE_ACCOUNT, WORKLOAD_NAME,
 * INSTANCE_IPS, POD_PORTS, GENERATOR (`grpc` for proxyless gRPC clients), ISTIO_VERSION,
 * INTERCEPTION_MODE, and Weft's APP_PORTS and LOCAL_SERVICE_PORTS (local mode).
 */
export interface ProxyView {
  readonly id: string;
  readonly kind: 'sidecar' | 'router';
  /** Who consumes the config: an Envoy-shaped proxy, or a proxyless gRPC client. */
  readonly generator: 'envoy' | 'grpc';
  readonly namespace: string;
  readonly labels: Labels;
  readonly serviceAccount: string;
  readonly workloadName: string;
  readonly ipAddresses: readonly string[];
  /** The workload's own ports, for inbound listeners and clusters. */
  readonly ports: readonly WorkloadPort[];
  readonly locality: string;
  readonly version: string;
  readonly interceptionMode: InterceptionMode;
  /** Where the app serves each workload port when not at `127.0.0.1:<port>`; empty but in local mode. */
  readonly appPorts: readonly AppPort[];
  /** In local explicit mode: the service ports the sidecar also serves on ports of its own address. */
  readonly localServicePorts: readonly LocalServicePort[];
}
