import type { Condition, Operation, Rule, Source } from '../../../config/kinds/security/authorization-policy.ts';
import type { MetadataMatcher, ValueMatcher } from '../../../xds/envoy/index.ts';
import { cidrRange, headerMatcher, hostMatchers, pathMatcher, quoteMeta, stringMatcher } from './istio-match.ts';
import type { Permission, Principal, RbacAction, RbacPolicy } from './rbac-config.ts';

/**
 * One AuthorizationPolicy rule as an Envoy RBAC policy, as Istio's authz model builds it
 * (pilot/pkg/security/authz/model): each `from` source becomes a principal and each `to` operation
 * a permission, each ANDing its fields (values ORed, `not*` values negated), and every `when`
 * condition joins the principals or the permissions depending on what it reads. A rule without
 * `from` (or `to`) has one principal (permission) matching anything.
 */

/** Where the JWT filters leave what they authenticated (Istio's istio_authn filter). */
export const AUTHN_METADATA_FILTER = 'istio_authn';

export interface RuleContext {
  /** The policy's namespace: the namespace of a service account written without one. */
  readonly namespace: string;
  readonly trustDomain: string;
  /** A TCP chain cannot see HTTP-only fields (hosts, methods, paths, requestPrincipals, request.*). */
  readonly chain: 'http' | 'tcp';
  /**
   * What a field the chain cannot see does to the rule: with ALLOW it drops the whole rule (it
   * can never match, so it allows nothing); otherwise only the field goes, so the rule matches
   * more, which for DENY denies more (fail closed both ways).
   */
  readonly action: RbacAction;
}

/** The RBAC policy for `rule`, or undefined when the rule can never match on this chain. */
export function rbacPolicy(rule: Rule, context: RuleContext): RbacPolicy | undefined {
  const conditions = rule.when ?? [];
  const principalConditions = conditions.flatMap((c) => principalCondition(c, context));
  const permissionConditions = conditions.flatMap((c) => permissionCondition(c));
  const sources: (Source | undefined)[] = rule.from?.map((f) => f.source) ?? [undefined];
  const operations: (Operation | undefined)[] = rule.to?.map((t) => t.operation) ?? [undefined];
  const principals: Principal[] = [];
  for (const source of sources) {
    const fields = [...(source !== undefined ? sourceFields(source, context) : []), ...principalConditions];
    const principal = combine(fields, context, principalSet);
    if (principal === undefined) return undefined;
    principals.push(principal);
  }
  const permissions: Permission[] = [];
  for (const operation of operations) {
    const fields = [...(operation !== undefined ? operationFields(operation) : []), ...permissionConditions];
    const permission = combine(fields, context, permissionSet);
    if (permission === undefined) return undefined;
    permissions.push(permission);
  }
  return { permissions, principals };
}

/** Which chains can see what a field reads. */
type Visibility = 'always' | 'http' | 'never';

/** What a condition or a source/operation field contributes: matchers for its values and its not-values. */
interface Field<T> {
  readonly values: readonly string[] | undefined;
  readonly notValues: readonly string[] | undefined;
  readonly visibility: Visibility;
  /** The matchers for one value, ORed with the others'. */
  readonly match: (value: string) => readonly T[];
}

/** How matchers of one side (principals or permissions) combine; a set of one is its member. */
interface SetOps<T> {
  readonly any: T;
  and(items: readonly T[]): T;
  or(items: readonly T[]): T;
  not(item: T): T;
}

const principalSet: SetOps<Principal> = {
  any: { any: true },
  and: (ids) => (ids.length === 1 ? ids[0]! : { andIds: { ids } }),
  or: (ids) => (ids.length === 1 ? ids[0]! : { orIds: { ids } }),
  not: (id) => ({ notId: id }),
};

const permissionSet: SetOps<Permission> = {
  any: { any: true },
  and: (rules) => (rules.length === 1 ? rules[0]! : { andRules: { rules } }),
  or: (rules) => (rules.length === 1 ? rules[0]! : { orRules: { rules } }),
  not: (rule) => ({ notRule: rule }),
};

/** The fields ANDed, or undefined when a field the chain cannot see makes an ALLOW rule never match. */
function combine<T>(fields: readonly Field<T>[], context: RuleContext, ops: SetOps<T>): T | undefined {
  const all: T[] = [];
  for (const f of fields) {
    const values = f.values ?? [];
    const notValues = f.notValues ?? [];
    if (values.length === 0 && notValues.length === 0) continue;
    if (f.visibility === 'never' || (f.visibility === 'http' && context.chain === 'tcp')) {
      if (context.action === 'ALLOW') return undefined;
      continue;
    }
    if (values.length > 0) all.push(ops.or(values.flatMap(f.match)));
    if (notValues.length > 0) all.push(ops.not(ops.or(notValues.flatMap(f.match))));
  }
  return all.length === 0 ? ops.any : ops.and(all);
}

function field<T>(values: readonly string[] | undefined, notValues: readonly string[] | undefined, match: (value: string) => T, visibility: Visibility = 'always'): Field<T> {
  return { values, notValues, visibility, match: (value) => [match(value)] };
}

/** In Istio's order: principals, requestPrincipals, serviceAccounts, trustDomains, namespaces, remoteIpBlocks, ipBlocks. */
function sourceFields(s: Source, context: RuleContext): Field<Principal>[] {
  return [
    field(s.principals, s.notPrincipals, peerPrincipal),
    field(s.requestPrincipals, s.notRequestPrincipals, requestPrincipal, 'http'),
    field(s.serviceAccounts, s.notServiceAccounts, (v) => serviceAccount(v, context)),
    field(s.trustDomains, s.notTrustDomains, trustDomain),
    field(s.namespaces, s.notNamespaces, sourceNamespace),
    field(s.remoteIpBlocks, s.notRemoteIpBlocks, (v): Principal => ({ remoteIp: cidrRange(v) })),
    field(s.ipBlocks, s.notIpBlocks, (v): Principal => ({ directRemoteIp: cidrRange(v) })),
  ];
}

/** In Istio's order: hosts, methods, paths, ports. */
function operationFields(o: Operation): Field<Permission>[] {
  return [
    { values: o.hosts, notValues: o.notHosts, visibility: 'http', match: (v) => hostMatchers(v).map((header): Permission => ({ header })) },
    field(o.methods, o.notMethods, (v): Permission => ({ header: headerMatcher(':method', v) }), 'http'),
    field(o.paths, o.notPaths, (v): Permission => ({ urlPath: { path: pathMatcher(v) } }), 'http'),
    field(o.ports, o.notPorts, destinationPort),
  ];
}

/** The principal side of a `when` condition: what it reads of the peer or the request; nothing for the permission side's. */
function principalCondition(c: Condition, context: RuleContext): Field<Principal>[] {
  const { key, values, notValues } = c;
  switch (key) {
    case 'source.ip': return [field(values, notValues, (v): Principal => ({ directRemoteIp: cidrRange(v) }))];
    case 'remote.ip': return [field(values, notValues, (v): Principal => ({ remoteIp: cidrRange(v) }))];
    case 'source.namespace': return [field(values, notValues, sourceNamespace)];
    case 'source.principal': return [field(values, notValues, peerPrincipal)];
    case 'source.serviceAccount': return [field(values, notValues, (v) => serviceAccount(v, context))];
    case 'source.trustDomain': return [field(values, notValues, trustDomain)];
    case 'request.auth.principal': return [field(values, notValues, requestPrincipal, 'http')];
    case 'request.auth.audiences': return [field(values, notValues, (v) => authnMetadata(['request.auth.audiences'], listOrString(v)), 'http')];
    case 'request.auth.presenter': return [field(values, notValues, (v) => authnMetadata(['request.auth.presenter'], { stringMatch: stringMatcher(v) }), 'http')];
  }
  const header = /^request\.headers\[([^[\]]+)\]$/.exec(key);
  if (header !== null) return [field(values, notValues, (v): Principal => ({ header: headerMatcher(header[1]!, v) }), 'http')];
  if (/^request\.auth\.claims(\[[^[\]]+\])+$/.test(key)) {
    const path = ['request.auth.claims', ...[...key.matchAll(/\[([^[\]]+)\]/g)].map((m) => m[1]!)];
    return [field(values, notValues, (v) => authnMetadata(path, listOrString(v)), 'http')];
  }
  if (permissionKey(key)) return [];
  // Validation refuses other keys; should one arrive, it fails closed like an unseeable field.
  return [{ values, notValues, visibility: 'never', match: () => [] }];
}

/** The permission side of a `when` condition: what it reads of the connection's destination. */
function permissionCondition(c: Condition): Field<Permission>[] {
  const { key, values, notValues } = c;
  switch (key) {
    case 'destination.ip': return [field(values, notValues, (v): Permission => ({ destinationIp: cidrRange(v) }))];
    case 'destination.port': return [field(values, notValues, destinationPort)];
    case 'connection.sni': return [field(values, notValues, (v): Permission => ({ requestedServerName: stringMatcher(v) }))];
  }
  const filter = envoyFilterKey(key);
  if (filter !== undefined) return [field(values, notValues, (v): Permission => ({ metadata: envoyFilterMetadata(filter, v) }))];
  return [];
}

function permissionKey(key: string): boolean {
  return key === 'destination.ip' || key === 'destination.port' || key === 'connection.sni' || envoyFilterKey(key) !== undefined;
}

/** The peer's certificate identity; Istio's principals leave out `spiffe://`. */
function peerPrincipal(value: string): Principal {
  return { authenticated: { principalName: stringMatcher(value, 'spiffe://') } };
}

/** `<ns>` with `*` anywhere in it, as the namespace part of the peer's identity. */
function sourceNamespace(value: string): Principal {
  const namespace = value.split('*').map(quoteMeta).join('.*');
  return { authenticated: { principalName: { safeRegex: { regex: `.*/ns/${namespace}/.*` } } } };
}

/** `<ns>/<sa>`, or `<sa>` in the policy's namespace: the peer's exact identity in the mesh's trust domain. */
function serviceAccount(value: string, context: RuleContext): Principal {
  const slash = value.indexOf('/');
  const [namespace, name] = slash >= 0 ? [value.slice(0, slash), value.slice(slash + 1)] : [context.namespace, value];
  return { authenticated: { principalName: { exact: `spiffe://${context.trustDomain}/ns/${namespace}/sa/${name}` } } };
}

/** The trust domain part of the peer's identity (Istio's srcTrustDomainGenerator). */
function trustDomain(value: string): Principal {
  if (value === '*') return { authenticated: { principalName: { prefix: 'spiffe://' } } };
  if (!value.includes('*')) return { authenticated: { principalName: { prefix: `spiffe://${value}/` } } };
  const [before, after] = [value.slice(0, value.indexOf('*')), value.slice(value.indexOf('*') + 1)];
  return { authenticated: { principalName: { safeRegex: { regex: `spiffe://${quoteMeta(before)}[^/]*${quoteMeta(after)}/.*` } } } };
}

/** `<iss>/<sub>` of the request's JWT. */
function requestPrincipal(value: string): Principal {
  return authnMetadata(['request.auth.principal'], { stringMatch: stringMatcher(value) });
}

function authnMetadata(path: readonly string[], value: ValueMatcher): Principal {
  return { metadata: { filter: AUTHN_METADATA_FILTER, path: path.map((key) => ({ key })), value } };
}

/** A claim that is a list matches when any element does; one that is a string, when it does. */
function listOrString(value: string): ValueMatcher {
  const match: ValueMatcher = { stringMatch: stringMatcher(value) };
  return { orMatch: { valueMatchers: [{ listMatch: { oneOf: match } }, match] } };
}

function destinationPort(value: string): Permission {
  return { destinationPort: Number(value) };
}

/** `experimental.envoy.filters.<filter>[<key>]`: a value of another filter's dynamic metadata. */
function envoyFilterKey(key: string): { readonly filter: string; readonly key: string } | undefined {
  const found = /^experimental\.(envoy\.filters\.[^[\]]+)\[([^[\]]+)\]$/.exec(key);
  return found !== null ? { filter: found[1]!, key: found[2]! } : undefined;
}

/** `[v]` matches a list holding `v`; `v` a string. */
function envoyFilterMetadata(at: { readonly filter: string; readonly key: string }, value: string): MetadataMatcher {
  const list = value.startsWith('[') && value.endsWith(']');
  const match: ValueMatcher = { stringMatch: stringMatcher(list ? value.slice(1, -1) : value) };
  return { filter: at.filter, path: [{ key: at.key }], value: list ? { listMatch: { oneOf: match } } : match };
}
