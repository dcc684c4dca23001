export { spiffeId, parseSpiffeId, type WorkloadIdentity } from './spiffe-id.ts';
export { loadCertificateAuthority, type CertificateAuthority, type CaOptions, type SignRequest, type ServerCertificate, type ServerCertificateRequest } from './certificate-authority.ts';
export { createWorkloadKeyAndCsr } from './workload-csr.ts';
export { ReloadingCertificateAuthority, type ReloadingCaOptions, type ReloadOutcome } from './reloading-certificate-authority.ts';
