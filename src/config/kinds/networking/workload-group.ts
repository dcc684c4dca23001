import * as z from 'zod';
import { addIssue, ALWAYS, crossField, int32, labels, portNumber } from '../../schema/common.ts';
import { defineKind, istioObject, ISTIO_NETWORKING_GROUP, ISTIO_NETWORKING_VERSIONS } from '../kind-definition.ts';
import { workloadEntryFields } from './workload-entry.ts';

/** Labels and annotations every WorkloadEntry of the group inherits. */
export const WorkloadGroupObjectMeta = z.strictObject({
  labels: labels.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type WorkloadGroupObjectMeta = z.infer<typeof WorkloadGroupObjectMeta>;

/** A WorkloadEntry to stamp out per workload; the address is each workload's own, so the template has none. */
const WorkloadEntryTemplate = z
  .strictObject(workloadEntryFields)
  .superRefine(crossField((t, ctx) => {
    if (t.address !== undefined) addIssue(ctx, ['address'], 'address must not be set in a template: each WorkloadEntry takes the address of the workload that registers it');
  }), ALWAYS);

const PROBE_HEADER_NAME = /^[-A-Za-z0-9]+$/;

export const HTTPHeader = z.strictObject({
  name: z.string().check((ctx) => {
    if (!PROBE_HEADER_NAME.test(ctx.value)) {
      ctx.issues.push({ code: 'custom', message: `"${ctx.value}" is not a valid probe header name (letters, digits and '-')`, input: ctx.value });
    }
  }),
  value: z.string().optional(),
});
export type HTTPHeader = z.infer<typeof HTTPHeader>;

export const HTTPHealthCheckConfig = z.strictObject({
  path: z.string().optional(),
  port: portNumber,
  host: z.string().optional(),
  scheme: z.string().check((ctx) => {
    if (ctx.value !== '' && ctx.value !== 'HTTP' && ctx.value !== 'HTTPS') {
      ctx.issues.push({ code: 'custom', message: `scheme must be HTTP or HTTPS, got "${ctx.value}"`, input: ctx.value });
    }
  }).optional(),
  httpHeaders: z.array(HTTPHeader).optional(),
});
export type HTTPHealthCheckConfig = z.infer<typeof HTTPHealthCheckConfig>;

export const TCPHealthCheckConfig = z.strictObject({ host: z.string().optional(), port: portNumber });
export type TCPHealthCheckConfig = z.infer<typeof TCPHealthCheckConfig>;

export const ExecHealthCheckConfig = z.strictObject({ command: z.array(z.string().min(1)).min(1) });
export type ExecHealthCheckConfig = z.infer<typeof ExecHealthCheckConfig>;

export const GrpcHealthCheckConfig = z.strictObject({ port: portNumber, service: z.string().optional() });
export type GrpcHealthCheckConfig = z.infer<typeof GrpcHealthCheckConfig>;

const HEALTH_CHECK_METHODS = ['httpGet', 'tcpSocket', 'exec', 'grpc'] as const;

export const ReadinessProbe = z
  .strictObject({
    initialDelaySeconds: int32.min(0).optional(),
    timeoutSeconds: int32.min(0).optional(),
    periodSeconds: int32.min(0).optional(),
    successThreshold: int32.min(0).optional(),
    failureThreshold: int32.min(0).optional(),
    httpGet: HTTPHealthCheckConfig.optional(),
    tcpSocket: TCPHealthCheckConfig.optional(),
    exec: ExecHealthCheckConfig.optional(),
    grpc: GrpcHealthCheckConfig.optional(),
  })
  .superRefine(crossField((p, ctx) => {
    if (typeof p !== 'object' || p === null) return; // already reported as not a mapping
    const set = HEALTH_CHECK_METHODS.filter((m) => p[m] !== undefined);
    if (set.length === 0) addIssue(ctx, [], `a probe must set one of ${HEALTH_CHECK_METHODS.join(', ')}`);
    if (set.length > 1) addIssue(ctx, [set[1]!], `only one of ${HEALTH_CHECK_METHODS.join(', ')} may be set, got ${set.join(' and ')}`);
  }), ALWAYS);
export type ReadinessProbe = z.infer<typeof ReadinessProbe>;

export const WorkloadGroupSpec = z.strictObject({
  metadata: WorkloadGroupObjectMeta.optional(),
  template: WorkloadEntryTemplate,
  probe: ReadinessProbe.optional(),
});
export type WorkloadGroupSpec = z.infer<typeof WorkloadGroupSpec>;

export const WorkloadGroupKind = defineKind({
  kind: 'WorkloadGroup',
  group: ISTIO_NETWORKING_GROUP,
  versions: ISTIO_NETWORKING_VERSIONS,
  schema: istioObject(WorkloadGroupSpec),
});
export type WorkloadGroup = z.infer<typeof WorkloadGroupKind.schema>;
