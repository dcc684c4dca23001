import { createPublicKey } from 'node:crypto';
import { x509 } from './x509.ts';
import { err, ok, type Result } from '../core/index.ts';


const MIN_RSA_BITS = 2048;

/** The public key of a CSR whose signature verifies (proof the requester holds the key) and whose key is strong enough. */
export async function checkCsr(csrPem: string): Promise<Result<x509.PublicKey, string>> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (cause) {
    return err(`the CSR is not a PKCS#10 certificate request (${(cause as Error).message})`);
  }
  let verified: boolean;
  try {
    verified = await csr.verify();
  } catch (cause) {
    return err(`the CSR's signature cannot be checked (${(cause as Error).message})`);
  }
  if (!verified) return err("the CSR's signature does not verify");
  const key = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' });
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1') return ok(csr.publicKey);
  if (key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) >= MIN_RSA_BITS) return ok(csr.publicKey);
  const what = key.asymmetricKeyType === 'ec' ? `EC ${details.namedCurve}` : key.asymmetricKeyType === 'rsa' ? `RSA ${details.modulusLength}-bit` : key.asymmetricKeyType;
  return err(`the CSR's key is ${what}; the CA signs EC P-256 or RSA >= ${MIN_RSA_BITS}-bit keys`);
}
