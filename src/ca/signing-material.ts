import { createPrivateKey, X509Certificate, type KeyObject, type webcrypto } from 'node:crypto';
import { x509 } from './x509.ts';
import { err, ok, type Result } from '../core/index.ts';
import { pemCertificates } from './pem.ts';


/** What the CA signs with: its certificate and key, and the chain from that certificate to a root. */
export interface SigningMaterial {
  readonly certificate: x509.X509Certificate;
  readonly key: webcrypto.CryptoKey;
  readonly signingAlgorithm: webcrypto.Algorithm | webcrypto.EcdsaParams;
  /** The signing certificate first, then intermediates, ending with the root (one of `roots`) it chains to, PEM each. */
  readonly chain: readonly string[];
  /** Every root of root-cert.pem: the trust bundle (old and new root while one is rotated). */
  readonly roots: readonly string[];
}

/** The files' texts, and the names to use when one of them is wrong. */
export interface SigningFiles {
  readonly certPem: string;
  readonly keyPem: string;
  readonly chainPem: string;
  readonly rootPem: string;
  readonly names: { readonly cert: string; readonly key: string; readonly chain: string; readonly root: string };
}

/** Checks that the files make a working CA at `now`, naming every problem found, and imports the key. */
export async function loadSigningMaterial(files: SigningFiles, now: Date): Promise<Result<SigningMaterial, string>> {
  const { names } = files;
  const problems: string[] = [];
  const certs = pemCertificates(files.certPem);
  const chain = pemCertificates(files.chainPem);
  const roots = pemCertificates(files.rootPem);
  if (certs.length !== 1) problems.push(`${names.cert}: expected one certificate, found ${certs.length}`);
  if (chain.length === 0) problems.push(`${names.chain}: no certificate found`);
  if (roots.length === 0) problems.push(`${names.root}: no certificate found`);
  for (const [name, pems] of [[names.cert, certs], [names.chain, chain], [names.root, roots]] as const) {
    if (!pems.every(parses)) problems.push(`${name}: a certificate in it is not valid X.509`);
  }
  let key: KeyObject | undefined;
  try {
    key = createPrivateKey(files.keyPem);
  } catch (cause) {
    problems.push(`${names.key}: not a readable unencrypted private key (${(cause as Error).message})`);
  }
  if (problems.length > 0) return err(problems.join('; '));

  const signer = new X509Certificate(certs[0]!);
  if (key !== undefined && !signer.checkPrivateKey(key)) problems.push(`${names.key}: the key does not match the certificate in ${names.cert}`);
  problems.push(...caProblems(certs[0]!, names.cert, now));
  for (const root of roots) problems.push(...caProblems(root, names.root, now));
  problems.push(...chainProblems(certs[0]!, chain, roots, names));
  if (problems.length > 0) return err(problems.join('; '));

  const imported = await importSigningKey(key!);
  if (!imported.ok) return err(`${names.key}: ${imported.error}`);
  const rootAtEnd = roots.find((root) => chainEndsAt(chain, root))!;
  const withoutRoot = chain.filter((pem) => !roots.includes(pem));
  return ok({
    certificate: new x509.X509Certificate(certs[0]!),
    key: imported.value.key,
    signingAlgorithm: imported.value.algorithm,
    chain: [...withoutRoot, rootAtEnd],
    roots,
  });
}

function parses(pem: string): boolean {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}

function caProblems(pem: string, name: string, now: Date): string[] {
  const problems: string[] = [];
  const cert = new x509.X509Certificate(pem);
  const subject = cert.subject === '' ? '' : ` (${cert.subject})`;
  const basic = cert.getExtension(x509.BasicConstraintsExtension);
  if (basic === null || !basic.ca) problems.push(`${name}: the certificate${subject} is not a CA (basicConstraints CA:TRUE missing)`);
  const usage = cert.getExtension(x509.KeyUsagesExtension);
  if (usage !== null && (usage.usages & x509.KeyUsageFlags.keyCertSign) === 0) {
    problems.push(`${name}: the certificate${subject} is not a CA (keyUsage lacks keyCertSign)`);
  }
  if (cert.notAfter.getTime() <= now.getTime()) problems.push(`${name}: the certificate${subject} expired at ${cert.notAfter.toISOString()}`);
  if (cert.notBefore.getTime() > now.getTime()) problems.push(`${name}: the certificate${subject} is not valid before ${cert.notBefore.toISOString()}`);
  return problems;
}

function issues(issuerPem: string, subjectPem: string): boolean {
  const issuer = new X509Certificate(issuerPem);
  const subject = new X509Certificate(subjectPem);
  return subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
}

function chainEndsAt(chain: readonly string[], root: string): boolean {
  const last = chain[chain.length - 1]!;
  return last === root || issues(root, last);
}

function chainProblems(signer: string, chain: readonly string[], roots: readonly string[], names: SigningFiles['names']): string[] {
  if (chain[0] !== signer) return [`${names.chain}: does not start with the certificate in ${names.cert}`];
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!issues(chain[i + 1]!, chain[i]!)) {
      return [`${names.chain}: certificate ${i + 1} (${subjectOf(chain[i]!)}) is not issued by certificate ${i + 2} (${subjectOf(chain[i + 1]!)})`];
    }
  }
  if (!roots.some((root) => chainEndsAt(chain, root))) {
    const count = roots.length === 1 ? 'the root' : `any of the ${roots.length} roots`;
    return [`${names.chain}: the chain does not end at ${count} in ${names.root} (it ends at ${subjectOf(chain[chain.length - 1]!)})`];
  }
  return [];
}

function subjectOf(pem: string): string {
  return new x509.X509Certificate(pem).subject || 'no subject';
}

async function importSigningKey(key: KeyObject): Promise<Result<{ key: webcrypto.CryptoKey; algorithm: webcrypto.Algorithm | webcrypto.EcdsaParams }, string>> {
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    const curve = ({ prime256v1: ['P-256', 'SHA-256'], secp384r1: ['P-384', 'SHA-384'] } as Record<string, [string, string]>)[details.namedCurve ?? ''];
    if (curve === undefined) return err(`EC curve ${details.namedCurve} is not supported (use P-256 or P-384)`);
    const imported = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: curve[0] }, false, ['sign']);
    return ok({ key: imported, algorithm: { name: 'ECDSA', hash: curve[1] } });
  }
  if (key.asymmetricKeyType === 'rsa') {
    const imported = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
    return ok({ key: imported, algorithm: { name: 'RSASSA-PKCS1-v1_5' } });
  }
  return err(`${key.asymmetricKeyType} keys are not supported (use EC P-256/P-384 or RSA)`);
}
