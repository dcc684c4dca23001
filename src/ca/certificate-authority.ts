import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { x509 } from './x509.ts';
import { derToPem } from './pem.ts';
import { err, ok, type Clock, type Result } from '../core/index.ts';
import { checkCsr } from './check-csr.ts';
import { CLOCK_SKEW_MS, createSelfSignedRoot, randomSerial } from './self-signed-root.ts';
import { loadSigningMaterial, type SigningMaterial } from './signing-material.ts';
import { parseSpiffeId } from './spiffe-id.ts';


export interface SignRequest {
  readonly csrPem: string;
  readonly identity: string;
  readonly ttlSeconds?: number;
}

/** A TLS server certificate for a service of the mesh itself (the control plane's TLS port: istiod's DNS certificate). */
export interface ServerCertificateRequest {
  /** DNS SANs, e.g. `istiod.istio-system.svc`; at least one name (DNS or IP) is required. */
  readonly dnsNames: readonly string[];
  /** IP SANs, e.g. `127.0.0.1`. */
  readonly ipAddresses?: readonly string[];
  /** Lifetime (default 24 h), capped at the CA's max and never beyond the signing cert. */
  readonly ttlSeconds?: number;
}

/** What issueServerCertificate made: a new key and its certificate. */
export interface ServerCertificate {
  /** PEM each: the leaf, then the CA's chain up to the root. */
  readonly certChainPem: readonly string[];
  /** The leaf's ECDSA P-256 key, PKCS#8 PEM; it never leaves the process that asked. */
  readonly privateKeyPem: string;
  /** Milliseconds since the epoch. */
  readonly notBefore: number;
  readonly notAfter: number;
  /** Lower-case hex. */
  readonly serial: string;
}

export interface CertificateAuthority {
  readonly trustDomain: string;
  /** The roots a workload must trust, PEM (more than one while a root is being rotated). */
  trustBundle(): readonly string[];
  /**
   * Signs a PKCS#10 CSR (PEM) for `identity` (a SPIFFE id): the certificate's only SAN is that URI
   * whatever the CSR asks; the CSR's signature must verify and its key must be EC P-256 (or RSA >= 2048);
   * lifetime `ttlSeconds` (default 24 h) capped at the CA's max (default 90 days) and never beyond the signing cert.
   * Returns Istio's cert_chain: the leaf, then intermediates, PEM each, then the whole trust bundle
   * (every root, concatenated PEM) as the last element, as istiod answers; with one root that is the root.
   */
  sign(request: SignRequest): Promise<Result<readonly string[], string>>;
  /**
   * Makes a new ECDSA P-256 key and signs a server certificate for it (serverAuth only, not a CA)
   * whose SANs are exactly the names asked for: how the control plane gets the certificate of its
   * TLS port, as istiod gets its DNS certificate from its own CA.
   */
  issueServerCertificate(request: ServerCertificateRequest): Promise<Result<ServerCertificate, string>>;
  /** Called after the CA took new signing material (a plugged-in CA reloaded); returns the unsubscribe. Static CAs have none. */
  onChange?(listener: () => void): () => void;
}

export interface CaOptions {
  readonly trustDomain: string;
  readonly clock: Clock;
  /** A directory with Istio's cacerts files (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem): a plugged-in CA. */
  readonly pluggedCertsDir?: string;
  /** Where a self-signed root is kept (ca-cert.pem = root-cert.pem, ca-key.pem, mode 0600 for the key) and reused on the next start. */
  readonly stateDir?: string;
  readonly rootLifetimeDays?: number;
  readonly workloadTtlSeconds?: number;
  readonly maxWorkloadTtlSeconds?: number;
}

const DEFAULT_ROOT_LIFETIME_DAYS = 3650;
const DEFAULT_WORKLOAD_TTL_SECONDS = 86_400;
const DEFAULT_MAX_WORKLOAD_TTL_SECONDS = 90 * 86_400;
const DEFAULT_SERVER_TTL_SECONDS = 86_400;
const DNS_NAME = /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
const CACERTS = ['ca-cert.pem', 'ca-key.pem', 'root-cert.pem', 'cert-chain.pem'] as const;

/**
 * Plugged-in when pluggedCertsDir has Istio's cacerts files (every problem named); else the root in stateDir,
 * created on first start; in memory when neither is given. As in Istio, a cacerts directory with none of the
 * files falls back to the self-signed root.
 */
export async function loadCertificateAuthority(options: CaOptions): Promise<Result<CertificateAuthority, string>> {
  const rootLifetimeDays = options.rootLifetimeDays ?? DEFAULT_ROOT_LIFETIME_DAYS;
  const workloadTtlSeconds = options.workloadTtlSeconds ?? DEFAULT_WORKLOAD_TTL_SECONDS;
  const maxWorkloadTtlSeconds = options.maxWorkloadTtlSeconds ?? DEFAULT_MAX_WORKLOAD_TTL_SECONDS;
  for (const [name, value] of Object.entries({ rootLifetimeDays, workloadTtlSeconds, maxWorkloadTtlSeconds })) {
    if (!(value > 0) || !Number.isFinite(value)) return err(`${name} must be a positive number, got ${value}`);
  }
  const material = await loadMaterial(options, rootLifetimeDays);
  if (!material.ok) return material;
  return ok(new Authority(options.trustDomain, options.clock, material.value, workloadTtlSeconds, maxWorkloadTtlSeconds));
}

async function loadMaterial(options: CaOptions, rootLifetimeDays: number): Promise<Result<SigningMaterial, string>> {
  const now = new Date(options.clock.now());
  const plugged = options.pluggedCertsDir;
  if (plugged !== undefined) {
    const missing = CACERTS.filter((file) => !existsSync(join(plugged, file)));
    if (missing.length < CACERTS.length) {
      if (missing.length > 0) return err(`plugged-in CA in ${plugged}: missing ${missing.join(', ')}`);
      const [certPem, keyPem, rootPem, chainPem] = await Promise.all(CACERTS.map((file) => readFile(join(plugged, file), 'utf8')));
      const names = { cert: join(plugged, 'ca-cert.pem'), key: join(plugged, 'ca-key.pem'), root: join(plugged, 'root-cert.pem'), chain: join(plugged, 'cert-chain.pem') };
      const loaded = await loadSigningMaterial({ certPem: certPem!, keyPem: keyPem!, rootPem: rootPem!, chainPem: chainPem!, names }, now);
      return loaded.ok ? loaded : err(`plugged-in CA: ${loaded.error}`);
    }
  }
  if (options.stateDir === undefined) {
    const root = await createSelfSignedRoot(options.trustDomain, now, rootLifetimeDays);
    return loadRoot(root.certPem, root.keyPem, 'the in-memory root', now);
  }
  return loadOrCreateStoredRoot(options.stateDir, options.trustDomain, now, rootLifetimeDays);
}

async function loadOrCreateStoredRoot(stateDir: string, trustDomain: string, now: Date, rootLifetimeDays: number): Promise<Result<SigningMaterial, string>> {
  const certPath = join(stateDir, 'ca-cert.pem');
  const keyPath = join(stateDir, 'ca-key.pem');
  const haveCert = existsSync(certPath);
  const haveKey = existsSync(keyPath);
  if (haveCert !== haveKey) {
    return err(`self-signed root in ${stateDir}: ${haveCert ? 'ca-key.pem' : 'ca-cert.pem'} is missing; restore it, or remove the other file to create a new root`);
  }
  if (haveCert) {
    const [certPem, keyPem] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
    return loadRoot(certPem, keyPem, certPath, now);
  }
  const root = await createSelfSignedRoot(trustDomain, now, rootLifetimeDays);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  // The key first and exclusively ('wx'), so a half-written state is never a cert without its key.
  await writeFile(keyPath, root.keyPem, { mode: 0o600, flag: 'wx' });
  await chmod(keyPath, 0o600);
  await writeFile(certPath, root.certPem);
  await writeFile(join(stateDir, 'root-cert.pem'), root.certPem);
  return loadRoot(root.certPem, root.keyPem, certPath, now);
}

async function loadRoot(certPem: string, keyPem: string, name: string, now: Date): Promise<Result<SigningMaterial, string>> {
  const keyName = name.endsWith('ca-cert.pem') ? name.replace(/ca-cert\.pem$/, 'ca-key.pem') : name;
  return loadSigningMaterial({ certPem, keyPem, chainPem: certPem, rootPem: certPem, names: { cert: name, key: keyName, chain: name, root: name } }, now);
}

class Authority implements CertificateAuthority {
  readonly trustDomain: string;
  readonly #clock: Clock;
  readonly #material: SigningMaterial;
  readonly #defaultTtlSeconds: number;
  readonly #maxTtlSeconds: number;
  /** The last moment any certificate of the chain is valid: no leaf outlives it. */
  readonly #chainNotAfter: number;

  constructor(trustDomain: string, clock: Clock, material: SigningMaterial, defaultTtlSeconds: number, maxTtlSeconds: number) {
    this.trustDomain = trustDomain;
    this.#clock = clock;
    this.#material = material;
    this.#defaultTtlSeconds = defaultTtlSeconds;
    this.#maxTtlSeconds = maxTtlSeconds;
    this.#chainNotAfter = Math.min(...material.chain.map((pem) => new x509.X509Certificate(pem).notAfter.getTime()));
  }

  trustBundle(): readonly string[] {
    return this.#material.roots;
  }

  async sign(request: SignRequest): Promise<Result<readonly string[], string>> {
    const identity = parseSpiffeId(request.identity);
    if (!identity.ok) return identity;
    if (identity.value.trustDomain !== this.trustDomain) {
      return err(`identity ${request.identity} is in trust domain ${identity.value.trustDomain}; this CA signs for ${this.trustDomain}`);
    }
    const ttlSeconds = request.ttlSeconds ?? this.#defaultTtlSeconds;
    if (!(ttlSeconds > 0) || !Number.isFinite(ttlSeconds)) return err(`ttlSeconds must be a positive number, got ${ttlSeconds}`);
    const now = this.#clock.now();
    const notAfter = Math.min(now + Math.min(ttlSeconds, this.#maxTtlSeconds) * 1000, this.#chainNotAfter);
    if (notAfter <= now) return err(`the CA's certificate chain expired at ${new Date(this.#chainNotAfter).toISOString()}`);
    const publicKey = await checkCsr(request.csrPem);
    if (!publicKey.ok) return publicKey;

    const signer = this.#material.certificate;
    const signerKeyId = signer.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      issuer: signer.subjectName,
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter: new Date(notAfter),
      publicKey: publicKey.value,
      signingKey: this.#material.key,
      signingAlgorithm: this.#material.signingAlgorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        // The subject is empty, as Istio's workload certificates, so the SAN is critical (RFC 5280 4.2.1.6).
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: request.identity }], true),
        await x509.SubjectKeyIdentifierExtension.create(publicKey.value),
        signerKeyId !== undefined ? new x509.AuthorityKeyIdentifierExtension(signerKeyId) : await x509.AuthorityKeyIdentifierExtension.create(signer.publicKey),
      ],
    });
    // As istiod: the leaf, the intermediates, then the whole root bundle as one element (every root the workload must trust).
    return ok([leaf.toString('pem') + '\n', ...this.#material.chain.slice(0, -1), this.#material.roots.join('')]);
  }

  async issueServerCertificate(request: ServerCertificateRequest): Promise<Result<ServerCertificate, string>> {
    const dnsNames = request.dnsNames;
    const ipAddresses = request.ipAddresses ?? [];
    if (dnsNames.length + ipAddresses.length === 0) return err('a server certificate needs at least one DNS name or IP address');
    const badName = dnsNames.find((name) => !DNS_NAME.test(name));
    if (badName !== undefined) return err(`"${badName}" is not a DNS name (lower-case labels of letters, digits and '-')`);
    const badIp = ipAddresses.find((ip) => isIP(ip) === 0);
    if (badIp !== undefined) return err(`"${badIp}" is not an IP address`);
    const ttlSeconds = request.ttlSeconds ?? DEFAULT_SERVER_TTL_SECONDS;
    if (!(ttlSeconds > 0) || !Number.isFinite(ttlSeconds)) return err(`ttlSeconds must be a positive number, got ${ttlSeconds}`);
    const now = this.#clock.now();
    const notAfter = Math.min(now + Math.min(ttlSeconds, this.#maxTtlSeconds) * 1000, this.#chainNotAfter);
    if (notAfter <= now) return err(`the CA's certificate chain expired at ${new Date(this.#chainNotAfter).toISOString()}`);

    const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const signer = this.#material.certificate;
    const signerKeyId = signer.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
    const serial = randomSerial();
    const notBefore = now - CLOCK_SKEW_MS;
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      issuer: signer.subjectName,
      notBefore: new Date(notBefore),
      notAfter: new Date(notAfter),
      publicKey: keys.publicKey,
      signingKey: this.#material.key,
      signingAlgorithm: this.#material.signingAlgorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        // An empty subject, as the workload certificates', so the SAN is critical (RFC 5280 4.2.1.6).
        new x509.SubjectAlternativeNameExtension([...dnsNames.map((value) => ({ type: 'dns' as const, value })), ...ipAddresses.map((value) => ({ type: 'ip' as const, value }))], true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        signerKeyId !== undefined ? new x509.AuthorityKeyIdentifierExtension(signerKeyId) : await x509.AuthorityKeyIdentifierExtension.create(signer.publicKey),
      ],
    });
    return ok({
      certChainPem: [leaf.toString('pem') + '\n', ...this.#material.chain],
      privateKeyPem: derToPem(await crypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY'),
      notBefore: Math.floor(notBefore / 1000) * 1000,
      notAfter: Math.floor(notAfter / 1000) * 1000,
      serial,
    });
  }
}
