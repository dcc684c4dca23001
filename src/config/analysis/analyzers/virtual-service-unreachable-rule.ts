import type { Diagnostic } from '../../diagnostic.ts';
import type { HTTPMatchRequest } from '../../kinds/networking/virtual-service.ts';
import { Messages } from '../../messages.ts';
import type { Resource } from '../../resource.ts';
import type { AnalysisContext } from '../analysis-context.ts';
import { finding, type Analyzer } from '../analyzer.ts';

type Protocol = 'http' | 'tcp' | 'tls';

/** What this check needs of a rule of any protocol. */
interface RuleView {
  readonly label: string;
  readonly matches: readonly MatchView[];
}

interface MatchView {
  readonly label: string;
  /** The routing content of the match, the same for two matches that select the same requests. */
  readonly key: string;
  readonly takesEveryRequest: boolean;
}

/**
 * Rules are tried in order and the first match wins, so a rule after one that matches every
 * request (no `match`, or `uri: {prefix: /}` alone) is never used, and neither is a rule all of
 * whose matches repeat earlier ones (Warning). A single repeated match is reported as Info, as
 * istioctl does.
 */
export const virtualServiceUnreachableRule: Analyzer = {
  name: 'VirtualServiceUnreachableRule',
  messages: [Messages.VirtualServiceUnreachableRule, Messages.VirtualServiceIneffectiveMatch],
  analyze(context: AnalysisContext): Diagnostic[] {
    const out: Diagnostic[] = [];
    for (const vs of context.ofKind('VirtualService')) {
      const spec = vs.object.spec;
      analyzeRules(vs, 'http', (spec.http ?? []).map((rule, i) => ({
        label: rule.name !== undefined && rule.name !== '' ? JSON.stringify(rule.name) : `#${i}`,
        matches: (rule.match ?? []).map((m, j) => ({
          label: m.name !== undefined && m.name !== '' ? JSON.stringify(m.name) : `#${j}`,
          key: routingKey(m),
          takesEveryRequest: takesEveryRequest(m),
        })),
      })), out);
      for (const protocol of ['tls', 'tcp'] as const) {
        analyzeRules(vs, protocol, (spec[protocol] ?? []).map((rule, i) => ({
          label: `${protocol} #${i}`,
          matches: (rule.match ?? []).map((m, j) => ({ label: `#${j}`, key: routingKey(m), takesEveryRequest: false })),
        })), out);
      }
    }
    return out;
  },
};

function analyzeRules(vs: Resource<'VirtualService'>, protocol: Protocol, rules: readonly RuleView[], out: Diagnostic[]): void {
  /** Set once a rule takes every request: why the rules after it are unreachable. */
  let takesAll: { readonly withoutMatch: boolean; readonly reason: string } | undefined;
  const firstRuleOf = new Map<string, RuleView>();
  rules.forEach((rule, i) => {
    const unreachable = (reason: string): void => {
      out.push(finding(Messages.VirtualServiceUnreachableRule, vs, `VirtualService rule ${rule.label} not used (${reason}).`, ['spec', protocol, i]));
    };
    if (takesAll !== undefined) {
      unreachable(rule.matches.length === 0 && takesAll.withoutMatch ? 'only the last rule can have no matches' : takesAll.reason);
      return;
    }
    if (rule.matches.length === 0) {
      takesAll = { withoutMatch: true, reason: 'route without matches defined before' };
      return;
    }
    const earlier = rule.matches.map((match) => {
      const first = firstRuleOf.get(match.key);
      if (first === undefined) firstRuleOf.set(match.key, rule);
      return first;
    });
    if (earlier.every((r) => r !== undefined)) {
      unreachable('all matches used by prior rules');
      return;
    }
    rule.matches.forEach((match, j) => {
      const first = earlier[j];
      if (first === undefined) return;
      out.push(finding(
        Messages.VirtualServiceIneffectiveMatch,
        vs,
        `VirtualService rule ${rule.label} match ${match.label} is not used (duplicate/overlapping match in rule ${first.label}).`,
        ['spec', protocol, i, 'match', j],
      ));
    });
    if (rule.matches.some((m) => m.takesEveryRequest)) {
      takesAll = { withoutMatch: false, reason: `rule ${rule.label} before it matches every request with uri prefix "/"` };
    }
  });
}

/** Fields of a match that name or count it but do not select requests. */
const NOT_ROUTING = new Set(['name', 'statPrefix']);

/** A match that only asks that the path start with `/` takes every HTTP request. */
function takesEveryRequest(match: HTTPMatchRequest): boolean {
  const conditions = Object.entries(match).filter(([key, value]) => value !== undefined && !NOT_ROUTING.has(key) && key !== 'ignoreUriCase');
  if (conditions.length !== 1 || conditions[0]?.[0] !== 'uri') return false;
  const uri = match.uri;
  return uri?.prefix === '/' || uri?.regex === '.*' || uri?.regex === '/.*';
}

function routingKey(match: object): string {
  return canonicalJson(Object.fromEntries(Object.entries(match).filter(([key]) => !NOT_ROUTING.has(key))));
}

/** JSON with keys sorted, so that key order as written does not matter. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
