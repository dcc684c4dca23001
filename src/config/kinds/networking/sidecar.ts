import * as z from 'zod';
import { defineKind, istioObject, ISTIO_NETWORKING_GROUP, ISTIO_NETWORKING_VERSIONS } from '../kind-definition.ts';

export const SidecarSpec = z.looseObject({});
export type SidecarSpec = z.infer<typeof SidecarSpec>;

export const SidecarKind = defineKind({
  kind: 'Sidecar',
  group: ISTIO_NETWORKING_GROUP,
  versions: ISTIO_NETWORKING_VERSIONS,
  schema: istioObject(SidecarSpec),
});
export type Sidecar = z.infer<typeof SidecarKind.schema>;
