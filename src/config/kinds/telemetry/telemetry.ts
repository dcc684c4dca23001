import * as z from 'zod';
import { addIssue, ALWAYS, crossField, duration } from '../../schema/common.ts';
import { defineKind, istioObject, ISTIO_TELEMETRY_GROUP, ISTIO_TELEMETRY_VERSIONS } from '../kind-definition.ts';
import { checkSingleTarget, targetSelection } from '../policy-target.ts';

const nonEmpty = z.string().refine((s) => s !== '', 'must not be empty');

/** Istio's wrapper booleans (BoolValue): null means "inherit from the parent Telemetry", as if unset. */
const optionalBool = z.boolean().nullable().optional();

/** Traffic direction relative to the workload: CLIENT is outbound, SERVER inbound. */
export const WorkloadMode = z.enum(['CLIENT_AND_SERVER', 'CLIENT', 'SERVER']);
export type WorkloadMode = z.infer<typeof WorkloadMode>;

/** A provider defined in meshConfig.extensionProviders. */
export const ProviderRef = z.strictObject({ name: nonEmpty });
export type ProviderRef = z.infer<typeof ProviderRef>;

export const TracingSelector = z.strictObject({ mode: WorkloadMode.optional() });
export type TracingSelector = z.infer<typeof TracingSelector>;

export const Literal = z.strictObject({ value: nonEmpty });
export type Literal = z.infer<typeof Literal>;

export const Environment = z.strictObject({ name: nonEmpty, defaultValue: z.string().optional() });
export type Environment = z.infer<typeof Environment>;

export const RequestHeader = z.strictObject({ name: nonEmpty, defaultValue: z.string().optional() });
export type RequestHeader = z.infer<typeof RequestHeader>;

/** An access-log format string, such as `%REQUESTED_SERVER_NAME%`. */
export const Formatter = z.strictObject({ value: nonEmpty });
export type Formatter = z.infer<typeof Formatter>;

export const CustomTag = z
  .strictObject({
    literal: Literal.optional(),
    environment: Environment.optional(),
    header: RequestHeader.optional(),
    formatter: Formatter.optional(),
  })
  .superRefine(crossField((tag, ctx) => {
    const set = (['literal', 'environment', 'header', 'formatter'] as const).filter((k) => tag[k] !== undefined);
    // A tag whose only field is misspelt is reported for that field alone.
    if (set.length === 0 && ctx.issues.length === 0) addIssue(ctx, [], 'a custom tag must set one of literal, environment, header or formatter');
    if (set.length > 1) addIssue(ctx, [set[1]!], `only one of literal, environment, header or formatter may be set, got ${set.join(' and ')}`);
  }), ALWAYS);
export type CustomTag = z.infer<typeof CustomTag>;

export const Tracing = z.strictObject({
  match: TracingSelector.optional(),
  providers: z.array(ProviderRef).optional(),
  randomSamplingPercentage: z.number().min(0).max(100).nullable().optional(),
  disableSpanReporting: optionalBool,
  customTags: z.record(z.string(), CustomTag).superRefine(crossField((tags, ctx) => {
    if (Object.keys(tags).includes('')) addIssue(ctx, [''], 'a tag name must not be empty');
  }), ALWAYS).optional(),
  useRequestIdForTraceSampling: optionalBool,
  enableIstioTags: optionalBool,
  disableContextPropagation: optionalBool,
});
export type Tracing = z.infer<typeof Tracing>;

export const IstioMetric = z.enum([
  'ALL_METRICS', 'REQUEST_COUNT', 'REQUEST_DURATION', 'REQUEST_SIZE', 'RESPONSE_SIZE',
  'TCP_OPENED_CONNECTIONS', 'TCP_CLOSED_CONNECTIONS', 'TCP_SENT_BYTES', 'TCP_RECEIVED_BYTES',
  'GRPC_REQUEST_MESSAGES', 'GRPC_RESPONSE_MESSAGES',
]);
export type IstioMetric = z.infer<typeof IstioMetric>;

/** Without metric or customMetric, the selector picks every standard metric. */
export const MetricSelector = z
  .strictObject({
    metric: IstioMetric.optional(),
    customMetric: nonEmpty.optional(),
    mode: WorkloadMode.optional(),
  })
  .superRefine(crossField((selector, ctx) => {
    if (selector.metric !== undefined && selector.customMetric !== undefined) addIssue(ctx, ['customMetric'], 'only one of metric or customMetric may be set');
  }), ALWAYS);
export type MetricSelector = z.infer<typeof MetricSelector>;

/** UPSERT (the default) sets the tag to the CEL expression in `value`; REMOVE drops the tag. */
export const TagOverride = z
  .strictObject({
    operation: z.enum(['UPSERT', 'REMOVE']).optional(),
    value: z.string().optional(),
  })
  .superRefine(crossField((override, ctx) => {
    if ((override.operation ?? 'UPSERT') === 'UPSERT' && (override.value ?? '') === '' && ctx.issues.length === 0) {
      addIssue(ctx, ['value'], `value must be set when operation is UPSERT${override.operation === undefined ? ' (the default)' : ''}`);
    }
    if (override.operation === 'REMOVE' && override.value !== undefined) addIssue(ctx, ['value'], 'value must not be set when operation is REMOVE');
  }), ALWAYS);
export type TagOverride = z.infer<typeof TagOverride>;

export const MetricsOverrides = z.strictObject({
  match: MetricSelector.optional(),
  disabled: optionalBool,
  tagOverrides: z.record(z.string(), TagOverride).optional(),
});
export type MetricsOverrides = z.infer<typeof MetricsOverrides>;

export const Metrics = z.strictObject({
  providers: z.array(ProviderRef).optional(),
  overrides: z.array(MetricsOverrides).optional(),
  reportingInterval: duration().optional(),
});
export type Metrics = z.infer<typeof Metrics>;

export const LogSelector = z.strictObject({ mode: WorkloadMode.optional() });
export type LogSelector = z.infer<typeof LogSelector>;

/**
 * Why `expression` cannot be a CEL expression, or undefined when it may be. Only the shape is
 * checked (non-empty, closed strings and balanced brackets); the proxy evaluates it.
 */
export function celExpressionProblem(expression: string): string | undefined {
  if (expression.trim() === '') return 'the filter expression must not be empty';
  const closers: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
  const open: string[] = [];
  for (let i = 0; i < expression.length; i++) {
    const c = expression[i]!;
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < expression.length && expression[j] !== c) j += expression[j] === '\\' ? 2 : 1;
      if (j >= expression.length) return `"${expression}" is not a CEL expression: the string starting at character ${i + 1} is not closed`;
      i = j;
    } else if (closers[c] !== undefined) {
      open.push(closers[c]);
    } else if (c === ')' || c === ']' || c === '}') {
      if (open.pop() !== c) return `"${expression}" is not a CEL expression: unbalanced '${c}' at character ${i + 1}`;
    }
  }
  return open.length > 0 ? `"${expression}" is not a CEL expression: '${open[open.length - 1]}' is missing` : undefined;
}

export const AccessLoggingFilter = z.strictObject({
  expression: z.string().check((ctx) => {
    const problem = celExpressionProblem(ctx.value);
    if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
  }),
});
export type AccessLoggingFilter = z.infer<typeof AccessLoggingFilter>;

export const AccessLogging = z.strictObject({
  match: LogSelector.optional(),
  providers: z.array(ProviderRef).optional(),
  disabled: optionalBool,
  filter: AccessLoggingFilter.optional(),
});
export type AccessLogging = z.infer<typeof AccessLogging>;

export const TelemetrySpec = z
  .strictObject({
    ...targetSelection,
    tracing: z.array(Tracing).optional(),
    metrics: z.array(Metrics).optional(),
    accessLogging: z.array(AccessLogging).optional(),
  })
  .superRefine(crossField((spec, ctx) => checkSingleTarget(spec, ctx)), ALWAYS);
export type TelemetrySpec = z.infer<typeof TelemetrySpec>;

export const TelemetryKind = defineKind({
  kind: 'Telemetry',
  group: ISTIO_TELEMETRY_GROUP,
  versions: ISTIO_TELEMETRY_VERSIONS,
  schema: istioObject(TelemetrySpec),
});
export type Telemetry = z.infer<typeof TelemetryKind.schema>;
