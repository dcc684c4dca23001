import { X509Certificate } from 'node:crypto';
import { err, ok, type Result } from '../../core/index.ts';

export interface ExpectedLeaf {
  /** The SPIFFE id the leaf must name, as its only URI SAN. */
  readonly identity: string;
  /** Our public key, SPKI DER: the leaf must certify it and no other. */
  readonly publicKeySpki: Uint8Array;
}

export interface VerifiedLeaf {
  readonly notBefore: number;
  readonly notAfter: number;
  /** Lower-case hex, as Envoy's /certs shows it. */
  readonly serial: string;
}

/**
 * Checks a CA's answer before the proxy takes it: the leaf is ours (our key, our identity, not
 * expired), each certificate is issued and signed by the next, and the last is a self-signed root.
 * Nothing is trusted yet, so this catches a broken or confused CA, not a malicious one.
 */
export function verifyCertificateChain(chainPem: readonly string[], expected: ExpectedLeaf, now: number): Result<VerifiedLeaf, string> {
  if (chainPem.length < 2) return err(`expected the leaf and at least the root, got ${chainPem.length} certificate${chainPem.length === 1 ? '' : 's'}`);
  const chain: X509Certificate[] = [];
  for (const [index, pem] of chainPem.entries()) {
    try {
      chain.push(new X509Certificate(pem));
    } catch (error) {
      return err(`certificate ${index} of the chain does not parse: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const leaf = chain[0]!;
  const leafKey = leaf.publicKey.export({ type: 'spki', format: 'der' });
  if (!leafKey.equals(expected.publicKeySpki)) return err('the certificate is not for our key');
  const uris = subjectAltNameUris(leaf.subjectAltName);
  if (uris.length !== 1 || uris[0] !== expected.identity) {
    return err(`the certificate names ${uris.length === 0 ? 'no URI' : uris.join(', ')}; expected only ${expected.identity}`);
  }
  const notBefore = leaf.validFromDate.getTime();
  const notAfter = leaf.validToDate.getTime();
  if (notAfter <= now) return err(`the certificate expired at ${leaf.validToDate.toISOString()}`);
  for (let index = 0; index < chain.length; index++) {
    const certificate = chain[index]!;
    const issuer = chain[index + 1] ?? certificate;
    const what = index === chain.length - 1 ? 'the root is not self-signed' : `certificate ${index} of the chain is not issued by certificate ${index + 1}`;
    if (!certificate.checkIssued(issuer) || !certificate.verify(issuer.publicKey)) return err(what);
  }
  return ok({ notBefore, notAfter, serial: leaf.serialNumber.toLowerCase() });
}

/** The URI entries of node's `subjectAltName` text ("URI:spiffe://..., DNS:..."). */
function subjectAltNameUris(subjectAltName: string | undefined): string[] {
  if (subjectAltName === undefined) return [];
  return subjectAltName.split(', ').filter((name) => name.startsWith('URI:')).map((name) => name.slice('URI:'.length));
}
