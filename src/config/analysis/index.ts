import type { Diagnostic } from '../diagnostic.ts';
import type { AnyResource } from '../resource.ts';
import { createAnalysisContext } from './analysis-context.ts';
import type { Analyzer } from './analyzer.ts';
import { conflictingVirtualServiceHosts } from './analyzers/conflicting-virtual-service-hosts.ts';
import { destinationPortSelectorRequired } from './analyzers/destination-port-selector-required.ts';
import { jwtPrincipalWithoutRequestAuthentication } from './analyzers/jwt-principal-without-request-authentication.ts';
import { mtlsPolicyConflict } from './analyzers/mtls-policy-conflict.ts';
import { namespaceNotInjected } from './analyzers/namespace-not-injected.ts';
import { noMatchingWorkloads } from './analyzers/no-matching-workloads.ts';
import { portNameNotUnderNamingConvention } from './analyzers/port-name-not-under-naming-convention.ts';
import { referencedGatewayNotFound } from './analyzers/referenced-gateway-not-found.ts';
import { referencedHostNotFound } from './analyzers/referenced-host-not-found.ts';
import { referencedRouteNotFound } from './analyzers/referenced-route-not-found.ts';
import { referencedSubsetNotFound } from './analyzers/referenced-subset-not-found.ts';
import { virtualServiceHostNotFoundInGateway } from './analyzers/virtual-service-host-not-found-in-gateway.ts';
import { virtualServiceUnreachableRule } from './analyzers/virtual-service-unreachable-rule.ts';

export type { Analyzer } from './analyzer.ts';
export type { AnalysisContext, RegistryService, ServicePort, Workload, DestinationRuleEntry } from './analysis-context.ts';
export { createAnalysisContext } from './analysis-context.ts';
export { CLUSTER_DOMAIN, hostCoveredBy, hostsOverlap, isWildcardHost, resolveHost, serviceHost, serviceHostNamespace } from './host-name.ts';
export { MESH_GATEWAY, formatGatewayName, resolveGatewayReference, type GatewayName } from './gateway-reference.ts';

/** Every analyzer Weft ships, in the order of their first code. */
export function builtinAnalyzers(): Analyzer[] {
  return [
    referencedHostNotFound,
    namespaceNotInjected,
    referencedSubsetNotFound,
    referencedGatewayNotFound,
    conflictingVirtualServiceHosts,
    destinationPortSelectorRequired,
    mtlsPolicyConflict,
    portNameNotUnderNamingConvention,
    noMatchingWorkloads,
    virtualServiceUnreachableRule,
    virtualServiceHostNotFoundInGateway,
    jwtPrincipalWithoutRequestAuthentication,
    referencedRouteNotFound,
  ];
}

/**
 * Runs cross-resource checks over validated resources (what `parseSources` kept) and returns the
 * findings ordered by file, line, code, then column and message, so the output is the same on
 * every run.
 */
export function analyze(resources: readonly AnyResource[], options: { analyzers?: readonly Analyzer[] } = {}): Diagnostic[] {
  const context = createAnalysisContext(resources);
  const findings = (options.analyzers ?? builtinAnalyzers()).flatMap((analyzer) => analyzer.analyze(context));
  return findings.sort(compareFindings);
}

function compareFindings(a: Diagnostic, b: Diagnostic): number {
  return compareText(a.origin?.file ?? '', b.origin?.file ?? '') ||
    (a.origin?.line ?? 0) - (b.origin?.line ?? 0) ||
    compareText(a.code, b.code) ||
    (a.origin?.column ?? 0) - (b.origin?.column ?? 0) ||
    compareText(a.message, b.message);
}

/** Code-unit order, the same in every locale. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
