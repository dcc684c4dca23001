import type { Diagnostic } from '../../diagnostic.ts';
import type { AuthorizationPolicySpec } from '../../kinds/security/authorization-policy.ts';
import type { RequestAuthenticationSpec } from '../../kinds/security/request-authentication.ts';
import { Messages } from '../../messages.ts';
import type { Resource } from '../../resource.ts';
import type { AnalysisContext } from '../analysis-context.ts';
import { finding, type Analyzer } from '../analyzer.ts';
import { ROOT_NAMESPACE } from '../host-name.ts';
import { formatSelector, selectorMatches } from '../label-selector.ts';

interface JwtUse {
  readonly what: string;
  readonly at: readonly PropertyKey[];
}

/**
 * `requestPrincipals`, `notRequestPrincipals` and the `request.auth.*` conditions read what a
 * RequestAuthentication extracted from the request's JWT. Without one for the policy's workloads
 * no request has a principal or claims: an ALLOW rule that needs one never matches (every request
 * is denied), and a DENY rule on `notRequestPrincipals` denies everything.
 */
export const jwtPrincipalWithoutRequestAuthentication: Analyzer = {
  name: 'JwtPrincipalWithoutRequestAuthentication',
  messages: [Messages.JwtPrincipalWithoutRequestAuthentication],
  analyze(context: AnalysisContext): Diagnostic[] {
    const out: Diagnostic[] = [];
    const requestAuthentications = context.ofKind('RequestAuthentication');
    for (const policy of context.ofKind('AuthorizationPolicy')) {
      const uses = jwtUses(policy.object.spec);
      const first = uses[0];
      if (first === undefined) continue;
      const covered = requestAuthentications.some((ra) =>
        (ra.namespace === policy.namespace || ra.namespace === ROOT_NAMESPACE) && covers(context, ra, policy));
      if (covered) continue;
      const what = [...new Set(uses.map((u) => u.what))].join(' and ');
      out.push(finding(
        Messages.JwtPrincipalWithoutRequestAuthentication,
        policy,
        `The AuthorizationPolicy uses ${what} but no RequestAuthentication applies to its workloads (${describeTarget(policy)}), so requests are never authenticated by JWT and carry no request principal or claims. Add a RequestAuthentication that selects these workloads, or one in ${ROOT_NAMESPACE} for the whole mesh.`,
        first.at,
      ));
    }
    return out;
  },
};

function jwtUses(spec: AuthorizationPolicySpec): JwtUse[] {
  const uses: JwtUse[] = [];
  spec.rules?.forEach((rule, i) => {
    rule.from?.forEach((from, j) => {
      for (const field of ['requestPrincipals', 'notRequestPrincipals'] as const) {
        if ((from.source[field]?.length ?? 0) > 0) uses.push({ what: field, at: ['spec', 'rules', i, 'from', j, 'source', field] });
      }
    });
    rule.when?.forEach((condition, j) => {
      if (condition.key.startsWith('request.auth.')) uses.push({ what: condition.key, at: ['spec', 'rules', i, 'when', j, 'key'] });
    });
  });
  return uses;
}

/**
 * Whether the RequestAuthentication reaches every workload the policy applies to: it has no
 * selector or target (namespace- or mesh-wide), or its selector asks for a subset of the policy's
 * labels, or both select the same workload of the input, or both target the same resource.
 */
function covers(context: AnalysisContext, ra: Resource<'RequestAuthentication'>, policy: Resource<'AuthorizationPolicy'>): boolean {
  const raSpec = ra.object.spec;
  const apSpec = policy.object.spec;
  const raLabels = raSpec.selector?.matchLabels ?? {};
  const raTargets = targets(raSpec);
  if (Object.keys(raLabels).length === 0 && raTargets.length === 0) return true;
  if (raTargets.length > 0) return targets(apSpec).some((t) => raTargets.includes(t));
  const apLabels = apSpec.selector?.matchLabels;
  if (apLabels === undefined) return false;
  if (selectorMatches(raLabels, apLabels)) return true;
  return context.workloadsSelectedBy(policy.namespace, apLabels).some((w) => selectorMatches(raLabels, w.labels));
}

function targets(spec: AuthorizationPolicySpec | RequestAuthenticationSpec): string[] {
  const refs = [...(spec.targetRef !== undefined ? [spec.targetRef] : []), ...(spec.targetRefs ?? [])];
  return refs.map((r) => `${r.kind}/${r.name}`);
}

function describeTarget(policy: Resource<'AuthorizationPolicy'>): string {
  const spec = policy.object.spec;
  const labels = spec.selector?.matchLabels ?? {};
  if (Object.keys(labels).length > 0) return formatSelector(labels);
  const refs = targets(spec);
  if (refs.length > 0) return refs.join(', ');
  return policy.namespace === ROOT_NAMESPACE ? 'every workload of the mesh' : `every workload of namespace ${policy.namespace}`;
}
