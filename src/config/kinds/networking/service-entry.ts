import * as z from 'zod';
import { defineKind, istioObject, ISTIO_NETWORKING_GROUP, ISTIO_NETWORKING_VERSIONS } from '../kind-definition.ts';

export const ServiceEntrySpec = z.looseObject({});
export type ServiceEntrySpec = z.infer<typeof ServiceEntrySpec>;

export const ServiceEntryKind = defineKind({
  kind: 'ServiceEntry',
  group: ISTIO_NETWORKING_GROUP,
  versions: ISTIO_NETWORKING_VERSIONS,
  schema: istioObject(ServiceEntrySpec),
});
export type ServiceEntry = z.infer<typeof ServiceEntryKind.schema>;
