import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { createSecureContext, type SecureContext, type SecureContextOptions, type TLSSocket } from 'node:tls';
import { RE2JS } from 're2js';
import { err, ok, type Result } from '../../core/index.ts';
import type { SecretLookup } from './secret-store.ts';

/**
 * Envoy's CommonTlsContext, the part an UpstreamTlsContext and a DownstreamTlsContext share:
 * checked when xDS delivers it, with its certificates and CA given inline, in files, or named as
 * SDS secrets, and turned into a secure context for each new connection.
 */

/** Reads a file named by a DataSource (`filename`); throws when it cannot. */
export type ReadFile = (path: string) => Buffer;

/** Reports a problem with the field at `field` (a path such as `commonTlsContext.tlsCertificates[0].privateKey`). */
export type Problem = (field: string, message: string) => void;


/** What is checked of the peer's certificate; with nothing configured, nothing is (as in Envoy). */
export interface PeerVerification {
  /** The chain must lead to a trusted CA (trustedCa or the system roots, VERIFY_TRUST_CHAIN). */
  readonly chain: boolean;
  readonly allowExpired: boolean;
  /** At least one SAN must match one matcher; empty: any. */
  readonly subjectAltNames: readonly SanMatcher[];
  /** Lower-case hex SHA-256 of the certificate; with `spkiHashes`, one of either must match. */
  readonly certificateHashes: ReadonlySet<string>;
  readonly spkiHashes: ReadonlySet<string>;
}

export type SanType = 'DNS' | 'URI' | 'EMAIL' | 'IP_ADDRESS';

export interface SanMatcher {
  /** undefined for the deprecated untyped matchers, which match a SAN of any type. */
  readonly type: SanType | undefined;
  readonly description: string;
  matches(value: string, type: SanType): boolean;
}

const TLS_VERSIONS: Readonly<Record<string, SecureContextOptions['minVersion'] | undefined>> = {
  TLSv1_0: 'TLSv1',
  TLSv1_1: 'TLSv1.1',
  TLSv1_2: 'TLSv1.2',
  TLSv1_3: 'TLSv1.3',
};

const COMMON_FIELDS = new Set([
  'tlsParams', 'tlsCertificates', 'tlsCertificateSdsSecretConfigs', 'validationContext', 'validationContextSdsSecretConfig',
  'combinedValidationContext', 'alpnProtocols',
]);
const CERTIFICATE_PROVIDERS = 'certificate providers are not supported (they are how proxyless gRPC gets certificates); give tlsCertificates or SDS secrets';
const UNSUPPORTED_COMMON: Readonly<Record<string, string>> = {
  tlsCertificateProviderInstance: CERTIFICATE_PROVIDERS,
  tlsCertificateCertificateProvider: CERTIFICATE_PROVIDERS,
  tlsCertificateCertificateProviderInstance: CERTIFICATE_PROVIDERS,
  validationContextCertificateProvider: CERTIFICATE_PROVIDERS,
  validationContextCertificateProviderInstance: CERTIFICATE_PROVIDERS,
  customHandshaker: 'custom handshakers are not supported',
  keyLog: 'TLS key logging is not supported',
};
const PARAMS_FIELDS = new Set(['tlsMinimumProtocolVersion', 'tlsMaximumProtocolVersion', 'cipherSuites', 'ecdhCurves', 'signatureAlgorithms']);
const CERTIFICATE_FIELDS = new Set(['certificateChain', 'privateKey', 'password', 'pkcs12', 'watchedDirectory', 'ocspStaple', 'signedCertificateTimestamp']);
const UNSUPPORTED_CERTIFICATE: Readonly<Record<string, string>> = { privateKeyProvider: 'private key providers are not supported' };
const VALIDATION_FIELDS = new Set([
  'trustedCa', 'systemRootCerts', 'matchTypedSubjectAltNames', 'matchSubjectAltNames', 'crl', 'allowExpiredCertificate',
  'trustChainVerification', 'verifyCertificateHash', 'verifyCertificateSpki', 'watchedDirectory',
]);
const UNSUPPORTED_VALIDATION: Readonly<Record<string, string>> = {
  caCertificateProviderInstance: CERTIFICATE_PROVIDERS,
  customValidatorConfig: 'custom certificate validators are not supported',
  requireSignedCertificateTimestamp: 'signed certificate timestamps are not supported',
  onlyVerifyLeafCertCrl: 'is not supported: a CRL applies to every certificate of the chain',
  maxVerifyDepth: 'is not supported',
};
const COMBINED_FIELDS = new Set(['defaultValidationContext', 'validationContextSdsSecretConfig']);
const SDS_FIELDS = new Set(['name', 'sdsConfig']);
const DATA_SOURCE_FIELDS = new Set(['filename', 'inlineString', 'inlineBytes', 'environmentVariable']);
const MATCHER_KINDS = ['exact', 'prefix', 'suffix', 'contains', 'safeRegex'] as const;
const SAN_TYPES: readonly string[] = ['DNS', 'URI', 'EMAIL', 'IP_ADDRESS', 'OTHER_NAME'];

type Json = Readonly<Record<string, unknown>>;

export const NO_VERIFICATION: PeerVerification = { chain: false, allowExpired: false, subjectAltNames: [], certificateHashes: new Set(), spkiHashes: new Set() };

/** A CommonTlsContext, checked: what is fixed by the config, and the SDS secrets it still needs. */
export interface CommonTls {
  /** Versions, ciphers, and the certificate and CA the config gives inline or in files. */
  readonly options: SecureContextOptions;
  /** The SDS secret holding this side's certificate and key. */
  readonly certificateSecret: string | undefined;
  /** The SDS secret holding the CA that peers' certificates must chain to. */
  readonly validationSecret: string | undefined;
  readonly verify: PeerVerification;
  /** Whether peers' certificates are checked at all (a validation context, given or from SDS): a server then asks for one. */
  readonly validates: boolean;
  readonly alpn: readonly string[];
}

/**
 * Checks a CommonTlsContext. A client presents at most one certificate; a server needs one. TLS
 * versions default as in Envoy: 1.2 to 1.2 for a client, 1.2 to 1.3 for a server.
 */
export function parseCommonTlsContext(value: unknown, at: string, side: 'client' | 'server', readFile: ReadFile, problem: Problem): CommonTls {
  const common = object(value ?? {}, at, problem) ?? {};
  checkFields(common, at, COMMON_FIELDS, UNSUPPORTED_COMMON, problem);
  const options: SecureContextOptions = {};
  versions(common['tlsParams'], `${at}.tlsParams`, options, side, problem);
  const alpn = stringList(common['alpnProtocols'], `${at}.alpnProtocols`, problem);

  const certificates = list(common['tlsCertificates'], `${at}.tlsCertificates`, problem);
  if (certificates.length > 1) problem(`${at}.tlsCertificates`, `one certificate is supported (got ${certificates.length})`);
  if (certificates[0] !== undefined) ownCertificate(certificates[0], `${at}.tlsCertificates[0]`, options, readFile, problem);
  const certificateSecrets = secretNames(common['tlsCertificateSdsSecretConfigs'], `${at}.tlsCertificateSdsSecretConfigs`, problem);
  if (certificateSecrets.length > 1) problem(`${at}.tlsCertificateSdsSecretConfigs`, `one certificate is supported (got ${certificateSecrets.length})`);
  if (certificates.length > 0 && certificateSecrets.length > 0) problem(`${at}.tlsCertificates`, 'give tlsCertificates or tlsCertificateSdsSecretConfigs, not both');
  if (side === 'server' && certificates.length === 0 && certificateSecrets.length === 0) problem(`${at}.tlsCertificates`, 'a server needs a certificate (tlsCertificates or tlsCertificateSdsSecretConfigs)');

  const validationKinds = ['validationContext', 'validationContextSdsSecretConfig', 'combinedValidationContext'].filter((f) => common[f] !== undefined);
  if (validationKinds.length > 1) problem(at, `give at most one of ${validationKinds.join(', ')}`);
  let verify: PeerVerification = NO_VERIFICATION;
  let validationSecret: string | undefined;
  if (common['validationContext'] !== undefined) {
    verify = validationContext(common['validationContext'], `${at}.validationContext`, options, readFile, problem);
  } else if (common['validationContextSdsSecretConfig'] !== undefined) {
    validationSecret = secretName(common['validationContextSdsSecretConfig'], `${at}.validationContextSdsSecretConfig`, problem)[0];
    verify = { ...NO_VERIFICATION, chain: true };
  } else if (common['combinedValidationContext'] !== undefined) {
    const combinedAt = `${at}.combinedValidationContext`;
    const combined = object(common['combinedValidationContext'], combinedAt, problem) ?? {};
    checkFields(combined, combinedAt, COMBINED_FIELDS, { validationContextCertificateProvider: CERTIFICATE_PROVIDERS, validationContextCertificateProviderInstance: CERTIFICATE_PROVIDERS }, problem);
    // The default context's checks apply on top of the CA the secret brings.
    verify = { ...validationContext(combined['defaultValidationContext'] ?? {}, `${combinedAt}.defaultValidationContext`, options, readFile, problem, true), chain: true };
    if (combined['validationContextSdsSecretConfig'] === undefined) problem(`${combinedAt}.validationContextSdsSecretConfig`, 'is required');
    else validationSecret = secretName(combined['validationContextSdsSecretConfig'], `${combinedAt}.validationContextSdsSecretConfig`, problem)[0];
  }
  return {
    options,
    certificateSecret: certificateSecrets[0],
    validationSecret,
    verify,
    validates: verify.chain || validationSecret !== undefined || verify.subjectAltNames.length > 0 || verify.certificateHashes.size > 0 || verify.spkiHashes.size > 0,
    alpn,
  };
}

/** Checks that the static part of a context builds (a cipher list OpenSSL refuses, say). */
export function checkSecureContext(tls: CommonTls, at: string, problem: Problem): void {
  try {
    createSecureContext(tls.options);
  } catch (error) {
    problem(`${at}.tlsParams`, `cannot be used: ${openSslReason(error)}`);
  }
}

/**
 * The secure context of a CommonTls for new connections: built from its fixed options and the
 * current SDS secrets, again only when a secret changed. Connections made before keep theirs.
 */
export class SecureContextSource {
  readonly #tls: CommonTls;
  readonly #secrets: SecretLookup | undefined;
  #builtAt = -1;
  #built: Result<BuiltContext, string> | undefined;

  constructor(tls: CommonTls, secrets: SecretLookup | undefined) {
    this.#tls = tls;
    this.#secrets = secrets;
  }

  /** The SDS secrets it reads. */
  get secretNames(): readonly string[] {
    return [this.#tls.certificateSecret, this.#tls.validationSecret].filter((name) => name !== undefined);
  }

  current(): Result<SecureContext, string> {
    const built = this.#current();
    return built.ok ? ok(built.value.secureContext) : built;
  }

  /** The CA certificates peers must chain to, as the current context trusts them; none when it trusts the system's roots or nothing. */
  trustedCas(): readonly X509Certificate[] {
    const built = this.#current();
    return built.ok ? built.value.trustedCas : [];
  }

  #current(): Result<BuiltContext, string> {
    const version = this.#secrets?.version ?? 0;
    if (this.#built === undefined || this.#builtAt !== version) {
      this.#built = this.#build();
      this.#builtAt = version;
    }
    return this.#built;
  }

  #build(): Result<BuiltContext, string> {
    const tls = this.#tls;
    const options: SecureContextOptions = { ...tls.options };
    if (tls.certificateSecret !== undefined) {
      const secret = this.#secrets?.get(tls.certificateSecret);
      if (secret?.kind !== 'tlsCertificate') return err(missing(tls.certificateSecret, 'certificate', secret !== undefined));
      options.cert = secret.certificateChainPem;
      options.key = secret.privateKeyPem;
    }
    if (tls.validationSecret !== undefined) {
      const secret = this.#secrets?.get(tls.validationSecret);
      if (secret?.kind !== 'validationContext') return err(missing(tls.validationSecret, 'validation context', secret !== undefined));
      options.ca = secret.trustedCaPem;
    }
    try {
      const ca = options.ca === undefined ? [] : (Array.isArray(options.ca) ? options.ca : [options.ca]);
      const trustedCas = ca.flatMap((bundle) => String(bundle).match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).map((block) => new X509Certificate(block));
      return ok({ secureContext: createSecureContext(options), trustedCas });
    } catch (error) {
      return err(`the TLS context cannot be built: ${openSslReason(error)}`);
    }
  }
}

interface BuiltContext {
  readonly secureContext: SecureContext;
  readonly trustedCas: readonly X509Certificate[];
}

/** How many certificates a chain may have above the leaf, as OpenSSL's default verify depth. */
const MAX_CHAIN_DEPTH = 100;

/**
 * Why the client's certificate chain does not lead to one of `trustedCas`, or undefined when it
 * does: from `leaf`, each certificate valid now and issued and signed by a CA certificate the
 * client sent (in any order) until one is issued by a trusted CA. A server TLSSocket made outside
 * a tls.Server does not check this itself. `leaf` must be what the socket's first
 * getPeerX509Certificate() returned: Node hands the certificates the client sent after the leaf
 * out once, as its issuerCertificate links in the order they were sent, and leaves none for later
 * calls (nor for getPeerCertificate(true)), so the path is built here rather than trusted from it.
 */
export function untrustedPeerChain(leaf: X509Certificate | undefined, trustedCas: readonly X509Certificate[], now: number): string | undefined {
  if (leaf === undefined) return 'the peer presented no certificate';
  const sent: X509Certificate[] = [];
  for (let next = leaf.issuerCertificate; next !== undefined && sent.length <= MAX_CHAIN_DEPTH; next = next.issuerCertificate) sent.push(next);
  const issues = (issuer: X509Certificate, subject: X509Certificate): boolean => subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
  let certificate = leaf;
  const used = new Set<X509Certificate>();
  for (let depth = 0; depth <= MAX_CHAIN_DEPTH; depth++) {
    if (certificate.validFromDate.getTime() > now || certificate.validToDate.getTime() < now) return `certificate verify failed: CERT_${certificate.validToDate.getTime() < now ? 'HAS_EXPIRED' : 'NOT_YET_VALID'}`;
    if (trustedCas.some((ca) => issues(ca, certificate))) return undefined;
    const issuer = sent.find((candidate) => !used.has(candidate) && candidate.ca && issues(candidate, certificate));
    if (issuer === undefined) break;
    used.add(issuer);
    certificate = issuer;
  }
  return 'certificate verify failed: UNABLE_TO_GET_ISSUER_CERT_LOCALLY';
}

function missing(name: string, kind: string, wrongKind: boolean): string {
  return wrongKind ? `SDS secret "${name}" is not a ${kind}` : `SDS secret "${name}" has not been delivered yet`;
}

/**
 * Why the server's certificate is refused, or undefined when it passes: its chain (when a CA is
 * configured), its SANs (the configured matchers, or with auto SAN validation the request's host
 * as a DNS name), and its pinned hashes.
 */
export function refusePeer(socket: TLSSocket, verify: PeerVerification, sanHost?: string): string | undefined {
  if (verify.chain && !socket.authorized) {
    const code = String(socket.authorizationError);
    if (!(verify.allowExpired && code === 'CERT_HAS_EXPIRED')) return `certificate verify failed: ${code}`;
  }
  const matchers = sanHost !== undefined ? [dnsHostMatcher(sanHost)] : verify.subjectAltNames;
  const pinned = verify.certificateHashes.size > 0 || verify.spkiHashes.size > 0;
  if (matchers.length === 0 && !pinned) return undefined;
  const certificate = socket.getPeerX509Certificate();
  if (certificate === undefined) return 'the server presented no certificate';
  if (matchers.length > 0) {
    const sans = parseSubjectAltNames(certificate.subjectAltName ?? '');
    if (!sans.some((san) => matchers.some((m) => (m.type === undefined || m.type === san.type) && m.matches(san.value, san.type)))) {
      const presented = sans.length === 0 ? 'none' : sans.map((s) => `${s.type}:${s.value}`).join(', ');
      return `certificate SAN verify failed: the SANs (${presented}) match none of ${matchers.map((m) => m.description).join(', ')}`;
    }
  }
  if (pinned) {
    const hash = createHash('sha256').update(certificate.raw).digest('hex');
    const spki = createHash('sha256').update(certificate.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
    if (!verify.certificateHashes.has(hash) && !verify.spkiHashes.has(spki)) return 'certificate verify failed: its hash matches no verifyCertificateHash or verifyCertificateSpki';
  }
  return undefined;
}

export interface SubjectAltName {
  readonly type: SanType;
  readonly value: string;
}

/**
 * The SANs of Node's `subjectAltName` text (`DNS:a.example, URI:spiffe://..., IP Address:10.0.0.1`),
 * where a value holding special characters is a JSON string. Types other than these four are skipped.
 */
export function parseSubjectAltNames(text: string): SubjectAltName[] {
  const out: SubjectAltName[] = [];
  let at = 0;
  while (at < text.length) {
    const colon = text.indexOf(':', at);
    if (colon < 0) break;
    const label = text.slice(at, colon);
    let value: string;
    let next: number;
    if (text[colon + 1] === '"') {
      let end = colon + 2;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      value = JSON.parse(text.slice(colon + 1, end + 1)) as string;
      next = text.indexOf(', ', end);
    } else {
      next = text.indexOf(', ', colon);
      value = text.slice(colon + 1, next < 0 ? text.length : next);
    }
    const type = SAN_LABELS[label];
    if (type !== undefined) out.push({ type, value: type === 'IP_ADDRESS' ? normalizeIp(value) : value });
    if (next < 0) break;
    at = next + 2;
  }
  return out;
}

const SAN_LABELS: Readonly<Record<string, SanType>> = { DNS: 'DNS', URI: 'URI', email: 'EMAIL', 'IP Address': 'IP_ADDRESS' };

/** IPv6 in its compressed lower-case form, so that `0:0:0:0:0:0:0:1` and `::1` compare equal. */
function normalizeIp(value: string): string {
  if (isIP(value) !== 6) return value;
  return new URL(`http://[${value}]/`).hostname.slice(1, -1);
}

/**
 * A DNS name against a SAN that may be a wildcard: `*.example.com` covers exactly one more label
 * (`api.example.com`, not `example.com` nor `a.b.example.com`), case-insensitively.
 */
export function dnsNameMatches(name: string, san: string): boolean {
  const host = name.toLowerCase();
  const pattern = san.toLowerCase();
  if (host === pattern) return true;
  if (!pattern.startsWith('*.')) return false;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot) === pattern.slice(1);
}

function dnsHostMatcher(host: string): SanMatcher {
  return { type: 'DNS', description: `DNS "${host}" (the request's host)`, matches: (value) => dnsNameMatches(host, value) };
}

/** The secret names of a list of SdsSecretConfig. */
function secretNames(value: unknown, at: string, problem: Problem): string[] {
  return list(value, at, problem).flatMap((entry, i) => secretName(entry, `${at}[${i}]`, problem));
}

/** The name of an SdsSecretConfig, as a list of none (reported) or one. */
function secretName(value: unknown, at: string, problem: Problem): string[] {
  const config = object(value, at, problem);
  if (config === undefined) return [];
  checkFields(config, at, SDS_FIELDS, {}, problem);
  const name = config['name'];
  if (typeof name === 'string' && name !== '') return [name];
  problem(`${at}.name`, 'must name the secret');
  return [];
}

function versions(value: unknown, at: string, options: SecureContextOptions, side: 'client' | 'server', problem: Problem): void {
  // Envoy's defaults: TLS 1.2 at least; at most 1.2 for a client, 1.3 for a server.
  options.minVersion = 'TLSv1.2';
  options.maxVersion = side === 'client' ? 'TLSv1.2' : 'TLSv1.3';
  if (value === undefined) return;
  const params = object(value, at, problem);
  if (params === undefined) return;
  checkFields(params, at, PARAMS_FIELDS, {}, problem);
  const version = (field: string): SecureContextOptions['minVersion'] | undefined => {
    const name = params[field];
    if (name === undefined || name === 'TLS_AUTO') return undefined;
    const mapped = typeof name === 'string' ? TLS_VERSIONS[name] : undefined;
    if (mapped === undefined) problem(`${at}.${field}`, `must be one of TLS_AUTO, ${Object.keys(TLS_VERSIONS).join(', ')} (got ${String(name)})`);
    return mapped;
  };
  const min = version('tlsMinimumProtocolVersion');
  const max = version('tlsMaximumProtocolVersion');
  if (min !== undefined) options.minVersion = min;
  if (max !== undefined) options.maxVersion = max;
  if (min !== undefined && max === undefined && rank(min) > rank(options.maxVersion)) options.maxVersion = min;
  if (rank(options.minVersion) > rank(options.maxVersion)) problem(`${at}.tlsMinimumProtocolVersion`, `must not be above tlsMaximumProtocolVersion (${options.minVersion} > ${options.maxVersion})`);
  const ciphers = stringList(params['cipherSuites'], `${at}.cipherSuites`, problem);
  // Envoy takes BoringSSL's syntax, where `[a|b]` is a group of equal preference; OpenSSL has no groups.
  if (ciphers.length > 0) options.ciphers = ciphers.map((c) => c.replace(/^\[|\]$/g, '').replaceAll('|', ':')).join(':');
  const curves = stringList(params['ecdhCurves'], `${at}.ecdhCurves`, problem);
  if (curves.length > 0) options.ecdhCurve = curves.join(':');
  const sigalgs = stringList(params['signatureAlgorithms'], `${at}.signatureAlgorithms`, problem);
  if (sigalgs.length > 0) options.sigalgs = sigalgs.join(':');
}

function rank(version: string | undefined): number {
  return version === undefined ? 0 : Object.values(TLS_VERSIONS).indexOf(version as SecureContextOptions['minVersion']);
}

function ownCertificate(value: unknown, at: string, options: SecureContextOptions, readFile: ReadFile, problem: Problem): void {
  const certificate = object(value, at, problem);
  if (certificate === undefined) return;
  checkFields(certificate, at, CERTIFICATE_FIELDS, UNSUPPORTED_CERTIFICATE, problem);
  const password = certificate['password'] === undefined ? undefined : dataSource(certificate['password'], `${at}.password`, readFile, problem)?.toString('utf8');
  if (password !== undefined) options.passphrase = password;
  if (certificate['pkcs12'] !== undefined) {
    if (certificate['certificateChain'] !== undefined || certificate['privateKey'] !== undefined) problem(`${at}.pkcs12`, 'give pkcs12 or certificateChain and privateKey, not both');
    const pfx = dataSource(certificate['pkcs12'], `${at}.pkcs12`, readFile, problem);
    if (pfx === undefined) return;
    try {
      createSecureContext({ pfx, ...(password !== undefined && { passphrase: password }) });
      options.pfx = pfx;
    } catch (error) {
      problem(`${at}.pkcs12`, `is not a PKCS#12 bundle this passphrase opens: ${openSslReason(error)}`);
    }
    return;
  }
  if (certificate['certificateChain'] === undefined || certificate['privateKey'] === undefined) {
    problem(at, 'needs both certificateChain and privateKey (or pkcs12)');
    return;
  }
  const chain = dataSource(certificate['certificateChain'], `${at}.certificateChain`, readFile, problem);
  const key = dataSource(certificate['privateKey'], `${at}.privateKey`, readFile, problem);
  const leaf = chain === undefined ? undefined : pemCertificates(chain, `${at}.certificateChain`, problem)[0];
  let privateKey: ReturnType<typeof createPrivateKey> | undefined;
  if (key !== undefined) {
    try {
      privateKey = createPrivateKey({ key, format: 'pem', ...(password !== undefined && { passphrase: password }) });
    } catch (error) {
      problem(`${at}.privateKey`, `is not a PEM private key${password !== undefined ? ' this password opens' : ''}: ${openSslReason(error)}`);
    }
  }
  if (leaf === undefined || privateKey === undefined) return;
  if (!leaf.checkPrivateKey(privateKey)) {
    problem(`${at}.privateKey`, 'does not belong to the certificate (the first one of certificateChain)');
    return;
  }
  options.cert = chain;
  options.key = key;
}

function validationContext(
  value: unknown, at: string, options: SecureContextOptions, readFile: ReadFile, problem: Problem, caFromSds = false,
): PeerVerification {
  const context = object(value, at, problem);
  if (context === undefined) return NO_VERIFICATION;
  checkFields(context, at, VALIDATION_FIELDS, UNSUPPORTED_VALIDATION, problem);
  let chain = false;
  if (context['trustedCa'] !== undefined) {
    const ca = dataSource(context['trustedCa'], `${at}.trustedCa`, readFile, problem);
    if (ca !== undefined && pemCertificates(ca, `${at}.trustedCa`, problem).length > 0) options.ca = ca;
    chain = true;
  } else if (context['systemRootCerts'] !== undefined) {
    // Node's bundled roots are its default CA list: nothing to set.
    chain = true;
  }
  const trustChain = context['trustChainVerification'] ?? 'VERIFY_TRUST_CHAIN';
  if (trustChain !== 'VERIFY_TRUST_CHAIN' && trustChain !== 'ACCEPT_UNTRUSTED') {
    problem(`${at}.trustChainVerification`, `must be VERIFY_TRUST_CHAIN or ACCEPT_UNTRUSTED (got ${String(trustChain)})`);
  }
  const hasCa = chain || caFromSds;
  const typed = list(context['matchTypedSubjectAltNames'], `${at}.matchTypedSubjectAltNames`, problem);
  const untyped = list(context['matchSubjectAltNames'], `${at}.matchSubjectAltNames`, problem);
  // As in Envoy, the deprecated list is ignored when the typed one is given.
  const subjectAltNames = typed.length > 0
    ? typed.flatMap((m, i) => typedSanMatcher(m, `${at}.matchTypedSubjectAltNames[${i}]`, problem) ?? [])
    : untyped.flatMap((m, i) => {
      const matcher = stringMatcher(m, `${at}.matchSubjectAltNames[${i}]`, problem);
      return matcher === undefined ? [] : [{ type: undefined, description: matcher.description, matches: matcher.matches }];
    });
  if ((typed.length > 0 || untyped.length > 0) && !hasCa) {
    problem(`${at}.${typed.length > 0 ? 'matchTypedSubjectAltNames' : 'matchSubjectAltNames'}`, 'checking SANs without a trusted CA (trustedCa or systemRootCerts) is insecure and not allowed');
  }
  const allowExpired = context['allowExpiredCertificate'] === true;
  if (allowExpired && !hasCa) problem(`${at}.allowExpiredCertificate`, 'has no effect without a trusted CA (trustedCa or systemRootCerts)');
  if (context['crl'] !== undefined) {
    const crl = dataSource(context['crl'], `${at}.crl`, readFile, problem);
    if (crl !== undefined) {
      try {
        createSecureContext({ crl });
        options.crl = crl;
      } catch (error) {
        problem(`${at}.crl`, `is not a PEM certificate revocation list: ${openSslReason(error)}`);
      }
    }
  }
  const certificateHashes = new Set(stringList(context['verifyCertificateHash'], `${at}.verifyCertificateHash`, problem).map((h, i) => {
    const hex = h.replaceAll(':', '').toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(hex)) problem(`${at}.verifyCertificateHash[${i}]`, `must be a SHA-256 hash in hex, colons allowed (got "${h}")`);
    return hex;
  }));
  const spkiHashes = new Set(stringList(context['verifyCertificateSpki'], `${at}.verifyCertificateSpki`, problem).map((h, i) => {
    if (Buffer.from(h, 'base64').length !== 32) problem(`${at}.verifyCertificateSpki[${i}]`, `must be a base64 SHA-256 hash (got "${h}")`);
    return h;
  }));
  return { chain: chain && trustChain === 'VERIFY_TRUST_CHAIN', allowExpired, subjectAltNames, certificateHashes, spkiHashes };
}

function typedSanMatcher(value: unknown, at: string, problem: Problem): SanMatcher | undefined {
  const entry = object(value, at, problem);
  if (entry === undefined) return undefined;
  checkFields(entry, at, new Set(['sanType', 'matcher', 'oid']), {}, problem);
  const type = entry['sanType'];
  if (typeof type !== 'string' || !SAN_TYPES.includes(type)) {
    problem(`${at}.sanType`, `must be one of ${SAN_TYPES.join(', ')} (got ${String(type)})`);
    return undefined;
  }
  if (type === 'OTHER_NAME') {
    problem(`${at}.sanType`, 'OTHER_NAME SANs are not supported');
    return undefined;
  }
  const matcher = stringMatcher(entry['matcher'], `${at}.matcher`, problem);
  if (matcher === undefined) return undefined;
  const sanType = type as SanType;
  const exact = (entry['matcher'] as Json)['exact'];
  // An exact DNS name also matches a wildcard SAN that covers it, as Envoy does.
  if (sanType === 'DNS' && typeof exact === 'string' && (entry['matcher'] as Json)['ignoreCase'] !== true) {
    return { type: sanType, description: `DNS ${matcher.description}`, matches: (san) => dnsNameMatches(exact, san) };
  }
  if (sanType === 'IP_ADDRESS' && typeof exact === 'string') {
    const ip = normalizeIp(exact);
    return { type: sanType, description: `IP_ADDRESS ${matcher.description}`, matches: (san) => san === ip };
  }
  return { type: sanType, description: `${sanType} ${matcher.description}`, matches: matcher.matches };
}

interface CompiledMatcher {
  readonly description: string;
  matches(value: string): boolean;
}

/** Envoy's StringMatcher: one of exact, prefix, suffix, contains, safeRegex (RE2, whole value), with ignoreCase. */
function stringMatcher(value: unknown, at: string, problem: Problem): CompiledMatcher | undefined {
  const matcher = object(value, at, problem);
  if (matcher === undefined) return undefined;
  checkFields(matcher, at, new Set([...MATCHER_KINDS, 'ignoreCase']), {}, problem);
  const kinds = MATCHER_KINDS.filter((k) => matcher[k] !== undefined);
  if (kinds.length !== 1) {
    problem(at, kinds.length === 0 ? `must set one of ${MATCHER_KINDS.join(', ')}` : `must set only one of ${kinds.join(', ')}`);
    return undefined;
  }
  const kind = kinds[0]!;
  const ignoreCase = matcher['ignoreCase'] === true;
  if (kind === 'safeRegex') {
    const regexAt = `${at}.safeRegex`;
    const regex = object(matcher['safeRegex'], regexAt, problem);
    if (regex === undefined) return undefined;
    checkFields(regex, regexAt, new Set(['regex', 'googleRe2']), {}, problem);
    const pattern = optionalString(regex['regex'], `${regexAt}.regex`, problem) ?? '';
    try {
      const compiled = RE2JS.compile(pattern);
      return { description: `matching /${pattern}/`, matches: (v) => compiled.matches(v) };
    } catch (error) {
      problem(`${regexAt}.regex`, `"${pattern}" is not an RE2 regular expression: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  }
  const expected = optionalString(matcher[kind], `${at}.${kind}`, problem);
  if (expected === undefined) return undefined;
  if (kind !== 'exact' && expected === '') problem(`${at}.${kind}`, 'must not be empty');
  const wanted = ignoreCase ? expected.toLowerCase() : expected;
  const fold = ignoreCase ? (v: string): string => v.toLowerCase() : (v: string): string => v;
  const description = `${kind} "${expected}"${ignoreCase ? ' (any case)' : ''}`;
  switch (kind) {
    case 'exact': return { description, matches: (v) => fold(v) === wanted };
    case 'prefix': return { description, matches: (v) => fold(v).startsWith(wanted) };
    case 'suffix': return { description, matches: (v) => fold(v).endsWith(wanted) };
    case 'contains': return { description, matches: (v) => fold(v).includes(wanted) };
  }
}

/** The bytes of a DataSource: a file, inline text or inline base64. */
function dataSource(value: unknown, at: string, readFile: ReadFile, problem: Problem): Buffer | undefined {
  const source = object(value, at, problem);
  if (source === undefined) return undefined;
  checkFields(source, at, DATA_SOURCE_FIELDS, {}, problem);
  const given = [...DATA_SOURCE_FIELDS].filter((f) => source[f] !== undefined);
  if (given.length !== 1) {
    problem(at, given.length === 0 ? 'must set filename, inlineString or inlineBytes' : `must set only one of ${given.join(', ')}`);
    return undefined;
  }
  const field = given[0]!;
  const text = optionalString(source[field], `${at}.${field}`, problem);
  if (text === undefined) return undefined;
  switch (field) {
    case 'filename':
      try {
        return readFile(text);
      } catch (error) {
        problem(`${at}.filename`, `cannot read "${text}": ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
        return undefined;
      }
    case 'inlineString':
      return Buffer.from(text, 'utf8');
    case 'inlineBytes':
      return Buffer.from(text, 'base64');
    default:
      problem(`${at}.${field}`, 'is not supported: give filename, inlineString or inlineBytes');
      return undefined;
  }
}

/** The certificates of a PEM bundle; reported when it holds none or one that does not parse. */
function pemCertificates(pem: Buffer, at: string, problem: Problem): X509Certificate[] {
  const blocks = pem.toString('latin1').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    problem(at, 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
    return [];
  }
  const certificates: X509Certificate[] = [];
  for (const [i, block] of blocks.entries()) {
    try {
      certificates.push(new X509Certificate(block));
    } catch (error) {
      problem(at, `certificate ${i + 1} of the PEM does not parse: ${openSslReason(error)}`);
      return [];
    }
  }
  return certificates;
}

function openSslReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // OpenSSL's "error:0480006C:PEM routines::no start line" says the useful part last.
  const parts = message.split(':');
  return parts.length > 3 && message.startsWith('error:') ? parts.slice(4).join(':') || message : message;
}

export function checkFields(value: Json, at: string, known: ReadonlySet<string>, unsupported: Readonly<Record<string, string>>, problem: Problem): void {
  for (const field of Object.keys(value)) {
    if (known.has(field)) continue;
    const reason = unsupported[field];
    if (reason !== undefined) problem(`${at}.${field}`, reason);
    else problem(`${at}.${field}`, `unknown field (known: ${[...known].filter((f) => f !== '@type').join(', ')})`);
  }
}

export function object(value: unknown, at: string, problem: Problem): Json | undefined {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Json;
  problem(at, 'must be an object');
  return undefined;
}

export function list(value: unknown, at: string, problem: Problem): readonly unknown[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value;
  problem(at, 'must be a list');
  return [];
}

export function stringList(value: unknown, at: string, problem: Problem): string[] {
  return list(value, at, problem).flatMap((v, i) => {
    if (typeof v === 'string') return [v];
    problem(`${at}[${i}]`, 'must be a string');
    return [];
  });
}

export function optionalString(value: unknown, at: string, problem: Problem): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  problem(at, 'must be a string');
  return undefined;
}
