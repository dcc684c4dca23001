import { err, ok, type Result } from '../../../core/index.ts';
import { Problems } from '../../route/problems.ts';
import { RequestView } from '../../route/route-match.ts';
import type { MatchContext, RbacInput } from './rbac-input.ts';
import { parsePermission, parsePrincipal, type RbacMatcher } from './rbac-matchers.ts';
import { checkFields, enumValue, fieldPath, isObject, list, message } from './raw-json.ts';

export type RbacAction = 'ALLOW' | 'DENY' | 'LOG';

export interface RbacDecision {
  readonly allowed: boolean;
  /** The policy that matched (the first by name, as Envoy orders them); undefined when none did. */
  readonly matchedPolicy: string | undefined;
}

interface Policy {
  readonly name: string;
  readonly permissions: readonly RbacMatcher[];
  readonly principals: readonly RbacMatcher[];
}

/**
 * A compiled `envoy.config.rbac.v3.RBAC`. A policy matches when any of its permissions and any of
 * its principals match. ALLOW allows exactly what some policy matches, DENY denies exactly that,
 * and LOG allows everything (reporting the policy that matched, for the access log). Immutable.
 */
export class RbacEngine {
  readonly action: RbacAction;
  readonly #policies: readonly Policy[];

  constructor(action: RbacAction, policies: readonly Policy[]) {
    this.action = action;
    this.#policies = [...policies].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  evaluate(input: RbacInput): RbacDecision {
    const request = input.request;
    const context: MatchContext = {
      connection: input.connection,
      request: request === undefined ? undefined : { view: new RequestView(request.head), metadata: request.metadata },
    };
    const matched = this.#policies.find((p) => p.permissions.some((m) => m(context)) && p.principals.some((m) => m(context)));
    const matchedPolicy = matched?.name;
    switch (this.action) {
      case 'ALLOW': return { allowed: matched !== undefined, matchedPolicy };
      case 'DENY': return { allowed: matched === undefined, matchedPolicy };
      case 'LOG': return { allowed: true, matchedPolicy };
    }
  }
}

const ACTIONS: readonly RbacAction[] = ['ALLOW', 'DENY', 'LOG'];
const CEL = 'CEL conditions are not supported by Weft; express the rule with permissions and principals';

/**
 * Compiles an `envoy.config.rbac.v3.RBAC` found at `at` (e.g. `rules`), reporting every problem
 * with its field path (`rules.policies["ns[foo]-policy[bar]-rule[0]"].permissions[1].orRules...`).
 * CEL conditions and RBAC extensions are refused, as is any field or kind the proto does not have.
 */
export function compileRbac(raw: unknown, at: string, problems: Problems): RbacEngine | undefined {
  const rbac = message(raw, 'RBAC', at, problems);
  if (rbac === undefined) return undefined;
  const before = problems.count;
  checkFields(rbac, ['action', 'policies', 'auditLoggingOptions'], 'RBAC', at, problems);
  if (rbac['auditLoggingOptions'] !== undefined) problems.add(fieldPath(at, 'auditLoggingOptions'), 'is not supported by Weft: it has no RBAC audit loggers');
  const action = enumValue(rbac['action'], ACTIONS, 'ALLOW', fieldPath(at, 'action'), problems);
  const policies: Policy[] = [];
  const raws = rbac['policies'] ?? {};
  if (!isObject(raws)) problems.add(fieldPath(at, 'policies'), 'must be a map of policy name to Policy');
  else {
    for (const [name, policy] of Object.entries(raws)) {
      const compiled = compilePolicy(name, policy, `${fieldPath(at, 'policies')}[${JSON.stringify(name)}]`, problems);
      if (compiled !== undefined) policies.push(compiled);
    }
  }
  return problems.count > before ? undefined : new RbacEngine(action, policies);
}

/** compileRbac for an RBAC on its own: the problems, one per line, as the error. */
export function parseRbac(raw: unknown): Result<RbacEngine, string> {
  const lines: string[] = [];
  const engine = compileRbac(raw, '', new Problems('', lines));
  return engine === undefined ? err(lines.join('\n')) : ok(engine);
}

function compilePolicy(name: string, raw: unknown, at: string, problems: Problems): Policy | undefined {
  const policy = message(raw, 'Policy', at, problems);
  if (policy === undefined) return undefined;
  const before = problems.count;
  checkFields(policy, ['permissions', 'principals', 'condition', 'checkedCondition'], 'Policy', at, problems);
  for (const field of ['condition', 'checkedCondition']) {
    if (policy[field] !== undefined) problems.add(fieldPath(at, field), CEL);
  }
  const pat = fieldPath(at, 'permissions');
  const permissions = list(policy['permissions'], 1, pat, problems)?.map((p, i) => parsePermission(p, `${pat}[${i}]`, problems));
  const iat = fieldPath(at, 'principals');
  const principals = list(policy['principals'], 1, iat, problems)?.map((p, i) => parsePrincipal(p, `${iat}[${i}]`, problems));
  if (problems.count > before || permissions === undefined || principals === undefined) return undefined;
  return { name, permissions: permissions as RbacMatcher[], principals: principals as RbacMatcher[] };
}
