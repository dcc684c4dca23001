import * as z from 'zod';
import { defineKind, istioObject, ISTIO_TELEMETRY_GROUP, ISTIO_TELEMETRY_VERSIONS } from '../kind-definition.ts';

export const TelemetrySpec = z.looseObject({});
export type TelemetrySpec = z.infer<typeof TelemetrySpec>;

export const TelemetryKind = defineKind({
  kind: 'Telemetry',
  group: ISTIO_TELEMETRY_GROUP,
  versions: ISTIO_TELEMETRY_VERSIONS,
  schema: istioObject(TelemetrySpec),
});
export type Telemetry = z.infer<typeof TelemetryKind.schema>;
