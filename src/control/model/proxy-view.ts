import type { Labels } from './labels.ts';
import type { WorkloadPort } from './workload.ts';

/**
 * What the control plane knows of a connected proxy, read from its xDS node (id and metadata),
 * in Istio's conventions: node id `sidecar~10.0.0.1~reviews-v1-1.default~default.svc.cluster.local`
 * (or `router~...` for gateways), metadata NAMESPACE, LABELS, SERVICE_ACCOUNT, WORKLOAD_NAME,
 * INSTANCE_IPS, POD_PORTS, GENERATOR (`grpc` for proxyless gRPC clients), ISTIO_VERSION.
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
}
