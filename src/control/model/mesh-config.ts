/** Mesh-wide settings (Istio's MeshConfig), with Istio's defaults. */
export interface MeshConfig {
  readonly rootNamespace: string;
  readonly trustDomain: string;
  readonly clusterDomain: string;
  readonly outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  /** TCP connect timeout, in Envoy's duration form. */
  readonly connectTimeout: string;
  readonly enableAutoMtls: boolean;
  /** meshConfig.defaultHttpRetryPolicy: attempts 0 turns default retries off. */
  readonly defaultHttpRetryPolicy: { readonly attempts: number; readonly retryOn: string };
  readonly ingressGatewayLabels: Readonly<Record<string, string>>;
}

export const DEFAULT_MESH_CONFIG: MeshConfig = {
  rootNamespace: 'istio-system',
  trustDomain: 'cluster.local',
  clusterDomain: 'cluster.local',
  outboundTrafficPolicy: 'ALLOW_ANY',
  connectTimeout: '10s',
  enableAutoMtls: true,
  defaultHttpRetryPolicy: { attempts: 2, retryOn: 'connect-failure,refused-stream,unavailable,cancelled,503' },
  ingressGatewayLabels: { istio: 'ingressgateway' },
};
