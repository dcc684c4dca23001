import type { ConfigSource, DataSource } from './core.ts';

/**
 * The JSON form of the TLS transport socket messages (`envoy.extensions.transport_sockets.tls.v3`)
 * Weft sends: upstream contexts on clusters, and the pieces listeners and secrets share.
 */

export const UPSTREAM_TLS_CONTEXT_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
export const TLS_TRANSPORT_SOCKET = 'envoy.transport_sockets.tls';
/** The plaintext transport socket: its name, and the type of its (empty) typed config. */
export const RAW_BUFFER_TRANSPORT_SOCKET = 'envoy.transport_sockets.raw_buffer';
export const RAW_BUFFER_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer';

export type TlsProtocol = 'TLS_AUTO' | 'TLSv1_0' | 'TLSv1_1' | 'TLSv1_2' | 'TLSv1_3';

export interface TlsParameters {
  readonly tlsMinimumProtocolVersion?: TlsProtocol;
  readonly tlsMaximumProtocolVersion?: TlsProtocol;
  readonly cipherSuites?: readonly string[];
  readonly ecdhCurves?: readonly string[];
  readonly signatureAlgorithms?: readonly string[];
}

/** A secret fetched by name over SDS (Weft serves them on the ADS stream). */
export interface SdsSecretConfig {
  readonly name: string;
  readonly sdsConfig?: ConfigSource;
}

export interface TlsCertificate {
  readonly certificateChain?: DataSource;
  readonly privateKey?: DataSource;
  /** The private key's passphrase. */
  readonly password?: DataSource;
  /** Certificate and key together, instead of certificateChain and privateKey. */
  readonly pkcs12?: DataSource;
}

/** One of exact, prefix, suffix, contains, safeRegex. */
export interface StringMatcher {
  readonly exact?: string;
  readonly prefix?: string;
  readonly suffix?: string;
  readonly contains?: string;
  readonly safeRegex?: { readonly regex: string };
  readonly ignoreCase?: boolean;
}

export interface SubjectAltNameMatcher {
  readonly sanType: 'EMAIL' | 'DNS' | 'URI' | 'IP_ADDRESS' | 'OTHER_NAME';
  readonly matcher: StringMatcher;
  /** The OID of an OTHER_NAME SAN. */
  readonly oid?: string;
}

/** Names a certificate provider instance of the client's bootstrap (how proxyless gRPC gets certificates). */
export interface CertificateProviderPluginInstance {
  readonly instanceName: string;
  readonly certificateName?: string;
}

export interface CertificateValidationContext {
  readonly trustedCa?: DataSource;
  readonly systemRootCerts?: Record<string, never>;
  readonly caCertificateProviderInstance?: CertificateProviderPluginInstance;
  readonly matchTypedSubjectAltNames?: readonly SubjectAltNameMatcher[];
  readonly crl?: DataSource;
  readonly trustChainVerification?: 'VERIFY_TRUST_CHAIN' | 'ACCEPT_UNTRUSTED';
  /** Deprecated for matchTypedSubjectAltNames (which wins when both are given): matches a SAN of any type. */
  readonly matchSubjectAltNames?: readonly StringMatcher[];
  /** Hex SHA-256 of the peer certificate (DER), colons allowed. */
  readonly verifyCertificateHash?: readonly string[];
  /** Base64 SHA-256 of the peer certificate's SubjectPublicKeyInfo (DER). */
  readonly verifyCertificateSpki?: readonly string[];
  readonly allowExpiredCertificate?: boolean;
}

export interface CombinedCertificateValidationContext {
  readonly defaultValidationContext: CertificateValidationContext;
  /** Envoy requires it; proxyless gRPC, which takes its root from a certificate provider, ignores it. */
  readonly validationContextSdsSecretConfig?: SdsSecretConfig;
}

/** At most one of validationContext, validationContextSdsSecretConfig, combinedValidationContext. */
export interface CommonTlsContext {
  readonly tlsParams?: TlsParameters;
  readonly tlsCertificates?: readonly TlsCertificate[];
  readonly tlsCertificateSdsSecretConfigs?: readonly SdsSecretConfig[];
  readonly tlsCertificateProviderInstance?: CertificateProviderPluginInstance;
  readonly validationContext?: CertificateValidationContext;
  readonly validationContextSdsSecretConfig?: SdsSecretConfig;
  readonly combinedValidationContext?: CombinedCertificateValidationContext;
  readonly alpnProtocols?: readonly string[];
}

export interface UpstreamTlsContext {
  readonly '@type': typeof UPSTREAM_TLS_CONTEXT_TYPE;
  readonly commonTlsContext: CommonTlsContext;
  readonly sni?: string;
  readonly allowRenegotiation?: boolean;
  readonly maxSessionKeys?: number;
  readonly enforceRsaKeyUsage?: boolean;
}

export const DOWNSTREAM_TLS_CONTEXT_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';

export interface DownstreamTlsContext {
  readonly '@type': typeof DOWNSTREAM_TLS_CONTEXT_TYPE;
  readonly commonTlsContext: CommonTlsContext;
  /** A client without a certificate fails the handshake (mutual TLS); with a validation context but not this, a certificate is asked for but optional. */
  readonly requireClientCertificate?: boolean;
  readonly requireSni?: boolean;
  readonly disableStatelessSessionResumption?: boolean;
  /** Envoy duration form (`300s`). */
  readonly sessionTimeout?: string;
}

export const SECRET_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';

/** An SDS resource: a certificate with its key, or the CA peers must chain to. */
export interface Secret {
  readonly '@type'?: typeof SECRET_TYPE;
  readonly name: string;
  readonly tlsCertificate?: TlsCertificate;
  readonly validationContext?: CertificateValidationContext;
}
