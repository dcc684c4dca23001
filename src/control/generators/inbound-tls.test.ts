import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DOWNSTREAM_TLS_CONTEXT_TYPE, type DownstreamTlsContext } from '../../xds/envoy/index.ts';
import { inboundMtlsTransportSocket } from './inbound-tls.ts';

function context(protocol: 'http' | 'tcp'): DownstreamTlsContext {
  const socket = inboundMtlsTransportSocket(protocol);
  assert.equal(socket.name, 'envoy.transport_sockets.tls');
  assert.equal(socket.typedConfig?.['@type'], DOWNSTREAM_TLS_CONTEXT_TYPE);
  return socket.typedConfig as DownstreamTlsContext;
}

describe('inboundMtlsTransportSocket', () => {
  it('presents the workload certificate and requires a client certificate signed by the mesh root, both over SDS on ADS', () => {
    const tls = context('tcp');
    assert.equal(tls.requireClientCertificate, true);
    const ads = { ads: {}, resourceApiVersion: 'V3' };
    assert.deepEqual(tls.commonTlsContext.tlsCertificateSdsSecretConfigs, [{ name: 'default', sdsConfig: ads }]);
    assert.deepEqual(tls.commonTlsContext.combinedValidationContext, {
      defaultValidationContext: {},
      validationContextSdsSecretConfig: { name: 'ROOTCA', sdsConfig: ads },
    });
    assert.equal(tls.commonTlsContext.tlsParams?.tlsMinimumProtocolVersion, 'TLSv1_2');
  });

  it('offers h2 and http/1.1 on HTTP chains, and no ALPN on TCP chains', () => {
    assert.deepEqual(context('http').commonTlsContext.alpnProtocols, ['h2', 'http/1.1']);
    assert.equal(context('tcp').commonTlsContext.alpnProtocols, undefined);
  });
});
