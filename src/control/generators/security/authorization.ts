import type { Resource } from '../../../config/index.ts';
import type { Filter, HttpFilter } from '../../../xds/envoy/index.ts';
import type { ExtensionProvider } from '../../model/mesh-config.ts';
import { EXT_AUTHZ_FILTER } from './ext-authz-config.ts';
import { EXT_AUTHZ_POLICY_PREFIX, EXT_AUTHZ_SHADOW_STAT_PREFIX, extAuthzHttpConfig } from './ext-authz.ts';
import {
  HTTP_RBAC_FILTER, HTTP_RBAC_TYPE, NETWORK_RBAC_FILTER, NETWORK_RBAC_TYPE,
  type HttpRbac, type NetworkRbac, type RbacAction, type RbacPolicy, type RbacRules,
} from './rbac-config.ts';
import { rbacPolicy } from './rbac-policy.ts';

/**
 * Istio's authorization builder (pilot/pkg/security/authz/builder): the AuthorizationPolicies that
 * apply to a workload as Envoy RBAC filters. A request is refused when a CUSTOM policy matches it
 * and the external authorizer says no, else when a DENY policy matches, else when the workload has
 * ALLOW policies and none matches. AUDIT policies only mark what they match. In each RBAC map,
 * rule i of a policy is `ns[<namespace>]-policy[<name>]-rule[<i>]`.
 */

export interface AuthorizationInput {
  /** The policies that apply to the workload (see SecurityPolicyIndex), in a stable order. */
  readonly policies: readonly Resource<'AuthorizationPolicy'>[];
  /** The mesh's trust domain, which `serviceAccounts` identities carry. */
  readonly trustDomain: string;
  /** The mesh's, which CUSTOM policies name. */
  readonly extensionProviders: readonly ExtensionProvider[];
}

export interface AuthorizationHttpFilters {
  /** CUSTOM policies: a shadow RBAC filter then ext_authz. Istio places them before the JWT filters. */
  readonly custom: readonly HttpFilter[];
  /** AUDIT, DENY then ALLOW RBAC filters (each only when such policies apply), after the JWT filters they read. */
  readonly rbac: readonly HttpFilter[];
}

/** The annotation that makes a policy only evaluated and logged, never enforced. */
export const DRY_RUN_ANNOTATION = 'istio.io/dry-run';

const TCP_STAT_PREFIX = 'tcp.';

/** What Istio enforces when CUSTOM policies name a provider the mesh lacks, or several providers: fail closed. */
const DENY_ALL: RbacRules = {
  action: 'DENY',
  policies: { 'default-deny-all-due-to-bad-CUSTOM-action': { permissions: [{ any: true }], principals: [{ any: true }] } },
};

/** The filters for an HTTP connection manager serving the workload. */
export function authorizationHttpFilters(input: AuthorizationInput): AuthorizationHttpFilters {
  const rbac = LOCAL_ACTIONS.flatMap((action) => {
    const built = build(input, action, 'http');
    return built !== undefined ? [httpRbac(built)] : [];
  });
  return { custom: customHttpFilters(input), rbac };
}

/**
 * The network filters, before tcp_proxy, for a TCP chain serving the workload: the same policies
 * without what only HTTP carries (hosts, methods, paths, requestPrincipals, request.*). An ALLOW
 * rule using such a field matches nothing (a policy left without rules still switches the workload
 * to default-deny); a DENY or AUDIT rule loses just those fields, and so matches more. CUSTOM
 * policies have no effect on TCP, since the providers check HTTP requests, except that a bad
 * provider still denies every connection.
 */
export function authorizationNetworkFilters(input: AuthorizationInput): Filter[] {
  const custom = customPolicies(input.policies);
  const denyAll: Filter[] = custom.length > 0 && provider(input, custom) === undefined ? [networkRbac({ rules: DENY_ALL })] : [];
  const local = LOCAL_ACTIONS.flatMap((action) => {
    const built = build(input, action, 'tcp');
    return built !== undefined ? [networkRbac(built)] : [];
  });
  return [...denyAll, ...local];
}

type LocalAction = 'AUDIT' | 'DENY' | 'ALLOW';

/** Istio's order: AUDIT first, so that requests denied after are audited too. */
const LOCAL_ACTIONS: readonly LocalAction[] = ['AUDIT', 'DENY', 'ALLOW'];

const RBAC_ACTION: Readonly<Record<LocalAction, RbacAction>> = { AUDIT: 'LOG', DENY: 'DENY', ALLOW: 'ALLOW' };

const SHADOW_STAT_PREFIX: Readonly<Record<RbacAction, string | undefined>> = {
  ALLOW: 'istio_dry_run_allow_',
  DENY: 'istio_dry_run_deny_',
  LOG: undefined,
};

interface BuiltRules {
  readonly rules?: RbacRules;
  readonly shadowRules?: RbacRules;
}

/**
 * The RBAC rules of the policies with `action`, dry-run ones as shadow rules; undefined when none
 * applies. An ALLOW policy without rules (`spec: {}`) adds no policy but still makes the filter,
 * which then denies every request; DENY and AUDIT policies without rules never match, so they add
 * nothing.
 */
function build(input: AuthorizationInput, action: LocalAction, chain: 'http' | 'tcp'): BuiltRules | undefined {
  const policies = input.policies.filter((p) => (p.object.spec.action ?? 'ALLOW') === action && (action === 'ALLOW' || hasRules(p)));
  if (policies.length === 0) return undefined;
  const rbacAction = RBAC_ACTION[action];
  const enforced = policies.filter((p) => !isDryRun(p));
  const shadow = policies.filter(isDryRun);
  return {
    ...(enforced.length > 0 ? { rules: { action: rbacAction, policies: rbacPolicies(enforced, input, rbacAction, chain, '') } } : {}),
    ...(shadow.length > 0 ? { shadowRules: { action: rbacAction, policies: rbacPolicies(shadow, input, rbacAction, chain, '') } } : {}),
  };
}

function rbacPolicies(
  policies: readonly Resource<'AuthorizationPolicy'>[], input: AuthorizationInput, action: RbacAction, chain: 'http' | 'tcp', prefix: string,
): Record<string, RbacPolicy> {
  const out: Record<string, RbacPolicy> = {};
  for (const p of policies) {
    const context = { namespace: p.namespace, trustDomain: input.trustDomain, chain, action };
    (p.object.spec.rules ?? []).forEach((rule, i) => {
      const built = rbacPolicy(rule, context);
      if (built !== undefined) out[`${prefix}ns[${p.namespace}]-policy[${p.name}]-rule[${i}]`] = built;
    });
  }
  return out;
}

/**
 * CUSTOM policies as a shadow RBAC filter, which only records which CUSTOM rule matched, then
 * ext_authz, enabled by that record. A provider the mesh lacks, or several providers for one
 * workload (Istio allows one), deny every request instead. Dry-run CUSTOM policies are left out:
 * Istio would still call the provider for them.
 */
function customHttpFilters(input: AuthorizationInput): HttpFilter[] {
  const custom = customPolicies(input.policies);
  if (custom.length === 0) return [];
  const found = provider(input, custom);
  if (found === undefined) return [httpRbac({ rules: DENY_ALL })];
  const shadowRules: RbacRules = { action: 'DENY', policies: rbacPolicies(custom, input, 'DENY', 'http', `${EXT_AUTHZ_POLICY_PREFIX}-`) };
  const rbac: HttpRbac = { '@type': HTTP_RBAC_TYPE, shadowRules, shadowRulesStatPrefix: EXT_AUTHZ_SHADOW_STAT_PREFIX };
  return [
    { name: HTTP_RBAC_FILTER, typedConfig: rbac },
    { name: EXT_AUTHZ_FILTER, typedConfig: extAuthzHttpConfig(found.envoyExtAuthzHttp) },
  ];
}

function customPolicies(policies: readonly Resource<'AuthorizationPolicy'>[]): Resource<'AuthorizationPolicy'>[] {
  return policies.filter((p) => p.object.spec.action === 'CUSTOM' && hasRules(p) && !isDryRun(p));
}

/** The one provider the CUSTOM policies name, when the mesh has it. */
function provider(input: AuthorizationInput, custom: readonly Resource<'AuthorizationPolicy'>[]): ExtensionProvider | undefined {
  const names = new Set(custom.map((p) => p.object.spec.provider?.name));
  if (names.size !== 1) return undefined;
  const [name] = names;
  return input.extensionProviders.find((p) => p.name === name);
}

function hasRules(policy: Resource<'AuthorizationPolicy'>): boolean {
  return (policy.object.spec.rules?.length ?? 0) > 0;
}

/** The annotation's value as Go's strconv.ParseBool reads it, as Istio does. */
function isDryRun(policy: Resource<'AuthorizationPolicy'>): boolean {
  const value = policy.object.metadata.annotations?.[DRY_RUN_ANNOTATION];
  return value !== undefined && ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value);
}

function shadowPrefix(built: BuiltRules): { shadowRulesStatPrefix?: string } {
  const prefix = built.shadowRules !== undefined ? SHADOW_STAT_PREFIX[built.shadowRules.action] : undefined;
  return prefix !== undefined ? { shadowRulesStatPrefix: prefix } : {};
}

function httpRbac(built: BuiltRules): HttpFilter {
  const config: HttpRbac = { '@type': HTTP_RBAC_TYPE, ...built, ...shadowPrefix(built) };
  return { name: HTTP_RBAC_FILTER, typedConfig: config };
}

function networkRbac(built: BuiltRules): Filter {
  const config: NetworkRbac = { '@type': NETWORK_RBAC_TYPE, statPrefix: TCP_STAT_PREFIX, ...built, ...shadowPrefix(built) };
  return { name: NETWORK_RBAC_FILTER, typedConfig: config };
}
