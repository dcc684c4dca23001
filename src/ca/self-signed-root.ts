import { randomBytes } from 'node:crypto';
import { x509 } from './x509.ts';
import { derToPem } from './pem.ts';


const DAY_MS = 86_400_000;
/** Certificates start a minute back so a peer whose clock runs slightly behind still accepts them (Istio does similar). */
export const CLOCK_SKEW_MS = 60_000;

/** A new ECDSA P-256 root, CN "Weft Root CA", O = the trust domain, valid from a minute before `now` for `lifetimeDays`. */
export async function createSelfSignedRoot(trustDomain: string, now: Date, lifetimeDays: number): Promise<{ certPem: string; keyPem: string }> {
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: ['Weft Root CA'] }, { O: [trustDomain] }],
    notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
    notAfter: new Date(now.getTime() + lifetimeDays * DAY_MS),
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: derToPem(await crypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY') };
}

/** 16 random bytes, positive and with a non-zero first byte so the DER integer keeps all 16. */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x3f) | 0x40;
  return bytes.toString('hex');
}
