import type { Level } from './diagnostic.ts';

/**
 * The catalogue of finding codes. Codes are stable: a retired code is never reused. Numbers follow
 * istioctl's IST codes where the meaning is the same, so users can carry over what they know.
 */
export interface MessageType {
  readonly code: string;
  readonly name: string;
  readonly level: Level;
  readonly description: string;
}

function message(code: string, name: string, level: Level, description: string): MessageType {
  return { code, name, level, description };
}

export const Messages = {
  ReferencedHostNotFound: message('WFT0101', 'ReferencedHostNotFound', 'Error', 'A VirtualService destination or mirror names a host that no Service or ServiceEntry defines.'),
  NamespaceNotInjected: message('WFT0102', 'NamespaceNotInjected', 'Info', 'A namespace is not labelled istio-injection=enabled, so its workloads get no sidecar.'),
  ReferencedSubsetNotFound: message('WFT0103', 'ReferencedSubsetNotFound', 'Error', 'A route names a subset that no DestinationRule for that host defines (traffic would fail with 503).'),
  ReferencedGatewayNotFound: message('WFT0104', 'ReferencedGatewayNotFound', 'Error', 'A VirtualService is bound to a Gateway that does not exist.'),
  SchemaValidationError: message('WFT0106', 'SchemaValidationError', 'Error', 'A resource does not follow its schema: a wrong type, an unknown field, a value out of range, broken YAML.'),
  RemovedApiVersion: message('WFT0107', 'RemovedApiVersion', 'Error', 'A resource uses an apiVersion that Kubernetes or Istio no longer serves.'),
  UnknownKind: message('WFT0108', 'UnknownKind', 'Error', 'apiVersion or kind is missing, misspelt, or not served in the given version.'),
  ConflictingMeshGatewayVirtualServiceHosts: message('WFT0109', 'ConflictingMeshGatewayVirtualServiceHosts', 'Error', 'Several VirtualServices for the same host are bound to the mesh (sidecars), where Istio does not merge them.'),
  DestinationPortSelectorRequired: message('WFT0112', 'DestinationPortSelectorRequired', 'Error', 'A route destination names a service with several ports but no port.'),
  MtlsPolicyConflict: message('WFT0113', 'MtlsPolicyConflict', 'Error', 'A DestinationRule sends plaintext or non-Istio TLS to workloads that a STRICT PeerAuthentication protects.'),
  DuplicateResource: message('WFT0115', 'DuplicateResource', 'Error', 'The same kind, namespace and name is defined twice; the first definition is kept.'),
  PortNameNotUnderNamingConvention: message('WFT0118', 'PortNameNotUnderNamingConvention', 'Info', 'A Service port name has no protocol prefix (http-, grpc-, tcp-, ...) and no appProtocol, so its protocol is sniffed.'),
  NoMatchingWorkloads: message('WFT0127', 'NoMatchingWorkloads', 'Warning', 'A policy selector matches no workload in its namespace.'),
  VirtualServiceUnreachableRule: message('WFT0130', 'VirtualServiceUnreachableRule', 'Warning', 'An HTTP rule follows a rule that matches every request, so it can never be reached.'),
  VirtualServiceIneffectiveMatch: message('WFT0131', 'VirtualServiceIneffectiveMatch', 'Info', 'A match of an HTTP, TCP or TLS rule repeats a match of an earlier rule, so it never takes effect.'),
  VirtualServiceHostNotFoundInGateway: message('WFT0132', 'VirtualServiceHostNotFoundInGateway', 'Warning', 'None of a VirtualService\'s hosts is served by a Gateway it is bound to, so the gateway never routes by it.'),
  RouteWeightsNotSumTo100: message('WFT0141', 'RouteWeightsNotSumTo100', 'Error', 'The weights of a route\'s destinations do not add up to 100.'),
  JwtPrincipalWithoutRequestAuthentication: message('WFT0150', 'JwtPrincipalWithoutRequestAuthentication', 'Warning', 'An AuthorizationPolicy uses requestPrincipals or request.auth.* but no RequestAuthentication applies to its workloads, so no request carries a principal.'),
  UnknownDestinationRuleHost: message('WFT0174', 'UnknownDestinationRuleHost', 'Warning', 'A DestinationRule host names no Service or ServiceEntry, so its policy applies to nothing.'),
  ConflictingGatewayVirtualServiceHosts: message('WFT0200', 'ConflictingGatewayVirtualServiceHosts', 'Warning', 'Several VirtualServices bound to the same Gateway define the same host; their rules are merged in the order the VirtualServices were created, which the files do not fix.'),
  ReferencedRouteNotFound: message('WFT0201', 'ReferencedRouteNotFound', 'Warning', 'A LocalRateLimit limits a VirtualService http route that the input does not define (no such VirtualService, or no http route of that name), so the limit applies to nothing.'),
} as const satisfies Record<string, MessageType>;

export type MessageName = keyof typeof Messages;
