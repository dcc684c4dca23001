import * as z from 'zod';
import { addIssue, ALWAYS, crossField, int32, labelKeyProblem, labels, labelValueProblem } from '../../schema/common.ts';
import { defineKind, kubernetesObject } from '../kind-definition.ts';
import { PodTemplateSpec } from './pod.ts';

export const LabelSelectorRequirement = z
  .strictObject({
    key: z.string(),
    operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
    values: z.array(z.string()).optional(),
  })
  .superRefine(crossField((r, ctx) => {
    const problem = labelKeyProblem(r.key);
    if (problem !== undefined) addIssue(ctx, ['key'], problem);
    const values = r.values ?? [];
    if ((r.operator === 'In' || r.operator === 'NotIn') && values.length === 0) addIssue(ctx, ['values'], `at least one value is required when operator is ${r.operator}`);
    if ((r.operator === 'Exists' || r.operator === 'DoesNotExist') && values.length > 0) addIssue(ctx, ['values'], `must be empty when operator is ${r.operator}`);
    values.forEach((value, i) => {
      const valueProblem = labelValueProblem(value);
      if (valueProblem !== undefined) addIssue(ctx, ['values', i], valueProblem);
    });
  }), ALWAYS);
export type LabelSelectorRequirement = z.infer<typeof LabelSelectorRequirement>;

export const LabelSelector = z.strictObject({
  matchLabels: labels.optional(),
  matchExpressions: z.array(LabelSelectorRequirement).optional(),
});
export type LabelSelector = z.infer<typeof LabelSelector>;

/** Why `selector` does not select an object with `objectLabels`, or undefined when it does. */
export function selectorMismatch(selector: LabelSelector, objectLabels: Readonly<Record<string, string>>): string | undefined {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    const actual = objectLabels[key];
    if (actual === undefined) return `the label ${key}: ${value} is missing`;
    if (actual !== value) return `the label ${key} is "${actual}", the selector wants "${value}"`;
  }
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const actual = objectLabels[key];
    switch (operator) {
      case 'In':
        if (actual === undefined || !values.includes(actual)) return `the label ${key} must be one of ${values.join(', ')}`;
        break;
      case 'NotIn':
        if (actual !== undefined && values.includes(actual)) return `the label ${key} must not be ${actual}`;
        break;
      case 'Exists':
        if (actual === undefined) return `the label ${key} is missing`;
        break;
      case 'DoesNotExist':
        if (actual !== undefined) return `the label ${key} must not be set`;
        break;
    }
  }
  return undefined;
}

/** A count of pods, or a percentage of the desired replicas written as a string ("25%"). */
const intOrPercent = z.union([z.number(), z.string()]).check((ctx) => {
  const value = ctx.value;
  const valid = typeof value === 'number' ? Number.isInteger(value) && value >= 0 : /^[0-9]+%$/.test(value);
  if (!valid) ctx.issues.push({ code: 'custom', message: `must be a whole number of pods (1) or a percentage ("25%"), got ${typeof value === 'number' ? value : `"${value}"`}`, input: value });
});

/** The value an int-or-percent stands for once defaulted, for the "not both zero" rule. */
function amount(value: number | string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  return typeof value === 'number' ? value : Number.parseInt(value, 10);
}

const DEFAULT_ROLLING_PERCENT = 25;

export const RollingUpdateDeployment = z
  .strictObject({ maxUnavailable: intOrPercent.optional(), maxSurge: intOrPercent.optional() })
  .superRefine(crossField((r, ctx) => {
    if (amount(r.maxUnavailable, DEFAULT_ROLLING_PERCENT) === 0 && amount(r.maxSurge, DEFAULT_ROLLING_PERCENT) === 0) {
      addIssue(ctx, ['maxUnavailable'], 'may not be 0 when maxSurge is 0 (the rollout could never make progress)');
    }
    if (typeof r.maxUnavailable === 'string' && amount(r.maxUnavailable, 0) > 100) addIssue(ctx, ['maxUnavailable'], `must not be more than 100%, got "${r.maxUnavailable}"`);
  }), ALWAYS);
export type RollingUpdateDeployment = z.infer<typeof RollingUpdateDeployment>;

export const DeploymentStrategy = z
  .strictObject({ type: z.enum(['RollingUpdate', 'Recreate']).optional(), rollingUpdate: RollingUpdateDeployment.optional() })
  .superRefine(crossField((s, ctx) => {
    if (s.type === 'Recreate' && s.rollingUpdate !== undefined) addIssue(ctx, ['rollingUpdate'], 'may not be set when type is Recreate');
  }), ALWAYS);
export type DeploymentStrategy = z.infer<typeof DeploymentStrategy>;

export const DeploymentSpec = z
  .strictObject({
    replicas: int32.min(0).optional(),
    selector: LabelSelector,
    template: PodTemplateSpec,
    strategy: DeploymentStrategy.optional(),
    minReadySeconds: int32.min(0).optional(),
    revisionHistoryLimit: int32.min(0).optional(),
    progressDeadlineSeconds: int32.min(0).optional(),
    paused: z.boolean().optional(),
  })
  .superRefine(crossField((spec, ctx) => {
    // Fields that failed (or are missing) are undefined here; each rule skips what it cannot see.
    const selector: LabelSelector | undefined = spec.selector;
    const template: PodTemplateSpec | undefined = spec.template;
    // A selector that is itself wrong (a misspelt field, a bad operator) is reported as such, not matched.
    const selectorFailed = ctx.issues.some((issue) => issue.path?.[0] === 'selector');
    if (selector !== undefined && !selectorFailed) {
      if (Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0) {
        addIssue(ctx, ['selector'], 'must set matchLabels or matchExpressions (an empty selector is not allowed for a Deployment)');
      } else if (template !== undefined) {
        const mismatch = selectorMismatch(selector, template.metadata?.labels ?? {});
        if (mismatch !== undefined) {
          addIssue(ctx, ['template', 'metadata', 'labels'], `spec.selector does not match the template's labels, so the Deployment would not own its pods: ${mismatch}`);
        }
      }
    }
    const pod: PodTemplateSpec['spec'] | undefined = template?.spec;
    if (pod?.restartPolicy !== undefined && pod.restartPolicy !== 'Always') {
      addIssue(ctx, ['template', 'spec', 'restartPolicy'], `must be Always in a Deployment, got ${pod.restartPolicy}`);
    }
    if (pod?.activeDeadlineSeconds !== undefined) addIssue(ctx, ['template', 'spec', 'activeDeadlineSeconds'], 'may not be set in a Deployment (its pods run until replaced)');
    if (spec.progressDeadlineSeconds !== undefined && spec.progressDeadlineSeconds <= (spec.minReadySeconds ?? 0)) {
      addIssue(ctx, ['progressDeadlineSeconds'], `must be greater than minReadySeconds (${spec.minReadySeconds ?? 0}), got ${spec.progressDeadlineSeconds}`);
    }
  }), ALWAYS);
export type DeploymentSpec = z.infer<typeof DeploymentSpec>;

/** Only apps/v1: the older apps/v1beta1, apps/v1beta2 and extensions/v1beta1 are reported as removed. */
export const DeploymentKind = defineKind({
  kind: 'Deployment',
  group: 'apps',
  versions: ['v1'],
  namespaced: true,
  schema: kubernetesObject({ spec: DeploymentSpec, status: z.unknown().optional() }),
});
export type Deployment = z.infer<typeof DeploymentKind.schema>;
