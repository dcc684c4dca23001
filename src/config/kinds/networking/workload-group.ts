import * as z from 'zod';
import { defineKind, istioObject, ISTIO_NETWORKING_GROUP, ISTIO_NETWORKING_VERSIONS } from '../kind-definition.ts';

export const WorkloadGroupSpec = z.looseObject({});
export type WorkloadGroupSpec = z.infer<typeof WorkloadGroupSpec>;

export const WorkloadGroupKind = defineKind({
  kind: 'WorkloadGroup',
  group: ISTIO_NETWORKING_GROUP,
  versions: ISTIO_NETWORKING_VERSIONS,
  schema: istioObject(WorkloadGroupSpec),
});
export type WorkloadGroup = z.infer<typeof WorkloadGroupKind.schema>;
