import type { HTTPMatchRequest, HTTPRoute } from '../../config/kinds/networking/virtual-service.ts';
import type { StringMatch } from '../../config/schema/common.ts';

/**
 * Istio's delegation: a root HTTP route with `delegate` is replaced by the delegate's routes, each
 * narrowed by the root's match. A delegate route survives only when every one of its match blocks
 * lies within at least one of the root's blocks (its uri prefix starts with the root's, an exact
 * equals it, no regex on either side, ...); its blocks are then merged with each such root block
 * (the conjunction). What the delegate route leaves unset (rewrite, timeout, retries, fault,
 * mirrors, corsPolicy, headers, ...) comes from the root route. Names join as `root-delegate`.
 */
export function mergeDelegateRoutes(root: HTTPRoute, delegateRoutes: readonly HTTPRoute[]): HTTPRoute[] {
  return delegateRoutes.flatMap((route) => {
    const merged = mergeRoute(root, route);
    return merged === undefined ? [] : [merged];
  });
}

const INHERITED = ['rewrite', 'directResponse', 'timeout', 'retries', 'fault', 'mirror', 'mirrorPercent', 'mirrorPercentage', 'corsPolicy', 'mirrors', 'headers'] as const;

function mergeRoute(root: HTTPRoute, delegate: HTTPRoute): HTTPRoute | undefined {
  const match = mergeMatches(root.match, delegate.match);
  if (match === 'conflict') return undefined;
  const out: HTTPRoute = { ...delegate };
  if (match === undefined) delete out.match;
  else out.match = match;
  const name = joinNames(root.name, delegate.name);
  if (name !== undefined) out.name = name;
  for (const field of INHERITED) {
    if (out[field] === undefined && root[field] !== undefined) (out as Record<string, unknown>)[field] = root[field];
  }
  return out;
}

function joinNames(root: string | undefined, delegate: string | undefined): string | undefined {
  if (delegate === undefined || delegate === '') return root;
  return root !== undefined && root !== '' ? `${root}-${delegate}` : delegate;
}

/** The merged blocks, or 'conflict' when a delegate block fits in none of the root's. */
function mergeMatches(root: readonly HTTPMatchRequest[] | undefined, delegate: readonly HTTPMatchRequest[] | undefined): HTTPMatchRequest[] | undefined | 'conflict' {
  if (root === undefined || root.length === 0) return delegate === undefined ? undefined : [...delegate];
  if (delegate === undefined || delegate.length === 0) return [...root];
  const out: HTTPMatchRequest[] = [];
  for (const leaf of delegate) {
    const fitting = root.filter((r) => !matchConflicts(r, leaf));
    if (fitting.length === 0) return 'conflict';
    out.push(...fitting.map((r) => mergeMatch(r, leaf)));
  }
  return out;
}

function mergeMatch(root: HTTPMatchRequest, leaf: HTTPMatchRequest): HTTPMatchRequest {
  const out: HTTPMatchRequest = { ...leaf };
  const name = joinNames(root.name, leaf.name);
  if (name !== undefined) out.name = name;
  for (const field of ['uri', 'scheme', 'method', 'authority', 'port', 'sourceNamespace', 'statPrefix'] as const) {
    if (isUnset(out[field]) && !isUnset(root[field])) (out as Record<string, unknown>)[field] = root[field];
  }
  for (const field of ['headers', 'withoutHeaders', 'queryParams', 'sourceLabels'] as const) {
    if (root[field] !== undefined || leaf[field] !== undefined) (out as Record<string, unknown>)[field] = { ...root[field], ...leaf[field] };
  }
  if ((out.gateways ?? []).length === 0 && root.gateways !== undefined) out.gateways = root.gateways;
  return out;
}

function isUnset(value: unknown): boolean {
  return value === undefined || value === '' || value === 0;
}

/** Whether a delegate block could match a request the root block does not (Istio's `hasConflict`). */
function matchConflicts(root: HTTPMatchRequest, leaf: HTTPMatchRequest): boolean {
  for (const field of ['uri', 'scheme', 'method', 'authority'] as const) {
    if (stringMatchConflicts(root[field], leaf[field])) return true;
  }
  for (const field of ['headers', 'withoutHeaders', 'queryParams'] as const) {
    for (const [key, value] of Object.entries(leaf[field] ?? {})) {
      if (stringMatchConflicts(root[field]?.[key], value)) return true;
    }
  }
  if ((root.ignoreUriCase ?? false) !== (leaf.ignoreUriCase ?? false)) return true;
  if (root.port !== undefined && leaf.port !== undefined && root.port !== leaf.port) return true;
  if (!isUnset(root.sourceNamespace) && leaf.sourceNamespace !== root.sourceNamespace) return true;
  for (const [key, value] of Object.entries(leaf.sourceLabels ?? {})) {
    const rootValue = root.sourceLabels?.[key];
    if (rootValue !== undefined && rootValue !== value) return true;
  }
  const rootGateways = root.gateways ?? [];
  const leafGateways = leaf.gateways ?? [];
  if (rootGateways.length > 0 && leafGateways.length > 0 && !leafGateways.every((g) => rootGateways.includes(g))) return true;
  return false;
}

/**
 * Whether `leaf` can match a value `root` does not. Regexes cannot be compared, so one on either
 * side conflicts; an empty string counts as unset, as in Istio.
 */
function stringMatchConflicts(root: StringMatch | undefined, leaf: StringMatch | undefined): boolean {
  if (root === undefined || leaf === undefined) return false;
  const set = (v: string | undefined): v is string => v !== undefined && v !== '';
  if (set(root.regex) || set(leaf.regex)) return true;
  if (set(root.exact)) return set(leaf.prefix) || leaf.exact !== root.exact;
  if (set(root.prefix)) {
    if (set(leaf.prefix)) return !leaf.prefix.startsWith(root.prefix);
    if (set(leaf.exact)) return !leaf.exact.startsWith(root.prefix);
  }
  return true;
}
