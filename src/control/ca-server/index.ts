export { CertificateSigningService, type CertificateSigningServiceOptions, type GrpcServiceRegistry, type Refusal } from './certificate-signing-service.ts';
export { WorkloadTokens, type WorkloadTokensOptions } from './workload-tokens.ts';
export type { WorkloadIdentity, WorkloadTokenAuthenticator } from './workload-token-authenticator.ts';
export { ControlPlaneCertificate, CONTROL_PLANE_DNS_NAMES, CONTROL_PLANE_IP_ADDRESSES, type ControlPlaneCertificateOptions } from './control-plane-certificate.ts';
