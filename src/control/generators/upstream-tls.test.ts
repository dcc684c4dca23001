import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertValidMessage } from '../../xds/index.ts';
import type { UpstreamTlsContext } from '../../xds/envoy/index.ts';
import { upstreamTransport, type UpstreamTlsInput } from './upstream-tls.ts';

const BASE: UpstreamTlsInput = {
  tls: undefined,
  sni: 'outbound_.443_._.api.example.com',
  identities: ['spiffe://cluster.local/ns/default/sa/api'],
  autoMtls: true,
  http2: false,
  generator: 'envoy',
};

function context(input: Partial<UpstreamTlsInput>): UpstreamTlsContext | undefined {
  const result = upstreamTransport({ ...BASE, ...input });
  if (result.transportSocket !== undefined) assertValidMessage('envoy.config.core.v3.TransportSocket', result.transportSocket);
  return result.transportSocket?.typedConfig as UpstreamTlsContext | undefined;
}

describe('upstreamTransport', () => {
  it('uses nothing when auto mTLS may not apply and no tls is given', () => {
    assert.deepEqual(upstreamTransport({ ...BASE, autoMtls: false }), {});
  });

  it('lets ISTIO_MUTUAL override the SNI and identities with its own', () => {
    const result = context({ tls: { mode: 'ISTIO_MUTUAL', sni: 'custom.sni', subjectAltNames: ['spiffe://other/ns/x/sa/y'] } });
    assert.equal(result?.sni, 'custom.sni');
    assert.deepEqual(result?.commonTlsContext.combinedValidationContext?.defaultValidationContext, {
      matchTypedSubjectAltNames: [{ sanType: 'URI', matcher: { exact: 'spiffe://other/ns/x/sa/y' } }],
    });
  });

  it('checks only the mesh root when the service has no known identity', () => {
    assert.deepEqual(context({ tls: { mode: 'ISTIO_MUTUAL' }, identities: [] })?.commonTlsContext.combinedValidationContext?.defaultValidationContext, {});
  });

  it('originates SIMPLE TLS against the system roots, leaving SNI and SAN checks to the request Host', () => {
    const result = upstreamTransport({ ...BASE, tls: { mode: 'SIMPLE' } });
    assert.deepEqual((result.transportSocket?.typedConfig as UpstreamTlsContext).commonTlsContext.validationContext, { systemRootCerts: {} });
    assert.deepEqual(result.upstreamHttpProtocolOptions, { autoSni: true, autoSanValidation: true });
  });

  it('checks the names given in subjectAltNames by their kind', () => {
    const validation = context({ tls: { mode: 'SIMPLE', sni: 'api.example.com', subjectAltNames: ['api.example.com', '10.1.2.3', 'ops@example.com', 'spiffe://td/ns/a/sa/b'] } })?.commonTlsContext.validationContext;
    assert.deepEqual(validation?.matchTypedSubjectAltNames?.map((m) => m.sanType), ['DNS', 'IP_ADDRESS', 'EMAIL', 'URI']);
  });

  it('does not verify the server with insecureSkipVerify', () => {
    const result = upstreamTransport({ ...BASE, tls: { mode: 'SIMPLE', insecureSkipVerify: true } });
    assert.equal((result.transportSocket?.typedConfig as UpstreamTlsContext).commonTlsContext.validationContext, undefined);
    assert.deepEqual(result.upstreamHttpProtocolOptions, { autoSni: true });
  });

  it('reads certificates of a credentialName from SDS, the CA under <name>-cacert', () => {
    const common = context({ tls: { mode: 'MUTUAL', credentialName: 'client-cert', sni: 'api.example.com' } })?.commonTlsContext;
    assert.deepEqual(common?.tlsCertificateSdsSecretConfigs, [{ name: 'client-cert', sdsConfig: { ads: {}, resourceApiVersion: 'V3' } }]);
    assert.deepEqual(common?.combinedValidationContext?.validationContextSdsSecretConfig, { name: 'client-cert-cacert', sdsConfig: { ads: {}, resourceApiVersion: 'V3' } });
  });

  it('checks a certificate revocation list when caCrl is given, and asks for h2 on HTTP/2 clusters', () => {
    const common = context({ tls: { mode: 'SIMPLE', caCertificates: '/ca.pem', caCrl: '/crl.pem', sni: 'x' }, http2: true })?.commonTlsContext;
    assert.deepEqual(common?.validationContext, { trustedCa: { filename: '/ca.pem' }, crl: { filename: '/crl.pem' } });
    assert.deepEqual(common?.alpnProtocols, ['h2']);
  });

  it('gives proxyless gRPC no TLS unless the rule says ISTIO_MUTUAL, and no auto mTLS', () => {
    assert.deepEqual(upstreamTransport({ ...BASE, generator: 'grpc' }), {});
    assert.deepEqual(upstreamTransport({ ...BASE, generator: 'grpc', tls: { mode: 'SIMPLE' } }), {});
  });
});
