/**
 * LocalRateLimit (policy.weft.dev/v1alpha1): a token-bucket limit that each selected proxy
 * enforces on its own, compiled into Envoy's local rate limit filter. Istio offers this only
 * through EnvoyFilter; here it is a resource of its own. `tokenBucket` is the workload's limit
 * (a sidecar's inbound requests, a gateway's routed requests); `routes` limit named HTTP routes of
 * VirtualServices wherever the selected proxies route by them. docs/rate-limiting.md is the
 * user's reference.
 */
import * as z from 'zod';
import { addIssue, ALWAYS, crossField, duration, isDns1123Label, isDns1123Subdomain, WorkloadSelector } from '../../schema/common.ts';
import { defineKind, kubernetesObject } from '../kind-definition.ts';

export const POLICY_WEFT_GROUP = 'policy.weft.dev';
export const POLICY_WEFT_VERSIONS = ['v1alpha1'] as const;

/** Envoy's floor for a token bucket's fill interval. */
const MIN_FILL_INTERVAL_MS = 50;

const DEFAULT_RATE_LIMITED_STATUS = 429;

/**
 * The 4xx and 5xx codes of Envoy's `envoy.type.v3.StatusCode`, the only ones its local rate
 * limit filter can answer with (it refuses others in its config).
 */
const ENVOY_ERROR_STATUS_CODES: ReadonlySet<number> = new Set([
  400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 423, 424, 426, 428, 429, 431,
  500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
]);

/** A uint32 above zero: Envoy's bucket counts are uint32 and a zero bucket would refuse everything forever. */
const positiveCount = z.number().int().min(1).max(4294967295);

/** Every field is required: Envoy's default of one token per fill surprises more than it helps. */
export const TokenBucket = z.strictObject({
  maxTokens: positiveCount,
  tokensPerFill: positiveCount,
  fillInterval: duration({ min: MIN_FILL_INTERVAL_MS }),
});
export type TokenBucket = z.infer<typeof TokenBucket>;

/** `name`, or `namespace/name`: the VirtualService a route limit names. */
function virtualServiceReferenceProblem(reference: string): string | undefined {
  if (reference === '') return 'must name a VirtualService (its name, or namespace/name)';
  const parts = reference.split('/');
  if (parts.length > 2) return `"${reference}" is not a VirtualService reference (write name or namespace/name)`;
  const [namespace, name] = parts.length === 2 ? parts : [undefined, parts[0]];
  if (namespace !== undefined && !isDns1123Label(namespace)) return `"${namespace}" is not a namespace name (a DNS-1123 label)`;
  if (name === undefined || !isDns1123Subdomain(name)) return `"${name ?? ''}" is not a VirtualService name (a DNS-1123 subdomain)`;
  return undefined;
}

/** Where a reference written in a resource of `namespace` points: its namespace and name. */
export function resolveVirtualServiceReference(reference: string, namespace: string): { readonly namespace: string; readonly name: string } {
  const slash = reference.indexOf('/');
  return slash < 0 ? { namespace, name: reference } : { namespace: reference.slice(0, slash), name: reference.slice(slash + 1) };
}

export const RouteRateLimit = z
  .strictObject({
    virtualService: z.string(),
    route: z.string(),
    tokenBucket: TokenBucket,
  })
  .superRefine(crossField((limit, ctx) => {
    if (typeof limit.virtualService === 'string') {
      const problem = virtualServiceReferenceProblem(limit.virtualService);
      if (problem !== undefined) addIssue(ctx, ['virtualService'], problem);
    }
    if (limit.route === '') addIssue(ctx, ['route'], 'must name an http route of the VirtualService (its `name`)');
  }), ALWAYS);
export type RouteRateLimit = z.infer<typeof RouteRateLimit>;

export const LocalRateLimitSpec = z
  .strictObject({
    selector: WorkloadSelector.optional(),
    tokenBucket: TokenBucket.optional(),
    routes: z.array(RouteRateLimit).default([]),
    status: z.number().int().min(400).max(599).default(DEFAULT_RATE_LIMITED_STATUS),
  })
  .superRefine(crossField((spec, ctx) => {
    if (typeof spec.status === 'number' && spec.status >= 400 && spec.status <= 599 && Number.isInteger(spec.status) && !ENVOY_ERROR_STATUS_CODES.has(spec.status)) {
      addIssue(ctx, ['status'], `Envoy cannot answer with ${spec.status}; use one of the codes it names: 400-417, 421-424, 426, 428, 429 (the default), 431, 500-508, 510, 511`);
    }
    const seen = new Map<string, number>();
    (spec.routes ?? []).forEach((limit, i) => {
      if (typeof limit?.virtualService !== 'string' || typeof limit.route !== 'string') return;
      const key = `${limit.virtualService}\n${limit.route}`;
      const first = seen.get(key);
      if (first !== undefined) addIssue(ctx, ['routes', i], `route "${limit.route}" of VirtualService ${limit.virtualService} is already limited by routes[${first}]`);
      else seen.set(key, i);
    });
  }), ALWAYS);
export type LocalRateLimitSpec = z.infer<typeof LocalRateLimitSpec>;

export const LocalRateLimitKind = defineKind({
  kind: 'LocalRateLimit',
  group: POLICY_WEFT_GROUP,
  versions: POLICY_WEFT_VERSIONS,
  namespaced: true,
  schema: kubernetesObject({ spec: LocalRateLimitSpec, status: z.unknown().optional() }),
});
export type LocalRateLimit = z.infer<typeof LocalRateLimitKind.schema>;
