import { x509 } from './x509.ts';
import { derToPem } from './pem.ts';

/** Makes a P-256 key pair and a CSR for a workload: what a proxy sends the CA (main/ hands it to the proxy's certificate client). */
export async function createWorkloadKeyAndCsr(identity: string): Promise<{ readonly keyPem: string; readonly csrPem: string }> {
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: identity }], true)],
  });
  const keyPem = derToPem(await crypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
  return { keyPem, csrPem: csr.toString('pem') };
}
