import * as z from 'zod';
import { defineKind, istioObject, ISTIO_NETWORKING_GROUP, ISTIO_NETWORKING_VERSIONS } from '../kind-definition.ts';

export const WorkloadEntrySpec = z.looseObject({});
export type WorkloadEntrySpec = z.infer<typeof WorkloadEntrySpec>;

export const WorkloadEntryKind = defineKind({
  kind: 'WorkloadEntry',
  group: ISTIO_NETWORKING_GROUP,
  versions: ISTIO_NETWORKING_VERSIONS,
  schema: istioObject(WorkloadEntrySpec),
});
export type WorkloadEntry = z.infer<typeof WorkloadEntryKind.schema>;
