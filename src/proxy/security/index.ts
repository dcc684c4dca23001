export { WorkloadCertificateClient, type CreateKeyAndCsr, type WorkloadCertificate, type WorkloadCertificateOptions, type WorkloadIdentity } from './workload-certificate.ts';
export { verifyCertificateChain, type ExpectedLeaf, type VerifiedLeaf } from './verify-chain.ts';
export { parseSecret, sdsSecretNames, SecretStore, type HeldSecret, type SecretLookup, type SecretValue } from './secret-store.ts';
