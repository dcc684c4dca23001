import * as z from 'zod';
import { defineKind, istioObject, ISTIO_NETWORKING_GROUP, ISTIO_NETWORKING_VERSIONS } from '../kind-definition.ts';

export const DestinationRuleSpec = z.looseObject({});
export type DestinationRuleSpec = z.infer<typeof DestinationRuleSpec>;

export const DestinationRuleKind = defineKind({
  kind: 'DestinationRule',
  group: ISTIO_NETWORKING_GROUP,
  versions: ISTIO_NETWORKING_VERSIONS,
  schema: istioObject(DestinationRuleSpec),
});
export type DestinationRule = z.infer<typeof DestinationRuleKind.schema>;
