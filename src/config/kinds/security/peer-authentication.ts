import * as z from 'zod';
import { defineKind, istioObject, ISTIO_SECURITY_GROUP, ISTIO_SECURITY_VERSIONS } from '../kind-definition.ts';

export const PeerAuthenticationSpec = z.looseObject({});
export type PeerAuthenticationSpec = z.infer<typeof PeerAuthenticationSpec>;

export const PeerAuthenticationKind = defineKind({
  kind: 'PeerAuthentication',
  group: ISTIO_SECURITY_GROUP,
  versions: ISTIO_SECURITY_VERSIONS,
  schema: istioObject(PeerAuthenticationSpec),
});
export type PeerAuthentication = z.infer<typeof PeerAuthenticationKind.schema>;
