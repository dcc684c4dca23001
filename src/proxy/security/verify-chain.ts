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
  /** The leaf, the intermediates, then the root of the bundle they chain to: what the proxy presents. */
  readonly certChainPem: readonly string[];
  /** Every root of the bundle, PEM each: what peers' certificates may chain to. */
  readonly trustBundle: readonly string[];
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * Checks a CA's answer before the proxy takes it. The answer is Istio's cert_chain: the leaf, any
 * intermediates, and last the trust bundle (one element holding every root, as istiod sends it; a
 * single root is a bundle of one). The leaf must be ours (our key, our identity, not expired), each
 * certificate issued and signed by the next, the last of them issued by one of the bundle's roots,
 * and every root self-signed. Nothing is trusted yet, so this catches a broken or confused CA, not a
 * malicious one.
 */
export function verifyCertificateChain(chainPem: readonly string[], expected: ExpectedLeaf, now: number): Result<VerifiedLeaf, string> {
  if (chainPem.length < 2) return err(`expected the leaf and at least the root, got ${chainPem.length} certificate${chainPem.length === 1 ? '' : 's'}`);
  const chain: X509Certificate[] = [];
  for (const [index, pem] of chainPem.slice(0, -1).entries()) {
    try {
      chain.push(new X509Certificate(pem));
    } catch (error) {
      return err(`certificate ${index} of the chain does not parse: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const bundlePem = chainPem[chainPem.length - 1]!.match(PEM_CERTIFICATE) ?? [];
  if (bundlePem.length === 0) return err('the last element of the chain (the trust bundle) holds no PEM certificate');
  const bundle: X509Certificate[] = [];
  for (const [index, pem] of bundlePem.entries()) {
    try {
      bundle.push(new X509Certificate(pem));
    } catch (error) {
      return err(`root ${index} of the trust bundle does not parse: ${error instanceof Error ? error.message : String(error)}`);
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
  for (let index = 0; index + 1 < chain.length; index++) {
    const certificate = chain[index]!;
    const issuer = chain[index + 1]!;
    if (!certificate.checkIssued(issuer) || !certificate.verify(issuer.publicKey)) return err(`certificate ${index} of the chain is not issued by certificate ${index + 1}`);
  }
  for (const [index, root] of bundle.entries()) {
    if (!root.checkIssued(root) || !root.verify(root.publicKey)) return err(`root ${index} of the trust bundle is not self-signed`);
  }
  const last = chain[chain.length - 1]!;
  const anchor = bundle.findIndex((root) => root.raw.equals(last.raw) || (last.checkIssued(root) && last.verify(root.publicKey)));
  if (anchor < 0) return err(`the chain does not end at a root of the trust bundle (${bundle.length} root${bundle.length === 1 ? '' : 's'}; it ends at ${last.issuer.split('\n').join(', ') || 'no issuer'})`);
  const roots = bundlePem.map((pem) => `${pem}\n`);
  const anchored = bundle[anchor]!.raw.equals(last.raw) ? chainPem.slice(0, -1) : [...chainPem.slice(0, -1), roots[anchor]!];
  return ok({ notBefore, notAfter, serial: leaf.serialNumber.toLowerCase(), certChainPem: anchored, trustBundle: roots });
}

/** The URI entries of node's `subjectAltName` text ("URI:spiffe://..., DNS:..."). */
function subjectAltNameUris(subjectAltName: string | undefined): string[] {
  if (subjectAltName === undefined) return [];
  return subjectAltName.split(', ').filter((name) => name.startsWith('URI:')).map((name) => name.slice('URI:'.length));
}
