import { DOWNSTREAM_TLS_CONTEXT_TYPE, TLS_TRANSPORT_SOCKET, type DownstreamTlsContext, type TransportSocket } from '../../xds/envoy/index.ts';
import { ADS_CONFIG_SOURCE } from './listener-filters.ts';
import { SDS_DEFAULT, SDS_ROOT_CA } from './upstream-tls.ts';

/**
 * The server side of Istio mTLS on an inbound chain: the workload's certificate (SDS `default`),
 * a client certificate required and checked against the mesh root (SDS `ROOTCA`). Any identity
 * of the mesh passes; which ones may call is AuthorizationPolicy's business. HTTP chains offer
 * h2 and http/1.1 so that an HTTP/2 client negotiates HTTP/2; the `istio` ALPN the filter chain
 * matched on is not offered back, as it would stand in the way of that negotiation. TCP chains
 * offer nothing: the bytes go to the application as they come.
 */
export function inboundMtlsTransportSocket(protocol: 'http' | 'tcp'): TransportSocket {
  const context: DownstreamTlsContext = {
    '@type': DOWNSTREAM_TLS_CONTEXT_TYPE,
    commonTlsContext: {
      tlsParams: { tlsMinimumProtocolVersion: 'TLSv1_2', tlsMaximumProtocolVersion: 'TLSv1_3' },
      ...(protocol === 'http' && { alpnProtocols: ['h2', 'http/1.1'] }),
      tlsCertificateSdsSecretConfigs: [{ name: SDS_DEFAULT, sdsConfig: ADS_CONFIG_SOURCE }],
      combinedValidationContext: {
        defaultValidationContext: {},
        validationContextSdsSecretConfig: { name: SDS_ROOT_CA, sdsConfig: ADS_CONFIG_SOURCE },
      },
    },
    requireClientCertificate: true,
  };
  return { name: TLS_TRANSPORT_SOCKET, typedConfig: context };
}
