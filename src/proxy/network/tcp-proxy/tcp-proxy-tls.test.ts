import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as tls from 'node:tls';
import type { Cluster } from '../../../xds/envoy/index.ts';
import { closeServer, listen, readAll, systemTimers, testClusters, testDeps, type TestDeps } from '../../listener/test-support.ts';
import {
  CLIENT_SPIFFE_ID, endpointAt, pem, SERVER_SPIFFE_ID, serverCredentials, staticCluster, testdata, tlsSocket,
} from '../../upstream/tls-test-support.ts';
import { TcpProxyFactory } from './tcp-proxy-factory.ts';

const ADS = { ads: {}, resourceApiVersion: 'V3' as const };

/** Mutual TLS to the fixtures' server, checking its SPIFFE id. */
const MUTUAL = tlsSocket({
  commonTlsContext: {
    tlsCertificates: [{ certificateChain: { filename: testdata('client.pem') }, privateKey: { filename: testdata('client-key.pem') } }],
    validationContext: { trustedCa: { filename: testdata('ca.pem') }, matchTypedSubjectAltNames: [{ sanType: 'URI', matcher: { exact: SERVER_SPIFFE_ID } }] },
  },
});

describe('tcp_proxy to TLS upstreams', { timeout: 20_000 }, () => {
  /** Answers with the client certificate it saw, then what the client sent, once the client has ended its writes. */
  let server: tls.Server;
  let port: number;
  const fronts: Server[] = [];

  before(async () => {
    server = tls.createServer({ ...serverCredentials(), ca: pem('ca.pem'), requestCert: true, rejectUnauthorized: true, allowHalfOpen: true }, (socket) => {
      socket.on('error', () => {});
      let received = '';
      socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
      socket.on('end', () => socket.end(`${socket.getPeerCertificate().subjectaltname}|${received}`));
    });
    port = await listen(server);
  });

  after(async () => {
    await Promise.all(fronts.map((f) => closeServer(f)));
    await closeServer(server);
  });

  async function proxy(config: Partial<Cluster>): Promise<{ port: number; deps: TestDeps }> {
    const factory = new TcpProxyFactory({ timers: systemTimers });
    const parsed = factory.parse({ '@type': factory.typeUrl, statPrefix: 'tls', cluster: 'upstream' });
    assert.ok(parsed.ok);
    const deps = testDeps(testClusters(staticCluster('upstream', [endpointAt(port)], config)));
    const filter = factory.create(parsed.value, deps);
    let ids = 0;
    const front = createServer({ allowHalfOpen: true }, (socket: Socket) => filter.onConnection({
      socket,
      downstream: { connectionId: ++ids, remoteAddress: socket.remoteAddress!, remotePort: socket.remotePort!, localAddress: socket.localAddress!, localPort: socket.localPort! },
      originalDestination: { address: '127.0.0.1', port: socket.localPort! },
      listenerName: 'test-listener',
      sniffed: { transportProtocol: 'raw_buffer', applicationProtocols: [] },
    }));
    fronts.push(front);
    return { port: await listen(front), deps };
  }

  async function send(frontPort: number, text: string): Promise<string> {
    const socket = connect({ host: '127.0.0.1', port: frontPort, allowHalfOpen: true });
    await once(socket, 'connect');
    socket.end(text);
    return readAll(socket);
  }

  it('originates mutual TLS, checking the server and presenting the client certificate, and passes a half-close on', async () => {
    const front = await proxy({ transportSocket: MUTUAL });
    assert.equal(await send(front.port, 'ping'), `URI:${CLIENT_SPIFFE_ID}|ping`);
    const [entry] = await front.deps.accessLog.waitFor(1);
    assert.deepEqual([...entry!.info.responseFlags], []);
  });

  it('fails the connection UF, with the TLS reason, when the server\'s certificate is refused', async () => {
    const front = await proxy({
      transportSocket: tlsSocket({
        commonTlsContext: {
          tlsCertificates: [{ certificateChain: { filename: testdata('client.pem') }, privateKey: { filename: testdata('client-key.pem') } }],
          validationContext: { trustedCa: { filename: testdata('other-ca.pem') } },
        },
      }),
    });
    assert.equal(await send(front.port, 'ping'), '');
    const [entry] = await front.deps.accessLog.waitFor(1);
    assert.deepEqual([...entry!.info.responseFlags], ['UF']);
    assert.match(entry!.info.upstreamTransportFailureReason ?? '', /^TLS error: certificate verify failed: /);
  });

  it('fails the connection UF when its secrets come from SDS, saying why', async () => {
    const front = await proxy({
      transportSocket: tlsSocket({ commonTlsContext: { tlsCertificateSdsSecretConfigs: [{ name: 'default', sdsConfig: ADS }] } }),
    });
    assert.equal(await send(front.port, 'ping'), '');
    const [entry] = await front.deps.accessLog.waitFor(1);
    assert.deepEqual([...entry!.info.responseFlags], ['UF']);
    assert.equal(entry!.info.upstreamTransportFailureReason, 'SDS secrets are not available here (this TLS context needs "default")');
  });
});
