export { WorkloadCertificateClient, type CreateKeyAndCsr, type WorkloadCertificate, type WorkloadCertificateOptions, type WorkloadIdentity } from './workload-certificate.ts';
export { verifyCertificateChain, type ExpectedLeaf, type VerifiedLeaf } from './verify-chain.ts';
