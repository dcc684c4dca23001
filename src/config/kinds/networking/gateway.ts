import * as z from 'zod';
import { defineKind, istioObject, ISTIO_NETWORKING_GROUP, ISTIO_NETWORKING_VERSIONS } from '../kind-definition.ts';

export const GatewaySpec = z.looseObject({});
export type GatewaySpec = z.infer<typeof GatewaySpec>;

export const GatewayKind = defineKind({
  kind: 'Gateway',
  group: ISTIO_NETWORKING_GROUP,
  versions: ISTIO_NETWORKING_VERSIONS,
  schema: istioObject(GatewaySpec),
});
export type Gateway = z.infer<typeof GatewayKind.schema>;
