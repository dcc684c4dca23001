import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { Cluster, TransportSocket } from '../../xds/envoy/index.ts';
import { HTTP_PROTOCOL_OPTIONS_KEY, HTTP_PROTOCOL_OPTIONS_TYPE } from '../../xds/envoy/index.ts';
import type { UpstreamHost } from './cluster.ts';
import { parseCluster } from './cluster-settings.ts';
import { parseClusterTransport, sniFromAuthority, type ClusterTransport } from './cluster-transport.ts';
import { EndpointHost } from './endpoint-host.ts';
import { pem, SERVER_SPIFFE_ID, testdata, tlsSocket } from './tls-test-support.ts';
import { dnsNameMatches, parseSubjectAltNames } from '../security/tls-context.ts';
import type { UpstreamTransportSocket } from './upstream-tls.ts';

const TLS_AT = 'transportSocket.typedConfig.commonTlsContext';
const ADS = { ads: {}, resourceApiVersion: 'V3' as const };

function cluster(extra: Partial<Cluster>): Cluster {
  return { name: 'outbound|443||api.example.com', type: 'EDS', edsClusterConfig: { edsConfig: ADS }, ...extra };
}

/** The problems parseCluster reports for a cluster with this transport socket. */
function problems(socket: TransportSocket): string[] {
  const result = parseCluster(cluster({ transportSocket: socket }));
  return result.ok ? [] : result.error;
}

function transport(extra: Partial<Cluster>): ClusterTransport {
  const found: string[] = [];
  const parsed = parseClusterTransport(cluster(extra), readFileSync, (field, message) => found.push(`${field}: ${message}`));
  assert.deepEqual(found, []);
  return parsed;
}

function host(socketMatch?: Record<string, string>): UpstreamHost {
  return new EndpointHost({
    address: '10.0.0.1', port: 8080, weight: 1, locality: '', priority: 0, healthStatus: 'HEALTHY',
    metadata: socketMatch === undefined ? {} : { 'envoy.transport_socket_match': socketMatch },
  });
}

function tlsOf(socket: UpstreamTransportSocket) {
  assert.equal(socket.kind, 'tls');
  return (socket as Extract<UpstreamTransportSocket, { kind: 'tls' }>).tls;
}

/** What Istio's generator sends for ISTIO_MUTUAL: SDS secrets `default` and `ROOTCA`, SAN checks, SNI, ALPN. */
const ISTIO_MUTUAL = tlsSocket({
  commonTlsContext: {
    tlsParams: { tlsMinimumProtocolVersion: 'TLSv1_2', tlsMaximumProtocolVersion: 'TLSv1_3' },
    alpnProtocols: ['istio-peer-exchange', 'istio'],
    tlsCertificateSdsSecretConfigs: [{ name: 'default', sdsConfig: ADS }],
    combinedValidationContext: {
      defaultValidationContext: { matchTypedSubjectAltNames: [{ sanType: 'URI', matcher: { exact: SERVER_SPIFFE_ID } }] },
      validationContextSdsSecretConfig: { name: 'ROOTCA', sdsConfig: ADS },
    },
  },
  sni: 'outbound_.8080_._.api.default.svc.cluster.local',
});

describe('upstream TLS settings', () => {
  describe('accepted', () => {
    it('originates TLS with a CA file, SAN checks, SNI, ALPN and versions (a DestinationRule SIMPLE)', () => {
      const chosen = transport({
        transportSocket: tlsSocket({
          commonTlsContext: {
            tlsParams: { tlsMinimumProtocolVersion: 'TLSv1_2', tlsMaximumProtocolVersion: 'TLSv1_3' },
            alpnProtocols: ['h2'],
            validationContext: { trustedCa: { filename: testdata('ca.pem') }, matchTypedSubjectAltNames: [{ sanType: 'DNS', matcher: { exact: 'api.example.com' } }] },
          },
          sni: 'api.example.com',
        }),
      }).forHost(host());
      const tls = tlsOf(chosen);
      assert.equal(tls.sni, 'api.example.com');
      assert.deepEqual(tls.alpn, ['h2']);
      assert.equal(tls.verify.chain, true);
      assert.deepEqual(tls.verify.subjectAltNames.map((m) => m.description), ['DNS exact "api.example.com"']);
    });

    it('presents a client certificate given inline (MUTUAL), and checks nothing of the server without a validation context', () => {
      const tls = tlsOf(transport({
        transportSocket: tlsSocket({ commonTlsContext: { tlsCertificates: [{ certificateChain: { inlineString: pem('client.pem') }, privateKey: { inlineBytes: Buffer.from(pem('client-key.pem')).toString('base64') } }] } }),
      }).forHost(host()));
      assert.equal(tls.verify.chain, false);
      assert.deepEqual(tls.verify.subjectAltNames, []);
      assert.equal(tls.sni, undefined);
    });

    it('verifies against the system roots when systemRootCerts is given, and not the chain under ACCEPT_UNTRUSTED', () => {
      assert.equal(tlsOf(transport({ transportSocket: tlsSocket({ commonTlsContext: { validationContext: { systemRootCerts: {} } } }) }).forHost(host())).verify.chain, true);
      const untrusted = transport({ transportSocket: tlsSocket({ commonTlsContext: { validationContext: { systemRootCerts: {}, trustChainVerification: 'ACCEPT_UNTRUSTED' } } }) });
      assert.equal(tlsOf(untrusted.forHost(host())).verify.chain, false);
    });

    it('accepts Istio\'s ISTIO_MUTUAL, whose SDS secrets make the connections fail with the reason rather than refusing the update', () => {
      assert.deepEqual(problems(ISTIO_MUTUAL), []);
      const chosen = transport({ transportSocket: ISTIO_MUTUAL }).forHost(host());
      assert.deepEqual(chosen, { kind: 'unavailable', reason: 'SDS secrets are not available here (this TLS context needs "default", "ROOTCA")' });
    });

    it('picks the transport socket per endpoint with Istio\'s auto mTLS matches: TLS for tlsMode istio, plaintext for the rest', () => {
      const auto = transport({
        transportSocketMatches: [
          { name: 'tlsMode-istio', match: { tlsMode: 'istio' }, transportSocket: tlsSocket({ commonTlsContext: { validationContext: { trustedCa: { filename: testdata('ca.pem') } } } }) },
          { name: 'tlsMode-disabled', match: {}, transportSocket: { name: 'envoy.transport_sockets.raw_buffer' } },
        ],
      });
      assert.equal(auto.forHost(host({ tlsMode: 'istio' })).kind, 'tls');
      assert.equal(auto.forHost(host()).kind, 'raw');
      assert.equal(auto.forHost(host({ tlsMode: 'disabled' })).kind, 'raw');
    });

    it('falls back to the cluster\'s transport socket when no match fits', () => {
      const fallback = transport({
        transportSocket: tlsSocket({ commonTlsContext: {} }),
        transportSocketMatches: [{ name: 'plain', match: { tlsMode: 'disabled' }, transportSocket: { name: 'envoy.transport_sockets.raw_buffer' } }],
      });
      assert.equal(fallback.forHost(host({ tlsMode: 'disabled' })).kind, 'raw');
      assert.equal(fallback.forHost(host()).kind, 'tls');
    });

    it('reads auto SNI and auto SAN validation from HttpProtocolOptions', () => {
      const auto = transport({
        transportSocket: tlsSocket({ commonTlsContext: { validationContext: { systemRootCerts: {} } } }),
        typedExtensionProtocolOptions: {
          [HTTP_PROTOCOL_OPTIONS_KEY]: { '@type': HTTP_PROTOCOL_OPTIONS_TYPE, explicitHttpConfig: { httpProtocolOptions: {} }, upstreamHttpProtocolOptions: { autoSni: true, autoSanValidation: true } },
        },
      });
      assert.equal(auto.autoSni, true);
      assert.equal(auto.autoSanValidation, true);
    });
  });

  describe('refused, naming the field', () => {
    it('refuses a certificate file that cannot be read', () => {
      assert.deepEqual(problems(tlsSocket({ commonTlsContext: { validationContext: { trustedCa: { filename: '/nonexistent/ca.pem' } } } })), [
        `${TLS_AT}.validationContext.trustedCa.filename: cannot read "/nonexistent/ca.pem": ENOENT`,
      ]);
    });

    it('refuses a CA that is not PEM', () => {
      assert.deepEqual(problems(tlsSocket({ commonTlsContext: { validationContext: { trustedCa: { inlineString: 'not a certificate' } } } })), [
        `${TLS_AT}.validationContext.trustedCa: holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
      ]);
    });

    it('refuses a private key that is not PEM, and one that belongs to another certificate', () => {
      const [broken] = problems(tlsSocket({ commonTlsContext: { tlsCertificates: [{ certificateChain: { inlineString: pem('client.pem') }, privateKey: { inlineString: 'garbage' } }] } }));
      assert.match(broken!, /^transportSocket\.typedConfig\.commonTlsContext\.tlsCertificates\[0\]\.privateKey: is not a PEM private key: /);
      assert.deepEqual(problems(tlsSocket({ commonTlsContext: { tlsCertificates: [{ certificateChain: { inlineString: pem('client.pem') }, privateKey: { inlineString: pem('server-key.pem') } }] } })), [
        `${TLS_AT}.tlsCertificates[0].privateKey: does not belong to the certificate (the first one of certificateChain)`,
      ]);
    });

    it('refuses a certificate without its key', () => {
      assert.deepEqual(problems(tlsSocket({ commonTlsContext: { tlsCertificates: [{ certificateChain: { inlineString: pem('client.pem') } }] } })), [
        `${TLS_AT}.tlsCertificates[0]: needs both certificateChain and privateKey (or pkcs12)`,
      ]);
    });

    it('refuses unknown fields, listing the known ones', () => {
      const socket = tlsSocket({ commonTlsContext: { tlsParam: {} } as never });
      assert.deepEqual(problems(socket), [
        `${TLS_AT}.tlsParam: unknown field (known: tlsParams, tlsCertificates, tlsCertificateSdsSecretConfigs, validationContext, validationContextSdsSecretConfig, combinedValidationContext, alpnProtocols)`,
      ]);
    });

    it('refuses what the proxy does not implement: certificate providers, OTHER_NAME SANs, environment variables', () => {
      assert.deepEqual(problems(tlsSocket({ commonTlsContext: { tlsCertificateProviderInstance: { instanceName: 'default' } } })), [
        `${TLS_AT}.tlsCertificateProviderInstance: certificate providers are not supported (they are how proxyless gRPC gets certificates); give tlsCertificates or SDS secrets`,
      ]);
      assert.deepEqual(problems(tlsSocket({ commonTlsContext: { validationContext: { systemRootCerts: {}, matchTypedSubjectAltNames: [{ sanType: 'OTHER_NAME', matcher: { exact: 'x' }, oid: '1.2.3' }] } } })), [
        `${TLS_AT}.validationContext.matchTypedSubjectAltNames[0].sanType: OTHER_NAME SANs are not supported`,
      ]);
      assert.deepEqual(problems(tlsSocket({ commonTlsContext: { validationContext: { trustedCa: { environmentVariable: 'CA' } } } })), [
        `${TLS_AT}.validationContext.trustedCa.environmentVariable: is not supported: give filename, inlineString or inlineBytes`,
      ]);
    });

    it('refuses SAN checks without a trusted CA, as Envoy does', () => {
      assert.deepEqual(problems(tlsSocket({ commonTlsContext: { validationContext: { matchTypedSubjectAltNames: [{ sanType: 'URI', matcher: { exact: SERVER_SPIFFE_ID } }] } } })), [
        `${TLS_AT}.validationContext.matchTypedSubjectAltNames: checking SANs without a trusted CA (trustedCa or systemRootCerts) is insecure and not allowed`,
      ]);
    });

    it('refuses a matcher with two kinds, and a regex RE2 refuses', () => {
      const found = problems(tlsSocket({
        commonTlsContext: {
          validationContext: {
            systemRootCerts: {},
            matchTypedSubjectAltNames: [
              { sanType: 'DNS', matcher: { exact: 'a', prefix: 'b' } },
              { sanType: 'URI', matcher: { safeRegex: { regex: '(a' } } },
            ],
          },
        },
      }));
      assert.equal(found[0], `${TLS_AT}.validationContext.matchTypedSubjectAltNames[0].matcher: must set only one of exact, prefix`);
      assert.match(found[1]!, /matchTypedSubjectAltNames\[1\]\.matcher\.safeRegex\.regex: "\(a" is not an RE2 regular expression: /);
    });

    it('refuses a minimum version above the maximum, and ciphers OpenSSL does not know', () => {
      assert.deepEqual(problems(tlsSocket({ commonTlsContext: { tlsParams: { tlsMinimumProtocolVersion: 'TLSv1_3', tlsMaximumProtocolVersion: 'TLSv1_2' } } })), [
        `${TLS_AT}.tlsParams.tlsMinimumProtocolVersion: must not be above tlsMaximumProtocolVersion (TLSv1.3 > TLSv1.2)`,
      ]);
      const [ciphers] = problems(tlsSocket({ commonTlsContext: { tlsParams: { cipherSuites: ['NOT-A-CIPHER'] } } }));
      assert.match(ciphers!, /^transportSocket\.typedConfig\.commonTlsContext\.tlsParams: cannot be used: /);
    });

    it('refuses a transport socket it does not know, and a TLS socket without its context', () => {
      assert.deepEqual(problems({ name: 'envoy.transport_sockets.tcp_stats', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tcp_stats.v3.Config' } }), [
        'transportSocket: "type.googleapis.com/envoy.extensions.transport_sockets.tcp_stats.v3.Config" is not a supported transport socket (supported: envoy.transport_sockets.tls, envoy.transport_sockets.raw_buffer)',
      ]);
      assert.deepEqual(problems({ name: 'envoy.transport_sockets.tls' }), [
        'transportSocket.typedConfig: a TLS transport socket needs its UpstreamTlsContext (type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext)',
      ]);
    });

    it('refuses two transport socket matches with one name', () => {
      const result = parseCluster(cluster({
        transportSocketMatches: [
          { name: 'm', match: { tlsMode: 'istio' }, transportSocket: { name: 'envoy.transport_sockets.raw_buffer' } },
          { name: 'm', match: {}, transportSocket: { name: 'envoy.transport_sockets.raw_buffer' } },
        ],
      }));
      assert.deepEqual(result.ok ? [] : result.error, ['transportSocketMatches[1].name: "m" is used by an earlier match']);
    });
  });
});

describe('subject alternative names', () => {
  it('reads Node\'s SAN text, quoted values and IPv6 addresses included', () => {
    assert.deepEqual(parseSubjectAltNames('DNS:a.example.com, URI:spiffe://td/ns/x/sa/y, IP Address:0:0:0:0:0:0:0:1, email:ops@example.com, DNS:"odd, name"'), [
      { type: 'DNS', value: 'a.example.com' },
      { type: 'URI', value: 'spiffe://td/ns/x/sa/y' },
      { type: 'IP_ADDRESS', value: '::1' },
      { type: 'EMAIL', value: 'ops@example.com' },
      { type: 'DNS', value: 'odd, name' },
    ]);
  });

  it('lets a wildcard DNS SAN cover exactly one more label', () => {
    assert.equal(dnsNameMatches('api.example.com', '*.example.com'), true);
    assert.equal(dnsNameMatches('API.Example.com', 'api.example.COM'), true);
    assert.equal(dnsNameMatches('example.com', '*.example.com'), false);
    assert.equal(dnsNameMatches('a.b.example.com', '*.example.com'), false);
  });

  it('takes the SNI from the request\'s host without its port, never an IP address', () => {
    assert.equal(sniFromAuthority('api.example.com:8443'), 'api.example.com');
    assert.equal(sniFromAuthority('api.example.com'), 'api.example.com');
    assert.equal(sniFromAuthority('10.0.0.1:80'), undefined);
    assert.equal(sniFromAuthority('[::1]:80'), undefined);
  });
});
