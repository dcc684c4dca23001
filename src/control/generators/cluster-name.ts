/**
 * Istio's resource names, which users see in proxy-config output, access logs and stats:
 * clusters `outbound|9080|v1|reviews.default.svc.cluster.local` and `inbound|9080||`, the
 * special clusters, and the mTLS SNI `outbound_.9080_.v1_.reviews.default.svc.cluster.local`.
 */
export const BLACK_HOLE_CLUSTER = 'BlackHoleCluster';
export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';
export const INBOUND_PASSTHROUGH_CLUSTER = 'InboundPassthroughCluster';

export function outboundClusterName(port: number, subset: string | undefined, hostname: string): string {
  return `outbound|${port}|${subset ?? ''}|${hostname}`;
}

export function inboundClusterName(port: number): string {
  return `inbound|${port}||`;
}

export interface ParsedClusterName {
  readonly direction: 'outbound' | 'inbound';
  readonly port: number;
  readonly subset: string;
  readonly hostname: string;
}

export function parseClusterName(name: string): ParsedClusterName | undefined {
  const parts = name.split('|');
  if (parts.length !== 4 || (parts[0] !== 'outbound' && parts[0] !== 'inbound')) return undefined;
  const port = Number(parts[1]);
  if (!Number.isInteger(port)) return undefined;
  return { direction: parts[0], port, subset: parts[2]!, hostname: parts[3]! };
}

export function outboundSni(port: number, subset: string | undefined, hostname: string): string {
  return `outbound_.${port}_.${subset ?? ''}_.${hostname}`;
}
