/** The reserved gateway name that binds a VirtualService to every sidecar of the mesh. */
export const MESH_GATEWAY = 'mesh';

export interface GatewayName {
  readonly namespace: string;
  readonly name: string;
}

/**
 * What a VirtualService of `namespace` means by a gateway reference: `mesh`, `<name>` (a Gateway
 * of the same namespace) or `<namespace>/<name>`.
 */
export function resolveGatewayReference(reference: string, namespace: string): GatewayName | typeof MESH_GATEWAY {
  if (reference === MESH_GATEWAY) return MESH_GATEWAY;
  const slash = reference.indexOf('/');
  return slash < 0 ? { namespace, name: reference } : { namespace: reference.slice(0, slash), name: reference.slice(slash + 1) };
}

export function formatGatewayName(gateway: GatewayName): string {
  return `${gateway.namespace}/${gateway.name}`;
}
