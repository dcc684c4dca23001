import { isIP } from 'node:net';
import type { ClusterTrafficPolicy } from '../snapshot/index.ts';
import {
  TLS_TRANSPORT_SOCKET, UPSTREAM_TLS_CONTEXT_TYPE,
  type CertificateValidationContext, type CommonTlsContext, type ConfigSource, type SdsSecretConfig, type SubjectAltNameMatcher,
  type TransportSocket, type TransportSocketMatch, type UpstreamHttpProtocolOptions, type UpstreamTlsContext,
} from '../../xds/envoy/index.ts';

type ClientTLSSettings = NonNullable<ClusterTrafficPolicy['tls']>;

/** The mesh's own certificate and root, served by SDS under Istio's names. */
export const SDS_DEFAULT = 'default';
export const SDS_ROOT_CA = 'ROOTCA';

const ADS: ConfigSource = { ads: {}, resourceApiVersion: 'V3' };
const ALPN_IN_MESH = ['istio-peer-exchange', 'istio'];
const ALPN_IN_MESH_H2 = ['istio-peer-exchange', 'istio', 'h2'];

/** What decides how a cluster's connections are secured. */
export interface UpstreamTlsInput {
  /** The DestinationRule's tls for this cluster, if any. */
  readonly tls: ClientTLSSettings | undefined;
  /** Istio's mTLS SNI for the cluster (`outbound_.9080_.v1_.reviews.default.svc.cluster.local`). */
  readonly sni: string;
  /** The SPIFFE identities the service's workloads may present, for ISTIO_MUTUAL. */
  readonly identities: readonly string[];
  /** Auto mTLS may apply: mesh-wide on, an in-mesh service, endpoints known (not original-destination). */
  readonly autoMtls: boolean;
  /** Whether the cluster speaks HTTP/2 upstream (advertised in ALPN). */
  readonly http2: boolean;
  /** Proxyless gRPC reads certificates from its bootstrap's certificate providers, not SDS. */
  readonly generator: 'envoy' | 'grpc';
}

export interface UpstreamTransport {
  readonly transportSocket?: TransportSocket;
  readonly transportSocketMatches?: readonly TransportSocketMatch[];
  /** Envoy derives SNI and SAN checks from the request's Host when the rule names neither. */
  readonly upstreamHttpProtocolOptions?: UpstreamHttpProtocolOptions;
}

/**
 * The transport socket of an outbound cluster, as Istio decides it:
 * - a DestinationRule `tls` wins (and so turns auto mTLS off for the host): DISABLE is plaintext;
 *   ISTIO_MUTUAL presents the mesh certificate (SDS `default`) and checks the peer against the mesh
 *   root (SDS `ROOTCA`) and the service's identities, with the cluster's SNI unless `sni` is given;
 *   SIMPLE and MUTUAL originate TLS with the files, or the `credentialName` secret, they name;
 * - without one, auto mTLS uses ISTIO_MUTUAL towards endpoints labelled `tlsMode: istio` (they
 *   have a sidecar) and plaintext towards the rest, chosen per endpoint by transportSocketMatches.
 * Proxyless gRPC gets only an explicit ISTIO_MUTUAL: it cannot tell whether the server speaks it.
 */
export function upstreamTransport(input: UpstreamTlsInput): UpstreamTransport {
  const { tls } = input;
  if (input.generator === 'grpc') return tls?.mode === 'ISTIO_MUTUAL' ? { transportSocket: grpcMutual(tls, input) } : {};
  if (tls === undefined) {
    if (!input.autoMtls) return {};
    return {
      transportSocketMatches: [
        { name: 'tlsMode-istio', match: { tlsMode: 'istio' }, transportSocket: istioMutual(undefined, input) },
        { name: 'tlsMode-disabled', match: {}, transportSocket: { name: 'envoy.transport_sockets.raw_buffer' } },
      ],
    };
  }
  switch (tls.mode ?? 'DISABLE') {
    case 'DISABLE':
      return {};
    case 'ISTIO_MUTUAL':
      return { transportSocket: istioMutual(tls, input) };
    case 'SIMPLE':
    case 'MUTUAL':
      return originated(tls, input);
  }
}

function socket(context: UpstreamTlsContext): TransportSocket {
  return { name: TLS_TRANSPORT_SOCKET, typedConfig: context };
}

function sds(name: string): SdsSecretConfig {
  return { name, sdsConfig: ADS };
}

function istioMutual(tls: ClientTLSSettings | undefined, input: UpstreamTlsInput): TransportSocket {
  const sans = tls?.subjectAltNames ?? input.identities;
  const sni = tls?.sni !== undefined && tls.sni !== '' ? tls.sni : input.sni;
  return socket({
    '@type': UPSTREAM_TLS_CONTEXT_TYPE,
    commonTlsContext: {
      tlsParams: { tlsMinimumProtocolVersion: 'TLSv1_2', tlsMaximumProtocolVersion: 'TLSv1_3' },
      alpnProtocols: input.http2 ? ALPN_IN_MESH_H2 : ALPN_IN_MESH,
      tlsCertificateSdsSecretConfigs: [sds(SDS_DEFAULT)],
      combinedValidationContext: {
        defaultValidationContext: sanMatchers(sans),
        validationContextSdsSecretConfig: sds(SDS_ROOT_CA),
      },
    },
    sni,
  });
}

/** gRPC's xDS credentials take certificates from bootstrap provider instances, and refuse tlsParams and SDS. */
function grpcMutual(tls: ClientTLSSettings, input: UpstreamTlsInput): TransportSocket {
  return socket({
    '@type': UPSTREAM_TLS_CONTEXT_TYPE,
    commonTlsContext: {
      tlsCertificateProviderInstance: { instanceName: SDS_DEFAULT, certificateName: SDS_DEFAULT },
      combinedValidationContext: {
        defaultValidationContext: { ...sanMatchers(tls.subjectAltNames ?? input.identities), caCertificateProviderInstance: { instanceName: SDS_DEFAULT, certificateName: SDS_ROOT_CA } },
      },
    },
    ...(tls.sni !== undefined && tls.sni !== '' && { sni: tls.sni }),
  });
}

function originated(tls: ClientTLSSettings, input: UpstreamTlsInput): UpstreamTransport {
  const mutual = tls.mode === 'MUTUAL';
  const credential = tls.credentialName !== undefined && tls.credentialName !== '' ? tls.credentialName : undefined;
  const sans = tls.subjectAltNames ?? [];
  const verify = tls.insecureSkipVerify !== true;
  let common: CommonTlsContext = {
    tlsParams: { tlsMinimumProtocolVersion: 'TLSv1_2', tlsMaximumProtocolVersion: 'TLSv1_3' },
    ...(input.http2 && { alpnProtocols: ['h2'] }),
  };
  if (credential !== undefined) {
    // The secret holds the client certificate and, under `<name>-cacert`, the CA (Istio's convention).
    common = {
      ...common,
      ...(mutual && { tlsCertificateSdsSecretConfigs: [sds(credential)] }),
      ...(verify && { combinedValidationContext: { defaultValidationContext: sanMatchers(sans), validationContextSdsSecretConfig: sds(`${credential}-cacert`) } }),
    };
  } else {
    const validation: CertificateValidationContext = {
      ...(tls.caCertificates !== undefined && tls.caCertificates !== '' ? { trustedCa: { filename: tls.caCertificates } } : { systemRootCerts: {} }),
      ...sanMatchers(sans),
      ...(tls.caCrl !== undefined && tls.caCrl !== '' && { crl: { filename: tls.caCrl } }),
    };
    common = {
      ...common,
      ...(mutual && { tlsCertificates: [{ certificateChain: { filename: tls.clientCertificate ?? '' }, privateKey: { filename: tls.privateKey ?? '' } }] }),
      ...(verify && { validationContext: validation }),
    };
  }
  const sni = tls.sni !== undefined && tls.sni !== '' ? tls.sni : undefined;
  const autoSni = sni === undefined;
  const autoSanValidation = autoSni && sans.length === 0 && verify;
  return {
    transportSocket: socket({ '@type': UPSTREAM_TLS_CONTEXT_TYPE, commonTlsContext: common, ...(sni !== undefined && { sni }) }),
    ...((autoSni || autoSanValidation) && { upstreamHttpProtocolOptions: { ...(autoSni && { autoSni }), ...(autoSanValidation && { autoSanValidation }) } }),
  };
}

/** Exact matches on the kind of name each SAN is: a URI (SPIFFE ids), an IP address, an email, else a DNS name. */
function sanMatchers(sans: readonly string[]): { matchTypedSubjectAltNames?: SubjectAltNameMatcher[] } {
  if (sans.length === 0) return {};
  return {
    matchTypedSubjectAltNames: sans.map((san) => ({
      sanType: san.includes('://') ? 'URI' : isIP(san) !== 0 ? 'IP_ADDRESS' : san.includes('@') ? 'EMAIL' : 'DNS',
      matcher: { exact: san },
    })),
  };
}
