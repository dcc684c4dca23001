import type { KindDefinition } from './kind-definition.ts';
import { VirtualServiceKind, type VirtualService } from './networking/virtual-service.ts';
import { DestinationRuleKind, type DestinationRule } from './networking/destination-rule.ts';
import { GatewayKind, type Gateway } from './networking/gateway.ts';
import { ServiceEntryKind, type ServiceEntry } from './networking/service-entry.ts';
import { SidecarKind, type Sidecar } from './networking/sidecar.ts';
import { WorkloadEntryKind, type WorkloadEntry } from './networking/workload-entry.ts';
import { WorkloadGroupKind, type WorkloadGroup } from './networking/workload-group.ts';
import { PeerAuthenticationKind, type PeerAuthentication } from './security/peer-authentication.ts';
import { RequestAuthenticationKind, type RequestAuthentication } from './security/request-authentication.ts';
import { AuthorizationPolicyKind, type AuthorizationPolicy } from './security/authorization-policy.ts';
import { TelemetryKind, type Telemetry } from './telemetry/telemetry.ts';
import { NamespaceKind, type Namespace } from './kubernetes/namespace.ts';
import { ServiceKind, type Service } from './kubernetes/service.ts';
import { ServiceAccountKind, type ServiceAccount } from './kubernetes/service-account.ts';
import { PodKind, type Pod } from './kubernetes/pod.ts';
import { SecretKind, type Secret } from './kubernetes/secret.ts';
import { DeploymentKind, type Deployment } from './kubernetes/deployment.ts';
import { LocalWorkloadKind, type LocalWorkload } from './weft/local-workload.ts';
import { LocalRateLimitKind, type LocalRateLimit } from './weft/local-rate-limit.ts';

/** The validated object of each kind Weft reads. */
export interface KindObjects {
  VirtualService: VirtualService;
  DestinationRule: DestinationRule;
  Gateway: Gateway;
  ServiceEntry: ServiceEntry;
  Sidecar: Sidecar;
  WorkloadEntry: WorkloadEntry;
  WorkloadGroup: WorkloadGroup;
  PeerAuthentication: PeerAuthentication;
  RequestAuthentication: RequestAuthentication;
  AuthorizationPolicy: AuthorizationPolicy;
  Telemetry: Telemetry;
  Namespace: Namespace;
  Service: Service;
  ServiceAccount: ServiceAccount;
  Pod: Pod;
  Secret: Secret;
  Deployment: Deployment;
  LocalWorkload: LocalWorkload;
  LocalRateLimit: LocalRateLimit;
}

export type KindName = keyof KindObjects;

export type KindRegistry = ReadonlyMap<string, KindDefinition>;

/** Every kind Weft reads, by kind name. Built by the caller (main/ or tests), never filled by imports. */
export function builtinKinds(): KindRegistry {
  const all: KindDefinition[] = [
    VirtualServiceKind, DestinationRuleKind, GatewayKind, ServiceEntryKind, SidecarKind, WorkloadEntryKind, WorkloadGroupKind,
    PeerAuthenticationKind, RequestAuthenticationKind, AuthorizationPolicyKind,
    TelemetryKind,
    NamespaceKind, ServiceKind, ServiceAccountKind, PodKind, SecretKind, DeploymentKind,
    LocalWorkloadKind, LocalRateLimitKind,
  ];
  return new Map(all.map((k) => [k.kind, k]));
}
