import * as z from 'zod';
import { addIssue, ALWAYS, crossField, WorkloadSelector } from '../../schema/common.ts';
import { defineKind, istioObject, ISTIO_SECURITY_GROUP, ISTIO_SECURITY_VERSIONS } from '../kind-definition.ts';

/** UNSET inherits from the namespace or mesh policy (PERMISSIVE when there is none). */
export const MutualTLSMode = z.enum(['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']);
export type MutualTLSMode = z.infer<typeof MutualTLSMode>;

export const MutualTLS = z.strictObject({ mode: MutualTLSMode.optional() });
export type MutualTLS = z.infer<typeof MutualTLS>;

/** Keys are workload (container) ports, written as YAML keys: `"8080": {mode: DISABLE}`. */
const portLevelMtls = z.record(z.string(), MutualTLS).superRefine(crossField((map, ctx) => {
  const ports = Object.keys(map);
  if (ports.length === 0) addIssue(ctx, [], 'portLevelMtls must set at least one port (leave it out otherwise)');
  for (const port of ports) {
    if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) addIssue(ctx, [port], `"${port}" is not a port number (expected 1..65535)`);
  }
}), ALWAYS);

export const PeerAuthenticationSpec = z
  .strictObject({
    selector: WorkloadSelector.optional(),
    mtls: MutualTLS.optional(),
    portLevelMtls: portLevelMtls.optional(),
  })
  .superRefine(crossField((spec, ctx) => {
    const labelCount = Object.keys(spec.selector?.matchLabels ?? {}).length;
    if (spec.portLevelMtls !== undefined && labelCount === 0) {
      addIssue(ctx, ['portLevelMtls'], 'portLevelMtls requires a selector with matchLabels (a namespace- or mesh-wide policy cannot set port-level mTLS)');
    }
  }), ALWAYS);
export type PeerAuthenticationSpec = z.infer<typeof PeerAuthenticationSpec>;

export const PeerAuthenticationKind = defineKind({
  kind: 'PeerAuthentication',
  group: ISTIO_SECURITY_GROUP,
  versions: ISTIO_SECURITY_VERSIONS,
  schema: istioObject(PeerAuthenticationSpec),
});
export type PeerAuthentication = z.infer<typeof PeerAuthenticationKind.schema>;
