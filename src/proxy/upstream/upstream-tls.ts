import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { createSecureContext, type SecureContext, type SecureContextOptions, type TLSSocket } from 'node:tls';
import { RE2JS } from 're2js';
import { UPSTREAM_TLS_CONTEXT_TYPE } from '../../xds/envoy/index.ts';

/**
 * Envoy's UpstreamTlsContext, checked when CDS delivers it and turned into what a connection
 * needs: a secure context built once (CA, client certificate, CRL, versions, ciphers), the SNI,
 * ALPN, and the checks made on the server's certificate once the handshake is done.
 */

/** Reads a file named by a DataSource (`filename`); throws when it cannot. */
export type ReadFile = (path: string) => Buffer;

/** Reports a problem with the field at `field` (a path such as `commonTlsContext.tlsCertificates[0].privateKey`). */
export type Problem = (field: string, message: string) => void;

/** How connections to a host are carried. */
export type UpstreamTransportSocket =
  | { readonly kind: 'raw' }
  | { readonly kind: 'tls'; readonly tls: UpstreamTls }
  /** Accepted config that cannot be served (its secrets come from SDS): connections fail (503 UF) with `reason`. */
  | { readonly kind: 'unavailable'; readonly reason: string };

export const RAW_TRANSPORT: UpstreamTransportSocket = { kind: 'raw' };

export interface UpstreamTls {
  readonly secureContext: SecureContext;
  /** The SNI sent, unless auto SNI takes it from the request. */
  readonly sni: string | undefined;
  /** ALPN as configured; empty lets the connection's HTTP protocol choose (`h2`, `http/1.1`). */
  readonly alpn: readonly string[];
  readonly verify: PeerVerification;
}

/** What is checked of the server's certificate; with nothing configured, nothing is (as in Envoy). */
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

const UPSTREAM_FIELDS = new Set(['@type', 'commonTlsContext', 'sni', 'allowRenegotiation', 'maxSessionKeys', 'enforceRsaKeyUsage']);
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

const NO_VERIFICATION: PeerVerification = { chain: false, allowExpired: false, subjectAltNames: [], certificateHashes: new Set(), spkiHashes: new Set() };

/**
 * Checks an UpstreamTlsContext (the typed config of an `envoy.transport_sockets.tls` socket) and
 * builds its secure context, reading the files it names. Secrets that come from SDS make a socket
 * that is accepted but `unavailable`, so that an Istio cluster (ISTIO_MUTUAL reads `default` and
 * `ROOTCA` over SDS) does not refuse a whole CDS update; its connections fail until SDS exists.
 */
export function parseUpstreamTlsContext(raw: Json, at: string, readFile: ReadFile, problem: Problem): UpstreamTransportSocket | undefined {
  let problems = 0;
  const report: Problem = (field, message) => {
    problems++;
    problem(field, message);
  };
  if (raw['@type'] !== UPSTREAM_TLS_CONTEXT_TYPE) {
    report(`${at}.@type`, `must be ${UPSTREAM_TLS_CONTEXT_TYPE} (got ${String(raw['@type'])})`);
    return undefined;
  }
  checkFields(raw, at, UPSTREAM_FIELDS, {}, report);
  const sni = optionalString(raw['sni'], `${at}.sni`, report);
  if (sni !== undefined && sni.length > 255) report(`${at}.sni`, 'must be at most 255 bytes');
  const commonAt = `${at}.commonTlsContext`;
  const common = object(raw['commonTlsContext'] ?? {}, commonAt, report) ?? {};
  checkFields(common, commonAt, COMMON_FIELDS, UNSUPPORTED_COMMON, report);

  const sds: string[] = [];
  const options: SecureContextOptions = {};
  versions(common['tlsParams'], `${commonAt}.tlsParams`, options, report);
  const alpn = stringList(common['alpnProtocols'], `${commonAt}.alpnProtocols`, report);

  const certificates = list(common['tlsCertificates'], `${commonAt}.tlsCertificates`, report);
  if (certificates.length > 1) report(`${commonAt}.tlsCertificates`, `an upstream connection presents one certificate (got ${certificates.length})`);
  if (certificates[0] !== undefined) clientCertificate(certificates[0], `${commonAt}.tlsCertificates[0]`, options, readFile, report);
  sds.push(...secretNames(common['tlsCertificateSdsSecretConfigs'], `${commonAt}.tlsCertificateSdsSecretConfigs`, report));
  if (certificates.length > 0 && sds.length > 0) report(`${commonAt}.tlsCertificates`, 'give tlsCertificates or tlsCertificateSdsSecretConfigs, not both');

  const validationKinds = ['validationContext', 'validationContextSdsSecretConfig', 'combinedValidationContext'].filter((f) => common[f] !== undefined);
  if (validationKinds.length > 1) report(commonAt, `give at most one of ${validationKinds.join(', ')}`);
  let verify: PeerVerification = NO_VERIFICATION;
  if (common['validationContext'] !== undefined) {
    verify = validationContext(common['validationContext'], `${commonAt}.validationContext`, options, readFile, report);
  } else if (common['validationContextSdsSecretConfig'] !== undefined) {
    sds.push(...secretName(common['validationContextSdsSecretConfig'], `${commonAt}.validationContextSdsSecretConfig`, report));
  } else if (common['combinedValidationContext'] !== undefined) {
    const combinedAt = `${commonAt}.combinedValidationContext`;
    const combined = object(common['combinedValidationContext'], combinedAt, report) ?? {};
    checkFields(combined, combinedAt, COMBINED_FIELDS, { validationContextCertificateProvider: CERTIFICATE_PROVIDERS, validationContextCertificateProviderInstance: CERTIFICATE_PROVIDERS }, report);
    // The SAN checks of the default context are checked now, though they only apply once SDS brings the CA.
    validationContext(combined['defaultValidationContext'] ?? {}, `${combinedAt}.defaultValidationContext`, {}, readFile, report, true);
    if (combined['validationContextSdsSecretConfig'] === undefined) report(`${combinedAt}.validationContextSdsSecretConfig`, 'is required');
    else sds.push(...secretName(combined['validationContextSdsSecretConfig'], `${combinedAt}.validationContextSdsSecretConfig`, report));
  }

  let secureContext: SecureContext | undefined;
  if (problems === 0 && sds.length === 0) {
    try {
      secureContext = createSecureContext(options);
    } catch (error) {
      report(`${commonAt}.tlsParams`, `cannot be used: ${openSslReason(error)}`);
    }
  }
  if (problems > 0) return undefined;
  if (sds.length > 0) return { kind: 'unavailable', reason: `SDS secrets are not supported yet (this TLS context needs ${sds.map((name) => `"${name}"`).join(', ')})` };
  return { kind: 'tls', tls: { secureContext: secureContext!, sni: sni === '' ? undefined : sni, alpn, verify } };
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

function versions(value: unknown, at: string, options: SecureContextOptions, problem: Problem): void {
  // Envoy's client defaults: TLS 1.2 at least and at most.
  options.minVersion = 'TLSv1.2';
  options.maxVersion = 'TLSv1.2';
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

function clientCertificate(value: unknown, at: string, options: SecureContextOptions, readFile: ReadFile, problem: Problem): void {
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

function checkFields(value: Json, at: string, known: ReadonlySet<string>, unsupported: Readonly<Record<string, string>>, problem: Problem): void {
  for (const field of Object.keys(value)) {
    if (known.has(field)) continue;
    const reason = unsupported[field];
    if (reason !== undefined) problem(`${at}.${field}`, reason);
    else problem(`${at}.${field}`, `unknown field (known: ${[...known].filter((f) => f !== '@type').join(', ')})`);
  }
}

function object(value: unknown, at: string, problem: Problem): Json | undefined {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Json;
  problem(at, 'must be an object');
  return undefined;
}

function list(value: unknown, at: string, problem: Problem): readonly unknown[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value;
  problem(at, 'must be a list');
  return [];
}

function stringList(value: unknown, at: string, problem: Problem): string[] {
  return list(value, at, problem).flatMap((v, i) => {
    if (typeof v === 'string') return [v];
    problem(`${at}[${i}]`, 'must be a string');
    return [];
  });
}

function optionalString(value: unknown, at: string, problem: Problem): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  problem(at, 'must be a string');
  return undefined;
}
