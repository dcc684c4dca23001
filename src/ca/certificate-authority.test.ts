import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, type webcrypto } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { x509 } from './x509.ts';
import { createWorkloadKeyAndCsr, loadCertificateAuthority, spiffeId, type CertificateAuthority } from './index.ts';
import { derToPem } from './pem.ts';


// A fixed instant; openssl checks validity at the same instant through -attime.
const NOW = Date.parse('2026-03-01T12:00:00Z');
const clock = { now: () => NOW };
const DAY = 86_400_000;
const ID = spiffeId('cluster.local', 'shop', 'checkout');
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-ca-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function ca(options: Partial<Parameters<typeof loadCertificateAuthority>[0]> = {}): Promise<CertificateAuthority> {
  const loaded = await loadCertificateAuthority({ trustDomain: 'cluster.local', clock, ...options });
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.error);
  return loaded.value;
}

async function signed(authority: CertificateAuthority, ttlSeconds?: number): Promise<X509Certificate[]> {
  const { csrPem } = await createWorkloadKeyAndCsr(ID);
  const chain = await authority.sign({ csrPem, identity: ID, ...(ttlSeconds === undefined ? {} : { ttlSeconds }) });
  assert.ok(chain.ok, chain.ok ? '' : chain.error);
  return chain.value.map((pem) => new X509Certificate(pem));
}

/** Each certificate issued and signed by the next, the last by itself. */
function assertChains(chain: readonly X509Certificate[]): void {
  for (let i = 0; i < chain.length; i++) {
    const issuer = chain[Math.min(i + 1, chain.length - 1)]!;
    assert.ok(chain[i]!.checkIssued(issuer), `certificate ${i} is issued by ${issuer.subject}`);
    assert.ok(chain[i]!.verify(issuer.publicKey), `certificate ${i} is signed by ${issuer.subject}`);
  }
}

async function opensslVerify(t: { skip(reason: string): void }, chain: readonly X509Certificate[]): Promise<void> {
  if (!hasOpenssl) return t.skip('openssl is not on PATH');
  const files = await mkdtemp(join(dir, 'verify-'));
  await writeFile(join(files, 'leaf.pem'), chain[0]!.toString());
  await writeFile(join(files, 'chain.pem'), chain.slice(1, -1).map(String).join('') || chain[chain.length - 1]!.toString());
  await writeFile(join(files, 'root.pem'), chain[chain.length - 1]!.toString());
  const out = execFileSync('openssl', ['verify', '-attime', String(NOW / 1000), '-CAfile', join(files, 'root.pem'), '-untrusted', join(files, 'chain.pem'), join(files, 'leaf.pem')], { encoding: 'utf8' });
  assert.match(out, /leaf\.pem: OK/);
}

async function newKeys(): Promise<webcrypto.CryptoKeyPair> {
  return crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
}
async function keyPem(keys: webcrypto.CryptoKeyPair): Promise<string> {
  return derToPem(await crypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
}

/** A certificate for `keys` signed by `issuer` (self-signed when absent); `ca` decides basicConstraints. */
async function makeCert(name: string, keys: webcrypto.CryptoKeyPair, ca: boolean, issuer?: { cert: x509.X509Certificate; keys: webcrypto.CryptoKeyPair }): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    subject: name,
    issuer: issuer?.cert.subjectName ?? name,
    notBefore: new Date(NOW - DAY),
    notAfter: new Date(NOW + 365 * DAY),
    publicKey: keys.publicKey,
    signingKey: (issuer?.keys ?? keys).privateKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new x509.BasicConstraintsExtension(ca, undefined, true),
      new x509.KeyUsagesExtension(ca ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
}

/** Istio's cacerts layout: a root and an intermediate that signs; cert-chain is intermediate then root. */
async function writeCacerts(into: string): Promise<{ root: x509.X509Certificate }> {
  const rootKeys = await newKeys();
  const root = await makeCert('CN=Test Root', rootKeys, true);
  const interKeys = await newKeys();
  const inter = await makeCert('CN=Test Intermediate,O=cluster.local', interKeys, true, { cert: root, keys: rootKeys });
  await writeFile(join(into, 'root-cert.pem'), root.toString('pem'));
  await writeFile(join(into, 'ca-cert.pem'), inter.toString('pem'));
  await writeFile(join(into, 'ca-key.pem'), await keyPem(interKeys));
  await writeFile(join(into, 'cert-chain.pem'), `${inter.toString('pem')}\n${root.toString('pem')}\n`);
  return { root };
}

describe('self-signed root', () => {
  it('is created in the state directory with a 0600 key and reused on the next start', async () => {
    const stateDir = join(dir, 'state');
    const first = await ca({ stateDir });
    assert.equal((await stat(join(stateDir, 'ca-key.pem'))).mode & 0o777, 0o600);
    assert.equal(await readFile(join(stateDir, 'root-cert.pem'), 'utf8'), await readFile(join(stateDir, 'ca-cert.pem'), 'utf8'));
    const root = new X509Certificate(first.trustBundle()[0]!);
    assert.equal(root.ca, true);
    assert.match(root.subject, /CN=Weft Root CA/);
    assert.match(root.subject, /O=cluster.local/);
    assert.equal(createPrivateKey(await readFile(join(stateDir, 'ca-key.pem'), 'utf8')).asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(new Date(root.validTo).getTime() - NOW, 3650 * DAY);

    const second = await ca({ stateDir });
    assert.equal(new X509Certificate(second.trustBundle()[0]!).fingerprint256, root.fingerprint256);
    assertChains(await signed(second));
  });

  it('refuses a state directory holding a root certificate without its key', async () => {
    const stateDir = join(dir, 'half');
    await ca({ stateDir });
    await unlink(join(stateDir, 'ca-key.pem'));
    const loaded = await loadCertificateAuthority({ trustDomain: 'cluster.local', clock, stateDir });
    assert.equal(loaded.ok, false);
    assert.match(loaded.ok ? '' : loaded.error, /ca-key\.pem is missing/);
  });
});

describe('signing', () => {
  it('signs a leaf that chains to the root with only the SPIFFE URI SAN', async (t) => {
    const chain = await signed(await ca());
    assert.equal(chain.length, 2);
    assertChains(chain);
    const [leaf] = chain;
    assert.equal(leaf!.subjectAltName, `URI:${ID}`);
    assert.equal(leaf!.ca, false);
    assert.equal(leaf!.subject, undefined, 'the subject is empty');
    assert.deepEqual(leaf!.keyUsage?.sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.equal(leaf!.serialNumber.length, 32);
    assert.ok(Number.parseInt(leaf!.serialNumber[0]!, 16) < 8, 'serial is positive');
    assert.equal(new Date(leaf!.validFrom).getTime(), NOW - 60_000);
    assert.equal(new Date(leaf!.validTo).getTime(), NOW + DAY);
    await opensslVerify(t, chain);
  });

  it('ignores the SANs a CSR asks for', async () => {
    const keys = await newKeys();
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      keys,
      name: 'CN=admin',
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'evil.example' }, { type: 'url', value: 'spiffe://cluster.local/ns/kube-system/sa/admin' }])],
    });
    const chain = await (await ca()).sign({ csrPem: csr.toString('pem'), identity: ID });
    assert.ok(chain.ok);
    const leaf = new X509Certificate(chain.value[0]!);
    assert.equal(leaf.subjectAltName, `URI:${ID}`);
    assert.equal(leaf.subject, undefined, 'the subject is empty');
  });

  it('gives the lifetime asked, capped at the maximum and at the signing certificate', async () => {
    const authority = await ca({ maxWorkloadTtlSeconds: 7 * 86_400 });
    assert.equal(new Date((await signed(authority, 3600))[0]!.validTo).getTime(), NOW + 3_600_000);
    assert.equal(new Date((await signed(authority, 30 * 86_400))[0]!.validTo).getTime(), NOW + 7 * DAY);

    const shortRoot = await ca({ rootLifetimeDays: 1 });
    const chain = await signed(shortRoot, 2 * 86_400);
    assert.equal(chain[0]!.validTo, chain[1]!.validTo);
  });

  it('refuses a CSR whose signature does not verify', async () => {
    const { csrPem } = await createWorkloadKeyAndCsr(ID);
    const der = Buffer.from(csrPem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    der[der.length - 3]! ^= 0x01;
    const result = await (await ca()).sign({ csrPem: derToPem(der, 'CERTIFICATE REQUEST'), identity: ID });
    assert.equal(result.ok, false);
    assert.match(result.ok ? '' : result.error, /signature/);
  });

  it('refuses a CSR with an RSA key under 2048 bits', async () => {
    const keys = await crypto.subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, ['sign', 'verify']);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({ keys, signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5' } });
    const result = await (await ca()).sign({ csrPem: csr.toString('pem'), identity: ID });
    assert.equal(result.ok, false);
    assert.match(result.ok ? '' : result.error, /RSA 1024-bit/);
  });

  it('signs an RSA 2048 CSR', async () => {
    const keys = await crypto.subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, ['sign', 'verify']);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({ keys, signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5' } });
    const result = await (await ca()).sign({ csrPem: csr.toString('pem'), identity: ID });
    assert.ok(result.ok, result.ok ? '' : result.error);
  });

  it('refuses an identity outside its trust domain or not a SPIFFE id', async () => {
    const authority = await ca();
    const { csrPem } = await createWorkloadKeyAndCsr(ID);
    const other = await authority.sign({ csrPem, identity: spiffeId('other.domain', 'shop', 'checkout') });
    assert.match(other.ok ? '' : other.error, /trust domain other\.domain/);
    const bad = await authority.sign({ csrPem, identity: 'checkout' });
    assert.equal(bad.ok, false);
  });
});

describe('server certificates', () => {
  const names = { dnsNames: ['istiod.istio-system.svc', 'istiod.istio-system.svc.cluster.local', 'localhost'], ipAddresses: ['127.0.0.1'] };

  it("issues a P-256 key and a serverAuth leaf for exactly the names asked, chained to the CA's root", async (t) => {
    const issued = await (await ca()).issueServerCertificate(names);
    assert.ok(issued.ok, issued.ok ? '' : issued.error);
    const chain = issued.value.certChainPem.map((pem) => new X509Certificate(pem));
    assertChains(chain);
    const [leaf] = chain;
    assert.equal(leaf!.subjectAltName, 'DNS:istiod.istio-system.svc, DNS:istiod.istio-system.svc.cluster.local, DNS:localhost, IP Address:127.0.0.1');
    assert.equal(leaf!.ca, false);
    assert.deepEqual(leaf!.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    assert.ok(leaf!.checkPrivateKey(createPrivateKey(issued.value.privateKeyPem)), 'the key is the one certified');
    assert.equal(createPrivateKey(issued.value.privateKeyPem).asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(leaf!.checkHost('istiod.istio-system.svc'), 'istiod.istio-system.svc');
    assert.equal(leaf!.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(leaf!.serialNumber.toLowerCase(), issued.value.serial);
    assert.equal(issued.value.notBefore, NOW - 60_000);
    assert.equal(issued.value.notAfter, NOW + DAY, '24 h by default');
    assert.equal(new Date(leaf!.validTo).getTime(), issued.value.notAfter);
    await opensslVerify(t, chain);
  });

  it('gives the lifetime asked, and a new key each time', async () => {
    const authority = await ca();
    const first = await authority.issueServerCertificate({ ...names, ttlSeconds: 600 });
    const second = await authority.issueServerCertificate({ ...names, ttlSeconds: 600 });
    assert.ok(first.ok && second.ok);
    assert.equal(first.value.notAfter, NOW + 600_000);
    assert.notEqual(first.value.privateKeyPem, second.value.privateKeyPem);
    assert.notEqual(first.value.serial, second.value.serial);
  });

  it('refuses no names, a bad DNS name or IP address, and a bad lifetime', async () => {
    const authority = await ca();
    const refusal = async (request: Parameters<CertificateAuthority['issueServerCertificate']>[0]): Promise<string> => {
      const issued = await authority.issueServerCertificate(request);
      assert.equal(issued.ok, false);
      return issued.ok ? '' : issued.error;
    };
    assert.match(await refusal({ dnsNames: [] }), /at least one DNS name or IP address/);
    assert.match(await refusal({ dnsNames: ['istiod istio-system'] }), /"istiod istio-system" is not a DNS name/);
    assert.match(await refusal({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.300'] }), /"127\.0\.0\.300" is not an IP address/);
    assert.match(await refusal({ dnsNames: ['localhost'], ttlSeconds: 0 }), /ttlSeconds must be a positive number/);
  });
});

describe('plugged-in CA', () => {
  it('signs leaves that chain leaf, intermediate, root, and trusts only the root', async (t) => {
    const plugged = await mkdtemp(join(dir, 'cacerts-'));
    const { root } = await writeCacerts(plugged);
    const authority = await ca({ pluggedCertsDir: plugged, stateDir: join(dir, 'unused-state') });
    assert.deepEqual(authority.trustBundle().map((pem) => new X509Certificate(pem).fingerprint256), [new X509Certificate(root.toString('pem')).fingerprint256]);
    const chain = await signed(authority);
    assert.deepEqual(chain.map((cert) => cert.subject?.split('\n')[0]), [undefined, 'CN=Test Intermediate', 'CN=Test Root']);
    assertChains(chain);
    await opensslVerify(t, chain);
  });

  async function refusal(breakIt: (plugged: string) => Promise<void>): Promise<string> {
    const plugged = await mkdtemp(join(dir, 'cacerts-'));
    await writeCacerts(plugged);
    await breakIt(plugged);
    const loaded = await loadCertificateAuthority({ trustDomain: 'cluster.local', clock, pluggedCertsDir: plugged });
    assert.equal(loaded.ok, false);
    return loaded.ok ? '' : loaded.error;
  }

  it('names a missing file', async () => {
    assert.match(await refusal((plugged) => unlink(join(plugged, 'cert-chain.pem'))), /missing cert-chain\.pem/);
  });

  it('names a key that does not match the certificate', async () => {
    const message = await refusal(async (plugged) => writeFile(join(plugged, 'ca-key.pem'), await keyPem(await newKeys())));
    assert.match(message, /ca-key\.pem: the key does not match the certificate in .*ca-cert\.pem/);
  });

  it('names a chain that does not end at root-cert', async () => {
    const message = await refusal(async (plugged) => writeFile(join(plugged, 'root-cert.pem'), (await makeCert('CN=Other Root', await newKeys(), true)).toString('pem')));
    assert.match(message, /cert-chain\.pem: the chain does not end at the root in .*root-cert\.pem/);
  });

  it('names a signing certificate that is not a CA', async () => {
    const message = await refusal(async (plugged) => {
      const rootKeys = await newKeys();
      const root = await makeCert('CN=Test Root', rootKeys, true);
      const leafKeys = await newKeys();
      const leaf = await makeCert('CN=Not A CA', leafKeys, false, { cert: root, keys: rootKeys });
      await writeFile(join(plugged, 'root-cert.pem'), root.toString('pem'));
      await writeFile(join(plugged, 'ca-cert.pem'), leaf.toString('pem'));
      await writeFile(join(plugged, 'ca-key.pem'), await keyPem(leafKeys));
      await writeFile(join(plugged, 'cert-chain.pem'), `${leaf.toString('pem')}\n${root.toString('pem')}\n`);
    });
    assert.match(message, /ca-cert\.pem: the certificate \(CN=Not A CA\) is not a CA/);
  });

  it('falls back to the self-signed root when the directory has none of the files', async () => {
    const empty = await mkdtemp(join(dir, 'empty-'));
    const authority = await ca({ pluggedCertsDir: empty });
    assert.match(new X509Certificate(authority.trustBundle()[0]!).subject, /CN=Weft Root CA/);
  });
});

describe('a CA made with the openssl commands of docs/certificates.md', () => {
  it('is accepted as a plugged-in CA and its leaves verify with openssl', async (t) => {
    if (!hasOpenssl) return t.skip('openssl is not on PATH');
    const plugged = await mkdtemp(join(dir, 'openssl-'));
    const run = (...args: string[]): void => void execFileSync('openssl', args, { cwd: plugged, stdio: 'pipe' });
    run('req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'root-key.pem', '-out', 'root-cert.pem', '-days', '3650',
      '-subj', '/O=Example Org/CN=Example Root CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    await writeFile(join(plugged, 'intermediate.cnf'), 'basicConstraints = critical, CA:TRUE, pathlen:0\nkeyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n');
    run('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca-csr.pem', '-subj', '/O=Example Org/CN=Weft Intermediate CA/L=cluster1');
    run('x509', '-req', '-in', 'ca-csr.pem', '-CA', 'root-cert.pem', '-CAkey', 'root-key.pem', '-CAcreateserial', '-days', '730', '-extfile', 'intermediate.cnf', '-out', 'ca-cert.pem');
    await writeFile(join(plugged, 'cert-chain.pem'), (await readFile(join(plugged, 'ca-cert.pem'), 'utf8')) + (await readFile(join(plugged, 'root-cert.pem'), 'utf8')));

    // openssl dates the files by the real clock; the CA runs an hour after that.
    const issuedAt = new Date(new X509Certificate(await readFile(join(plugged, 'ca-cert.pem'))).validFrom).getTime();
    const loaded = await loadCertificateAuthority({ trustDomain: 'cluster.local', clock: { now: () => issuedAt + 3_600_000 }, pluggedCertsDir: plugged });
    assert.ok(loaded.ok, loaded.ok ? '' : loaded.error);
    const { csrPem } = await createWorkloadKeyAndCsr(ID);
    const chain = await loaded.value.sign({ csrPem, identity: ID });
    assert.ok(chain.ok, chain.ok ? '' : chain.error);
    await writeFile(join(plugged, 'leaf.pem'), chain.value[0]!);
    const out = execFileSync('openssl', ['verify', '-attime', String(Math.floor(issuedAt / 1000) + 3600), '-CAfile', 'root-cert.pem', '-untrusted', 'ca-cert.pem', 'leaf.pem'], { cwd: plugged, encoding: 'utf8' });
    assert.match(out, /leaf\.pem: OK/);
  });
});
