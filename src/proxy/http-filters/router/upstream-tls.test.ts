import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { Readable } from 'node:stream';
import { after, afterEach, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import type { Headers } from '../../http/headers.ts';
import { HTTP_PROTOCOL_OPTIONS_KEY, HTTP_PROTOCOL_OPTIONS_TYPE } from '../../../xds/envoy/index.ts';
import type { Cluster, TransportSocket } from '../../../xds/envoy/index.ts';
import type { UpstreamPools } from '../../upstream/pools/index.ts';
import {
  CLIENT_SPIFFE_ID, endpointAt, pem, SERVER_DNS_NAME, SERVER_SPIFFE_ID, serverCredentials, staticCluster, testdata, tlsSocket,
} from '../../upstream/tls-test-support.ts';
import { bodyText, clusterManager, exchange, forwardTo, realRouter } from './router-test-support.ts';

const ADS = { ads: {}, resourceApiVersion: 'V3' as const };
const HTTP2: Partial<Cluster> = {
  typedExtensionProtocolOptions: { [HTTP_PROTOCOL_OPTIONS_KEY]: { '@type': HTTP_PROTOCOL_OPTIONS_TYPE, explicitHttpConfig: { http2ProtocolOptions: {} } } },
};

/** Verifies the upstream against the fixtures' CA, checking the given SANs. */
function verifying(sans: readonly { sanType: 'URI' | 'DNS'; value: string }[] = [], ca = 'ca.pem'): TransportSocket {
  return tlsSocket({
    commonTlsContext: {
      validationContext: {
        trustedCa: { filename: testdata(ca) },
        ...(sans.length > 0 && { matchTypedSubjectAltNames: sans.map((s) => ({ sanType: s.sanType, matcher: { exact: s.value } })) }),
      },
    },
    sni: SERVER_DNS_NAME,
  });
}

interface Listening<S> {
  readonly server: S;
  readonly port: number;
}

async function listen<S extends http.Server | http2.Http2SecureServer>(server: S): Promise<Listening<S>> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

describe('the router over upstream TLS', { timeout: 20_000 }, () => {
  /** An HTTPS upstream that asks for (but does not require) a client certificate and reports what it saw. */
  let secure: Listening<https.Server>;
  let plain: Listening<http.Server>;
  let h2: Listening<http2.Http2SecureServer>;
  const sockets = new Set<Socket>();
  let pools: UpstreamPools | undefined;

  before(async () => {
    secure = await listen(https.createServer({ ...serverCredentials(), ca: pem('ca.pem'), requestCert: true, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, (req, res) => {
      const socket = req.socket as TLSSocket;
      const client = socket.getPeerCertificate();
      res.setHeader('x-sni', String(socket.servername));
      res.setHeader('x-alpn', String(socket.alpnProtocol));
      res.setHeader('x-client-san', client.subjectaltname ?? 'none');
      res.setHeader('x-client-trusted', String(socket.authorized));
      res.end('secure');
    }));
    plain = await listen(http.createServer((_req, res) => res.end('plain')));
    h2 = await listen(http2.createSecureServer({ ...serverCredentials() }));
    h2.server.on('stream', (stream, headers) => {
      stream.on('error', () => {});
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-alpn': String((stream.session?.socket as TLSSocket | undefined)?.alpnProtocol) }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': String(headers[':path']) }));
      stream.end(Buffer.from([0, 0, 0, 0, 2, 8, 1]));
    });
    for (const { server } of [secure, plain]) {
      server.on('connection', (socket: Socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
    }
    h2.server.on('session', (session) => {
      const socket = session.socket as Socket;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
  });

  afterEach(() => {
    pools?.close();
    pools = undefined;
  });

  after(async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all([secure, plain, h2].map(({ server }) => new Promise((resolve) => server.close(resolve))));
  });

  function route(...clusters: ReturnType<typeof staticCluster>[]) {
    const router = realRouter(clusterManager(...clusters));
    pools = router.pools;
    return router.handle;
  }

  it('originates TLS to an upstream the CA vouches for, with the configured SNI and SAN check', async () => {
    const cluster = staticCluster('api', [endpointAt(secure.port)], { transportSocket: verifying([{ sanType: 'URI', value: SERVER_SPIFFE_ID }]) });
    const response = await route(cluster)(exchange(forwardTo('api')));
    assert.equal(response.status, 200);
    assert.equal(await bodyText(response), 'secure');
    assert.equal(response.headers['x-sni'], SERVER_DNS_NAME);
    assert.equal(response.headers['x-alpn'], 'http/1.1');
    assert.equal(response.headers['x-client-san'], 'none');
  });

  it('answers 503 UF when the CA does not vouch for the upstream, with the TLS reason', async () => {
    const cluster = staticCluster('api', [endpointAt(secure.port)], { transportSocket: verifying([], 'other-ca.pem') });
    const ex = exchange(forwardTo('api'));
    const response = await route(cluster)(ex);
    assert.equal(response.status, 503);
    assert.deepEqual([...ex.info.responseFlags], ['UF']);
    assert.match(ex.info.upstreamTransportFailureReason ?? '', /^TLS error: certificate verify failed: /);
    assert.match(await bodyText(response), /^upstream connect error or disconnect\/reset before headers\. reset reason: connection failure, transport failure reason: TLS error: certificate verify failed: /);
    assert.match(ex.info.responseCodeDetails ?? '', /^upstream_reset_before_response_started\{connection_failure,TLS_error:_certificate_verify_failed:_/);
    assert.equal(cluster.hosts()[0]!.stats?.cxConnectFail, 1);
  });

  it('answers 503 UF when the upstream\'s certificate names none of the SANs expected', async () => {
    const cluster = staticCluster('api', [endpointAt(secure.port)], { transportSocket: verifying([{ sanType: 'URI', value: 'spiffe://cluster.local/ns/default/sa/someone-else' }]) });
    const ex = exchange(forwardTo('api'));
    const response = await route(cluster)(ex);
    assert.equal(response.status, 503);
    assert.deepEqual([...ex.info.responseFlags], ['UF']);
    assert.equal(
      ex.info.upstreamTransportFailureReason,
      `TLS error: certificate SAN verify failed: the SANs (DNS:upstream.example.com, DNS:*.api.example.com, URI:${SERVER_SPIFFE_ID}, IP_ADDRESS:127.0.0.1) match none of URI exact "spiffe://cluster.local/ns/default/sa/someone-else"`,
    );
  });

  it('presents the client certificate for mutual TLS', async () => {
    const cluster = staticCluster('api', [endpointAt(secure.port)], {
      transportSocket: tlsSocket({
        commonTlsContext: {
          tlsCertificates: [{ certificateChain: { filename: testdata('client.pem') }, privateKey: { filename: testdata('client-key.pem') } }],
          validationContext: { trustedCa: { filename: testdata('ca.pem') }, matchTypedSubjectAltNames: [{ sanType: 'DNS', matcher: { exact: SERVER_DNS_NAME } }] },
        },
      }),
    });
    const response = await route(cluster)(exchange(forwardTo('api')));
    assert.equal(await bodyText(response), 'secure');
    assert.equal(response.headers['x-client-san'], `URI:${CLIENT_SPIFFE_ID}`);
    assert.equal(response.headers['x-client-trusted'], 'true');
  });

  it('carries a gRPC call over HTTP/2 negotiated by ALPN, trailers included', async () => {
    const cluster = staticCluster('grpc', [endpointAt(h2.port)], { ...HTTP2, transportSocket: verifying([{ sanType: 'DNS', value: 'users.api.example.com' }]) });
    const ex = exchange(
      forwardTo('grpc'),
      { method: 'POST', path: '/helloworld.Greeter/SayHello', headers: { 'content-type': 'application/grpc', te: 'trailers' }, protocol: 'HTTP/2' },
      Readable.from([Buffer.from([0, 0, 0, 0, 0])]),
    );
    const response = await route(cluster)(ex);
    assert.equal(response.status, 200);
    assert.equal(response.headers['x-alpn'], 'h2');
    await bodyText(response);
    const trailers: Headers | undefined = await response.trailers;
    assert.deepEqual(trailers, { 'grpc-status': '0', 'grpc-message': '/helloworld.Greeter/SayHello' });
  });

  it('speaks TLS to the endpoints labelled tlsMode istio and plaintext to the others (auto mTLS)', async () => {
    const cluster = staticCluster('mixed', [endpointAt(secure.port, { tlsMode: 'istio' }), endpointAt(plain.port)], {
      transportSocketMatches: [
        { name: 'tlsMode-istio', match: { tlsMode: 'istio' }, transportSocket: verifying([{ sanType: 'URI', value: SERVER_SPIFFE_ID }]) },
        { name: 'tlsMode-disabled', match: {}, transportSocket: { name: 'envoy.transport_sockets.raw_buffer' } },
      ],
    });
    const handle = route(cluster);
    const answers = new Set<string>();
    for (let i = 0; i < 2; i++) answers.add(await bodyText(await handle(exchange(forwardTo('mixed')))));
    assert.deepEqual(answers, new Set(['secure', 'plain']));
  });

  it('fails connections whose secrets come from SDS with 503 UF, saying so', async () => {
    const cluster = staticCluster('mesh', [endpointAt(secure.port)], {
      transportSocket: tlsSocket({
        commonTlsContext: {
          tlsCertificateSdsSecretConfigs: [{ name: 'default', sdsConfig: ADS }],
          combinedValidationContext: { defaultValidationContext: {}, validationContextSdsSecretConfig: { name: 'ROOTCA', sdsConfig: ADS } },
        },
      }),
    });
    const ex = exchange(forwardTo('mesh'));
    const response = await route(cluster)(ex);
    assert.equal(response.status, 503);
    assert.deepEqual([...ex.info.responseFlags], ['UF']);
    assert.equal(ex.info.upstreamTransportFailureReason, 'SDS secrets are not available here (this TLS context needs "default", "ROOTCA")');
  });

  it('sends the request\'s host as SNI under auto SNI, and with auto SAN validation refuses an upstream that does not carry that name', async () => {
    const cluster = staticCluster('egress', [endpointAt(secure.port)], {
      transportSocket: tlsSocket({ commonTlsContext: { validationContext: { trustedCa: { filename: testdata('ca.pem') } } } }),
      typedExtensionProtocolOptions: {
        [HTTP_PROTOCOL_OPTIONS_KEY]: {
          '@type': HTTP_PROTOCOL_OPTIONS_TYPE,
          explicitHttpConfig: { httpProtocolOptions: {} },
          upstreamHttpProtocolOptions: { autoSni: true, autoSanValidation: true },
        },
      },
    });
    const handle = route(cluster);
    const named = await handle(exchange(forwardTo('egress'), { authority: 'orders.api.example.com:443' }));
    assert.equal(await bodyText(named), 'secure');
    assert.equal(named.headers['x-sni'], 'orders.api.example.com');

    const other = exchange(forwardTo('egress'), { authority: 'elsewhere.example.org' });
    const refused = await handle(other);
    assert.equal(refused.status, 503);
    assert.match(other.info.upstreamTransportFailureReason ?? '', /match none of DNS "elsewhere\.example\.org" \(the request's host\)$/);
  });
});
