/** Who a caller of the CA is: the Kubernetes-style namespace and service account its identity names. */
export interface WorkloadIdentity {
  readonly namespace: string;
  readonly serviceAccount: string;
}

/**
 * Decides who presented a bearer token, or that nobody known did. Local mode: tokens issued by the
 * control plane to `weft up`'s sidecars (WorkloadTokens); on Kubernetes, service account tokens.
 */
export interface WorkloadTokenAuthenticator {
  authenticate(token: string): WorkloadIdentity | undefined;
}
