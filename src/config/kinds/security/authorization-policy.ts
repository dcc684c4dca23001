import * as z from 'zod';
import { closestMatch } from '../../../core/index.ts';
import { addIssue, ALWAYS, cidrProblem, crossField } from '../../schema/common.ts';
import { defineKind, istioObject, ISTIO_SECURITY_GROUP, ISTIO_SECURITY_VERSIONS } from '../kind-definition.ts';
import { checkSingleTarget, targetSelection } from '../policy-target.ts';

/**
 * Why `value` is not one of Istio's string matches, or undefined when it is: `abc` (exact),
 * `abc*` (prefix), `*abc` (suffix) or `*` (any non-empty value). Istio would take a '*' anywhere
 * else literally, which is never what the author meant.
 */
export function stringMatchProblem(value: string, hint = ''): string | undefined {
  if (value === '') return 'must not be empty';
  const stars = value.split('*').length - 1;
  if (stars === 0 || value === '*') return undefined;
  if (stars > 1 || (!value.startsWith('*') && !value.endsWith('*'))) {
    return `"${value}": a '*' is allowed only once, at the start (suffix match) or at the end (prefix match), or alone${hint}`;
  }
  return undefined;
}

/** The characters a path segment may hold next to a template (RFC 3986 pchar), as Envoy requires. */
const PATH_LITERAL = /^[a-zA-Z0-9-._~%!$&'()+,;:@=]+$/;

/** A path match, or a path template where `{*}` matches one segment and `{**}` any number of them. */
export function pathProblem(path: string): string | undefined {
  if (path === '') return 'must not be empty';
  const template = path.includes('{*}') || path.includes('{**}');
  let matchAnySeen = false;
  for (const segment of path.replace(/^\/+|\/+$/g, '').split('/')) {
    if (segment === '{*}' || segment === '{**}') {
      if (matchAnySeen) return `"${path}": {**} must be the last template operator in the path`;
      matchAnySeen = segment === '{**}';
      continue;
    }
    if (/[{}]/.test(segment)) return `"${path}": '{' and '}' are allowed only in the whole-segment templates {*} and {**}`;
    if (template && !PATH_LITERAL.test(segment)) return `"${path}": segment "${segment}" is not allowed in a path template (letters, digits and -._~%!$&'()+,;:@= only)`;
  }
  return template ? undefined : stringMatchProblem(path, '; use {*} to match one path segment');
}

function portProblem(port: string): string | undefined {
  return /^\d+$/.test(port) && Number(port) >= 1 && Number(port) <= 65535 ? undefined : `"${port}" is not a port number (expected 1..65535)`;
}

/** `name` or `namespace/name`, without wildcards. */
function serviceAccountProblem(value: string): string | undefined {
  if (value === '') return 'must not be empty';
  if (value.includes('*')) return `"${value}": wildcards are not allowed in service accounts`;
  if (value.length > 320) return `"${value.slice(0, 40)}...": a service account is at most 320 characters long`;
  const parts = value.split('/');
  if (parts.length > 2 || parts.some((p) => p === '')) return `"${value}" is not a service account (expected "<name>" or "<namespace>/<name>")`;
  return undefined;
}

function trustDomainProblem(value: string): string | undefined {
  return stringMatchProblem(value) ?? (value.includes('/') ? `"${value}": a trust domain cannot contain '/'` : undefined);
}

function ipBlockProblem(value: string): string | undefined {
  return value === '' ? 'must not be empty' : cidrProblem(value);
}

/** A list of strings, each checked by `problem`. */
function values(problem: (value: string) => string | undefined) {
  return z.array(z.string()).superRefine(crossField((list, ctx) => {
    list.forEach((value, i) => {
      const found = problem(value);
      if (found !== undefined) addIssue(ctx, [i], found);
    });
  }), ALWAYS);
}

export const Source = z
  .strictObject({
    principals: values(stringMatchProblem).optional(),
    notPrincipals: values(stringMatchProblem).optional(),
    requestPrincipals: values(stringMatchProblem).optional(),
    notRequestPrincipals: values(stringMatchProblem).optional(),
    namespaces: values(stringMatchProblem).optional(),
    notNamespaces: values(stringMatchProblem).optional(),
    serviceAccounts: values(serviceAccountProblem).max(16).optional(),
    notServiceAccounts: values(serviceAccountProblem).max(16).optional(),
    ipBlocks: values(ipBlockProblem).optional(),
    notIpBlocks: values(ipBlockProblem).optional(),
    remoteIpBlocks: values(ipBlockProblem).optional(),
    notRemoteIpBlocks: values(ipBlockProblem).optional(),
    trustDomains: values(trustDomainProblem).optional(),
    notTrustDomains: values(trustDomainProblem).optional(),
  })
  .superRefine(crossField((source, ctx) => {
    const set = (Object.keys(source) as (keyof Source)[]).filter((k) => (source[k]?.length ?? 0) > 0);
    // A source whose only field is misspelt or malformed is reported for that field alone.
    if (set.length === 0 && ctx.issues.length === 0) addIssue(ctx, [], 'a source must set at least one field (principals, namespaces, ipBlocks, ...); leave "from" out to match any source');
    const accounts = set.find((k) => k === 'serviceAccounts' || k === 'notServiceAccounts');
    const identities = set.filter((k) => k === 'principals' || k === 'notPrincipals' || k === 'namespaces' || k === 'notNamespaces');
    if (accounts !== undefined && identities.length > 0) {
      addIssue(ctx, [accounts], `${accounts} cannot be combined with ${identities.join(' or ')} in one source; put them in separate sources`);
    }
  }), ALWAYS);
export type Source = z.infer<typeof Source>;

export const Operation = z
  .strictObject({
    hosts: values(stringMatchProblem).optional(),
    notHosts: values(stringMatchProblem).optional(),
    ports: values(portProblem).optional(),
    notPorts: values(portProblem).optional(),
    methods: values(stringMatchProblem).optional(),
    notMethods: values(stringMatchProblem).optional(),
    paths: values(pathProblem).optional(),
    notPaths: values(pathProblem).optional(),
  })
  .superRefine(crossField((operation, ctx) => {
    if (ctx.issues.length === 0 && (Object.keys(operation) as (keyof Operation)[]).every((k) => (operation[k]?.length ?? 0) === 0)) {
      addIssue(ctx, [], 'an operation must set at least one field (hosts, ports, methods, paths, ...); leave "to" out to match any operation');
    }
  }), ALWAYS);
export type Operation = z.infer<typeof Operation>;

/** How the values of a condition are checked, by its key. */
type ConditionValues = 'ip' | 'port' | 'serviceAccount' | 'trustDomain' | 'match' | 'any';

const CONDITION_KEYS: Readonly<Record<string, ConditionValues>> = {
  'source.ip': 'ip',
  'remote.ip': 'ip',
  'source.namespace': 'match',
  'source.principal': 'match',
  'source.serviceAccount': 'serviceAccount',
  'source.trustDomain': 'trustDomain',
  'request.auth.principal': 'match',
  'request.auth.audiences': 'match',
  'request.auth.presenter': 'match',
  'destination.ip': 'ip',
  'destination.port': 'port',
  'connection.sni': 'match',
};

/** Keys that name an entry of a map, and how each is written. */
const MAP_KEYS = [
  { prefix: 'request.headers', pattern: /^request\.headers\[[^[\]]+\]$/, form: 'request.headers[<name>]', values: 'any' },
  { prefix: 'request.auth.claims', pattern: /^request\.auth\.claims(\[[^[\]]+\])+$/, form: 'request.auth.claims[<claim>] (nested: request.auth.claims[<claim>][<field>])', values: 'match' },
  { prefix: 'experimental.envoy.filters', pattern: /^experimental\.envoy\.filters\.[^[\]]+\[[^[\]]+\]$/, form: 'experimental.envoy.filters.<filter>[<key>]', values: 'any' },
] as const;

const RETIRED_KEYS: Readonly<Record<string, string>> = {
  'destination.namespace': 'destination.namespace is not supported: the namespace of the policy (metadata.namespace) decides where it applies',
  'destination.labels': 'destination.labels is not supported: use selector.matchLabels to choose the workloads',
  'destination.name': 'destination.name is no longer supported (it existed only in the v1alpha1 RBAC API)',
  'destination.user': 'destination.user is no longer supported (it existed only in the v1alpha1 RBAC API)',
};

function classifyConditionKey(key: string): { values: ConditionValues } | { problem: string } {
  const plain = CONDITION_KEYS[key];
  if (plain !== undefined) return { values: plain };
  const base = key.split('[')[0]!;
  const retired = RETIRED_KEYS[base];
  if (retired !== undefined) return { problem: retired };
  const map = MAP_KEYS.find((m) => base === m.prefix || base.startsWith(`${m.prefix}.`));
  if (map !== undefined) return map.pattern.test(key) ? { values: map.values } : { problem: `"${key}" must have the form ${map.form}` };
  const suggestion = closestMatch(base, [...Object.keys(CONDITION_KEYS), ...MAP_KEYS.map((m) => m.prefix)]);
  if (suggestion !== undefined) {
    // A map key keeps what the user wrote in brackets: request.auth.claim[groups] -> request.auth.claims[groups].
    const isMap = MAP_KEYS.some((m) => m.prefix === suggestion);
    const meant = isMap && key.length > base.length ? `${suggestion}${key.slice(base.length)}` : suggestion;
    return { problem: `unknown condition key "${key}" (did you mean "${meant}"?)` };
  }
  return { problem: `unknown condition key "${key}"; expected one of ${[...Object.keys(CONDITION_KEYS), ...MAP_KEYS.map((m) => m.form)].join(', ')}` };
}

/** Why `key` is not a condition Istio knows, or undefined when it is. */
export function conditionKeyProblem(key: string): string | undefined {
  if (key === '') return 'key must not be empty';
  const classified = classifyConditionKey(key);
  return 'problem' in classified ? classified.problem : undefined;
}

const VALUE_CHECKS: Readonly<Record<ConditionValues, (value: string) => string | undefined>> = {
  ip: ipBlockProblem,
  port: portProblem,
  serviceAccount: serviceAccountProblem,
  trustDomain: trustDomainProblem,
  match: stringMatchProblem,
  any: (value) => (value === '' ? 'must not be empty' : undefined),
};

export const Condition = z
  .strictObject({
    key: z.string(),
    values: z.array(z.string()).optional(),
    notValues: z.array(z.string()).optional(),
  })
  .superRefine(crossField((condition, ctx) => {
    const keyProblem = conditionKeyProblem(condition.key);
    if (keyProblem !== undefined) addIssue(ctx, ['key'], keyProblem);
    if ((condition.values?.length ?? 0) === 0 && (condition.notValues?.length ?? 0) === 0) {
      addIssue(ctx, [], `the condition on "${condition.key}" must set values or notValues`);
    }
    if (keyProblem !== undefined) return;
    const classified = classifyConditionKey(condition.key);
    const check = VALUE_CHECKS['values' in classified ? classified.values : 'any'];
    for (const field of ['values', 'notValues'] as const) {
      condition[field]?.forEach((value, i) => {
        const problem = check(value);
        if (problem !== undefined) addIssue(ctx, [field, i], problem);
      });
    }
  }), ALWAYS);
export type Condition = z.infer<typeof Condition>;

export const RuleFrom = z.strictObject({ source: Source });
export type RuleFrom = z.infer<typeof RuleFrom>;

export const RuleTo = z.strictObject({ operation: Operation });
export type RuleTo = z.infer<typeof RuleTo>;

/** An empty rule `{}` matches every request. */
export const Rule = z
  .strictObject({
    from: z.array(RuleFrom).max(512).optional(),
    to: z.array(RuleTo).optional(),
    when: z.array(Condition).optional(),
  })
  .superRefine(crossField((rule, ctx) => {
    if (rule.from?.length === 0) addIssue(ctx, ['from'], '"from" must not be an empty list; leave it out to match any source');
    if (rule.to?.length === 0) addIssue(ctx, ['to'], '"to" must not be an empty list; leave it out to match any operation');
  }), ALWAYS);
export type Rule = z.infer<typeof Rule>;

export const AuthorizationPolicyAction = z.enum(['ALLOW', 'DENY', 'AUDIT', 'CUSTOM']);
export type AuthorizationPolicyAction = z.infer<typeof AuthorizationPolicyAction>;

export const ExtensionProvider = z.strictObject({ name: z.string().optional() });
export type ExtensionProvider = z.infer<typeof ExtensionProvider>;

/** Source fields and condition keys that Istio does not support with action CUSTOM. */
const CUSTOM_UNSUPPORTED_SOURCE = [
  'principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals', 'namespaces', 'notNamespaces',
  'serviceAccounts', 'notServiceAccounts', 'trustDomains', 'notTrustDomains',
] as const;
const CUSTOM_UNSUPPORTED_KEYS = ['source.namespace', 'source.serviceAccount', 'source.trustDomain', 'source.principal'];

/**
 * `spec: {}` (ALLOW with no rules) matches nothing, so it denies every request to its workloads;
 * `rules: [{}]` allows every request.
 */
export const AuthorizationPolicySpec = z
  .strictObject({
    ...targetSelection,
    rules: z.array(Rule).max(512).optional(),
    action: AuthorizationPolicyAction.optional(),
    provider: ExtensionProvider.optional(),
  })
  .superRefine(crossField((spec, ctx) => {
    checkSingleTarget(spec, ctx);
    const action = spec.action ?? 'ALLOW';
    const rules = spec.rules ?? [];
    if (action !== 'CUSTOM' && spec.provider !== undefined) addIssue(ctx, ['provider'], `provider is used only with action CUSTOM, but the action is ${action}`);
    if ((action === 'DENY' || action === 'CUSTOM') && rules.length === 0) {
      addIssue(ctx, ['rules'], `a ${action} policy without rules never applies; add an empty rule "{}" to apply it to every request`);
    }
    if (action !== 'CUSTOM') return;
    if (spec.provider?.name === undefined || spec.provider.name === '') {
      addIssue(ctx, spec.provider === undefined ? [] : ['provider', 'name'], 'action CUSTOM needs provider.name (an extension provider of meshConfig.extensionProviders)');
    }
    rules.forEach((rule, i) => {
      rule.from?.forEach((from, j) => {
        // A missing source is reported on its own; the other entries are still checked.
        const source: Partial<Source> = from.source ?? {};
        for (const field of CUSTOM_UNSUPPORTED_SOURCE) {
          if ((source[field]?.length ?? 0) > 0) addIssue(ctx, ['rules', i, 'from', j, 'source', field], `${field} is not supported with action CUSTOM`);
        }
      });
      rule.when?.forEach((condition, j) => {
        if (typeof condition.key === 'string' && (CUSTOM_UNSUPPORTED_KEYS.includes(condition.key) || condition.key.startsWith('request.auth.'))) {
          addIssue(ctx, ['rules', i, 'when', j, 'key'], `the condition "${condition.key}" is not supported with action CUSTOM`);
        }
      });
    });
  }), ALWAYS);
export type AuthorizationPolicySpec = z.infer<typeof AuthorizationPolicySpec>;

export const AuthorizationPolicyKind = defineKind({
  kind: 'AuthorizationPolicy',
  group: ISTIO_SECURITY_GROUP,
  versions: ISTIO_SECURITY_VERSIONS,
  schema: istioObject(AuthorizationPolicySpec),
});
export type AuthorizationPolicy = z.infer<typeof AuthorizationPolicyKind.schema>;
