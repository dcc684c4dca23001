import { BlockList, isIP } from 'node:net';
import type { CidrRange, FilterChainMatch } from '../../xds/envoy/index.ts';

/** What a connection shows for filter chain matching, once the listener filters ran. */
export interface ConnectionFacts {
  /** The original destination (restored for redirected connections), IPv4-mapped addresses unwrapped. */
  readonly destinationAddress: string;
  readonly destinationPort: number;
  readonly sourceAddress: string;
  readonly sourcePort: number;
  readonly serverName?: string;
  readonly transportProtocol: string;
  readonly applicationProtocols: readonly string[];
}

interface Prefix {
  readonly family: 'ipv4' | 'ipv6';
  readonly length: number;
  readonly list: BlockList;
}

interface CompiledMatch<T> {
  readonly value: T;
  readonly destinationPort: number | undefined;
  readonly prefixes: readonly Prefix[];
  readonly exactNames: ReadonlySet<string>;
  /** `*.example.com` kept as `.example.com`. */
  readonly wildcardSuffixes: readonly string[];
  readonly transportProtocol: string | undefined;
  readonly applicationProtocols: ReadonlySet<string>;
  readonly sourceType: 'ANY' | 'SAME_IP_OR_LOOPBACK' | 'EXTERNAL';
  readonly sourcePrefixes: readonly Prefix[];
  readonly sourcePorts: ReadonlySet<number>;
}

/** How well a chain matches on one criterion: a number (higher is more specific), or undefined for no match. */
type Score<T> = (chain: CompiledMatch<T>, facts: ConnectionFacts) => number | undefined;

/**
 * Picks a listener's filter chain for a connection as Envoy does: criteria are applied in order
 * (destination port, destination IP, server name, transport protocol, application protocols,
 * source type, source IP, source port). At each, the chains that match the connection most
 * specifically stay, or when none sets the criterion to something that matches, the chains that
 * leave it unset; there is no backtracking. No chain left: the default chain, if any.
 */
export class FilterChainMatcher<T> {
  private readonly chains: readonly CompiledMatch<T>[];
  private readonly fallback: T | undefined;

  /** The matches must have been checked by `filterChainMatchProblems`. */
  constructor(chains: readonly { readonly match: FilterChainMatch | undefined; readonly value: T }[], fallback: T | undefined) {
    this.chains = chains.map((c) => compile(c.match ?? {}, c.value));
    this.fallback = fallback;
  }

  select(facts: ConnectionFacts): T | undefined {
    let candidates = this.chains;
    for (const step of STEPS as readonly Step<T>[]) {
      candidates = narrow(candidates, facts, step);
      if (candidates.length === 0) return this.fallback;
    }
    return candidates[0]?.value ?? this.fallback;
  }
}

interface Step<T> {
  readonly score: Score<T>;
  readonly unset: (chain: CompiledMatch<T>) => boolean;
}

function narrow<T>(candidates: readonly CompiledMatch<T>[], facts: ConnectionFacts, step: Step<T>): readonly CompiledMatch<T>[] {
  let best = -1;
  let bestChains: CompiledMatch<T>[] = [];
  for (const chain of candidates) {
    if (step.unset(chain)) continue;
    const score = step.score(chain, facts);
    if (score === undefined || score < best) continue;
    if (score > best) {
      best = score;
      bestChains = [];
    }
    bestChains.push(chain);
  }
  return best >= 0 ? bestChains : candidates.filter(step.unset);
}

const STEPS: readonly Step<unknown>[] = [
  { score: (c, f) => (c.destinationPort === f.destinationPort ? 0 : undefined), unset: (c) => c.destinationPort === undefined },
  { score: (c, f) => longestPrefix(c.prefixes, f.destinationAddress), unset: (c) => c.prefixes.length === 0 },
  { score: (c, f) => serverNameScore(c, f.serverName), unset: (c) => c.exactNames.size === 0 && c.wildcardSuffixes.length === 0 },
  { score: (c, f) => (c.transportProtocol === f.transportProtocol ? 0 : undefined), unset: (c) => c.transportProtocol === undefined },
  { score: (c, f) => (f.applicationProtocols.some((p) => c.applicationProtocols.has(p)) ? 0 : undefined), unset: (c) => c.applicationProtocols.size === 0 },
  { score: (c, f) => (c.sourceType === sourceTypeOf(f) ? 0 : undefined), unset: (c) => c.sourceType === 'ANY' },
  { score: (c, f) => longestPrefix(c.sourcePrefixes, f.sourceAddress), unset: (c) => c.sourcePrefixes.length === 0 },
  { score: (c, f) => (c.sourcePorts.has(f.sourcePort) ? 0 : undefined), unset: (c) => c.sourcePorts.size === 0 },
];

/** An exact name outranks every wildcard; a longer wildcard suffix outranks a shorter one. */
function serverNameScore<T>(chain: CompiledMatch<T>, serverName: string | undefined): number | undefined {
  if (serverName === undefined || serverName === '') return undefined;
  const name = serverName.toLowerCase();
  if (chain.exactNames.has(name)) return Number.MAX_SAFE_INTEGER;
  let best: number | undefined;
  for (const suffix of chain.wildcardSuffixes) {
    if (name.length > suffix.length && name.endsWith(suffix) && (best === undefined || suffix.length > best)) best = suffix.length;
  }
  return best;
}

function sourceTypeOf(facts: ConnectionFacts): 'SAME_IP_OR_LOOPBACK' | 'EXTERNAL' {
  const source = facts.sourceAddress;
  const loopback = source === '::1' || source.startsWith('127.');
  return loopback || source === facts.destinationAddress ? 'SAME_IP_OR_LOOPBACK' : 'EXTERNAL';
}

function longestPrefix(prefixes: readonly Prefix[], address: string): number | undefined {
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  let best: number | undefined;
  for (const prefix of prefixes) {
    if (prefix.family !== family || (best !== undefined && prefix.length <= best)) continue;
    if (prefix.list.check(address, family)) best = prefix.length;
  }
  return best;
}

function compile<T>(match: FilterChainMatch, value: T): CompiledMatch<T> {
  const names = (match.serverNames ?? []).map((n) => n.toLowerCase());
  return {
    value,
    destinationPort: match.destinationPort,
    prefixes: (match.prefixRanges ?? []).map(prefix),
    exactNames: new Set(names.filter((n) => !n.startsWith('*.'))),
    wildcardSuffixes: names.filter((n) => n.startsWith('*.')).map((n) => n.slice(1)),
    transportProtocol: match.transportProtocol === '' ? undefined : match.transportProtocol,
    applicationProtocols: new Set(match.applicationProtocols ?? []),
    sourceType: match.sourceType ?? 'ANY',
    sourcePrefixes: (match.sourcePrefixRanges ?? []).map(prefix),
    sourcePorts: new Set(match.sourcePorts ?? []),
  };
}

function prefix(range: CidrRange): Prefix {
  const family = isIP(range.addressPrefix) === 6 ? 'ipv6' : 'ipv4';
  const length = range.prefixLen ?? 0;
  const list = new BlockList();
  list.addSubnet(range.addressPrefix, length, family);
  return { family, length, list };
}

/**
 * What is wrong with a filter chain match, by field (`prefixRanges[0]: ...`): addresses that are
 * not IPs, prefix lengths out of range, ports out of range, server names that are neither a
 * hostname nor `*.` followed by one.
 */
export function filterChainMatchProblems(match: FilterChainMatch): string[] {
  const problems: string[] = [];
  if (match.destinationPort !== undefined && !isPort(match.destinationPort)) problems.push(`destinationPort: ${String(match.destinationPort)} is not a port (1-65535)`);
  rangeProblems(match.prefixRanges, 'prefixRanges', problems);
  rangeProblems(match.sourcePrefixRanges, 'sourcePrefixRanges', problems);
  (match.serverNames ?? []).forEach((name, i) => {
    const host = name.startsWith('*.') ? name.slice(2) : name;
    if (typeof name !== 'string' || host === '' || host.includes('*')) problems.push(`serverNames[${i}]: "${String(name)}" is not a server name (a hostname, or "*." and a domain)`);
  });
  (match.sourcePorts ?? []).forEach((port, i) => {
    if (!isPort(port)) problems.push(`sourcePorts[${i}]: ${String(port)} is not a port (1-65535)`);
  });
  if (match.sourceType !== undefined && !['ANY', 'SAME_IP_OR_LOOPBACK', 'EXTERNAL'].includes(match.sourceType)) {
    problems.push(`sourceType: "${String(match.sourceType)}" is not one of ANY, SAME_IP_OR_LOOPBACK, EXTERNAL`);
  }
  return problems;
}

function rangeProblems(ranges: readonly CidrRange[] | undefined, field: string, problems: string[]): void {
  (ranges ?? []).forEach((range, i) => {
    const version = typeof range.addressPrefix === 'string' ? isIP(range.addressPrefix) : 0;
    if (version === 0) {
      problems.push(`${field}[${i}].addressPrefix: "${String(range.addressPrefix)}" is not an IP address`);
      return;
    }
    const max = version === 6 ? 128 : 32;
    const length = range.prefixLen ?? 0;
    if (!Number.isInteger(length) || length < 0 || length > max) problems.push(`${field}[${i}].prefixLen: ${String(length)} is not 0-${max}`);
  });
}

function isPort(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;
}
