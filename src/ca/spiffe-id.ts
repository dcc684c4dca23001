import { err, ok, type Result } from '../core/index.ts';

export interface WorkloadIdentity {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

// The SPIFFE spec's trust-domain and path-segment alphabets; Kubernetes names fit inside them.
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;
const MAX_ID_LENGTH = 2048;

/** `spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>`. */
export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** Reads an Istio workload id; anything else (other paths, ports, queries, odd characters) is refused with the reason. */
export function parseSpiffeId(uri: string): Result<WorkloadIdentity, string> {
  if (uri.length > MAX_ID_LENGTH) return err(`SPIFFE id is longer than ${MAX_ID_LENGTH} characters`);
  if (!uri.startsWith('spiffe://')) return err(`"${uri}" is not a SPIFFE id (expected spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>)`);
  const rest = uri.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  if (!TRUST_DOMAIN.test(trustDomain)) {
    return err(`"${uri}" has trust domain "${trustDomain}"; a trust domain is lowercase letters, digits, ".", "-" and "_"`);
  }
  const segments = slash === -1 ? [] : rest.slice(slash + 1).split('/');
  if (segments.length !== 4 || segments[0] !== 'ns' || segments[2] !== 'sa') {
    return err(`"${uri}" does not have the path /ns/<namespace>/sa/<service-account>`);
  }
  const namespace = segments[1]!;
  const serviceAccount = segments[3]!;
  for (const [what, value] of [['namespace', namespace], ['service account', serviceAccount]] as const) {
    if (!SEGMENT.test(value) || value === '.' || value === '..') {
      return err(`"${uri}" has ${what} "${value}"; it must be letters, digits, ".", "-" and "_", and not "." or ".."`);
    }
  }
  return ok({ trustDomain, namespace, serviceAccount });
}
