import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { after, describe, it } from 'node:test';
import { err, ok, type Result } from '../../core/index.ts';
import type { ProtoJson } from '../../xds/index.ts';
import { DOWNSTREAM_TLS_CONTEXT_TYPE, TLS_INSPECTOR_TYPE, TLS_TRANSPORT_SOCKET } from '../../xds/envoy/index.ts';
import type { ConnectionFilterFactory, DownstreamConnection, NetworkFilter, NetworkFilterFactory } from '../network/network-filter.ts';
import { SecretStore } from '../security/secret-store.ts';
import { CLIENT_SPIFFE_ID, pem, SERVER_SPIFFE_ID } from '../upstream/tls-test-support.ts';
import { ListenerManager } from './listener-manager.ts';
import { MemoryStats, systemTimers, testDeps, withTimeout } from './test-support.ts';

const ECHO_TYPE = 'type.googleapis.com/weft.test.Echo';
const GATE_TYPE = 'type.googleapis.com/weft.test.Gate';
const CHAIN_CLIENT_SPIFFE_ID = 'spiffe://cluster.local/ns/default/sa/chain-client';

/** A terminal filter that writes its tag and what it learnt of the peer, then echoes. */
class EchoFactory implements NetworkFilterFactory<string> {
  readonly typeUrl = ECHO_TYPE;
  readonly seen: DownstreamConnection[] = [];

  parse(config: Readonly<Record<string, unknown>>): Result<string, string> {
    return typeof config['tag'] === 'string' ? ok(config['tag']) : err('tag: required');
  }

  create(tag: string): NetworkFilter {
    return {
      onConnection: (connection) => {
        this.seen.push(connection);
        const socket = connection.socket as Socket;
        socket.write(`${tag} ${connection.downstream.tls?.peerCertificate?.uriSans.join(',') ?? '-'}\n`);
        socket.on('data', (chunk) => socket.write(chunk));
        socket.on('end', () => socket.end());
      },
    };
  }
}

/** A connection filter that closes connections from peers without a certificate. */
const gate: ConnectionFilterFactory<undefined> = {
  typeUrl: GATE_TYPE,
  role: 'connection',
  parse: () => ok(undefined),
  create: () => ({
    onConnection: (connection) => {
      if (connection.downstream.tls?.peerCertificate !== undefined) return 'continue';
      connection.socket.destroy();
      return 'stop';
    },
  }),
};

const sds = (name: string): ProtoJson => ({ name, sdsConfig: { ads: {} } });

function mtls(requireClientCertificate: boolean): ProtoJson {
  return {
    name: TLS_TRANSPORT_SOCKET,
    typedConfig: {
      '@type': DOWNSTREAM_TLS_CONTEXT_TYPE,
      requireClientCertificate,
      commonTlsContext: {
        tlsCertificateSdsSecretConfigs: [sds('default')],
        combinedValidationContext: {
          defaultValidationContext: { matchTypedSubjectAltNames: [{ sanType: 'URI', matcher: { prefix: 'spiffe://cluster.local/' } }] },
          validationContextSdsSecretConfig: sds('ROOTCA'),
        },
        alpnProtocols: ['h2', 'http/1.1'],
      },
    },
  };
}

const echo = (tag: string): ProtoJson => ({ name: 'echo', typedConfig: { '@type': ECHO_TYPE, tag } });

interface Harness {
  readonly manager: ListenerManager;
  readonly secrets: SecretStore;
  readonly stats: MemoryStats;
  readonly factory: EchoFactory;
  port(name: string): number;
}

const managers: ListenerManager[] = [];
after(() => {
  for (const manager of managers) manager.close();
});

async function harness(listeners: readonly ProtoJson[], withSecrets = true): Promise<Harness> {
  const secrets = new SecretStore({ localNames: ['default', 'ROOTCA'], now: Date.now });
  if (withSecrets) {
    secrets.setLocal('default', { kind: 'tlsCertificate', certificateChainPem: pem('server.pem'), privateKeyPem: pem('server-key.pem') }, '1');
    secrets.setLocal('ROOTCA', { kind: 'validationContext', trustedCaPem: pem('ca.pem') }, '1');
  }
  const factory = new EchoFactory();
  const stats = new MemoryStats();
  const deps = { ...testDeps(), stats };
  const manager = new ListenerManager({
    filters: new Map<string, NetworkFilterFactory | ConnectionFilterFactory>([[ECHO_TYPE, factory as NetworkFilterFactory], [GATE_TYPE, gate as ConnectionFilterFactory]]),
    deps,
    timers: systemTimers,
    bindAddress: () => ({ host: '127.0.0.1', port: 0 }),
    secrets,
  });
  managers.push(manager);
  const applied = await manager.apply({ resources: new Map(listeners.map((l) => [String(l['name']), l])), removed: [], version: '1' });
  assert.ok(applied.ok, applied.ok ? '' : applied.error);
  return { manager, secrets, stats, factory, port: (name) => manager.boundAddress(name)!.port };
}

function listener(name: string, chains: readonly ProtoJson[]): ProtoJson {
  return {
    name,
    address: { socketAddress: { address: '0.0.0.0', portValue: 15006 } },
    listenerFilters: [{ name: 'envoy.filters.listener.tls_inspector', typedConfig: { '@type': TLS_INSPECTOR_TYPE } }],
    filterChains: chains,
  };
}

/** Connects with TLS, presenting the client certificate unless told not to; resolves with the first line. */
async function tlsLine(
  port: number,
  options: { readonly clientCertificate?: boolean; readonly cert?: string; readonly key?: string; readonly ca?: string; readonly alpn?: readonly string[] } = {},
): Promise<{ line: string; socket: TLSSocket }> {
  const socket = tlsConnect({
    host: '127.0.0.1',
    port,
    ca: options.ca ?? pem('ca.pem'),
    ...(options.clientCertificate !== false && { cert: options.cert ?? pem('client.pem'), key: options.key ?? pem('client-key.pem') }),
    checkServerIdentity: () => undefined,
    ALPNProtocols: [...(options.alpn ?? ['istio-peer-exchange', 'istio', 'h2'])],
  });
  return { line: await firstLine(socket), socket };
}

/** The first line the peer writes, or `closed` when it closes first. */
async function firstLine(socket: Socket): Promise<string> {
  let data = '';
  return withTimeout(new Promise<string>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString();
      const end = data.indexOf('\n');
      if (end >= 0) resolve(data.slice(0, end));
    });
    socket.on('error', () => resolve('closed'));
    socket.on('close', () => resolve('closed'));
  }), 5000, 'no answer');
}

describe('filter chains that terminate TLS', () => {
  it('runs mutual TLS with the certificate and root from SDS secrets, and tells the filters who the peer is', async () => {
    const h = await harness([listener('in', [{ filterChainMatch: { transportProtocol: 'tls' }, transportSocket: mtls(true), filters: [echo('mtls')] }])]);
    const { line, socket } = await tlsLine(h.port('in'));
    assert.equal(line, `mtls ${CLIENT_SPIFFE_ID}`);
    assert.equal(socket.alpnProtocol, 'h2');
    socket.write('ping\n');
    assert.match(await firstLine(socket), /ping/);
    socket.destroy();
    const seen = h.factory.seen[0]!.downstream.tls!;
    assert.deepEqual(seen.localUriSans, [SERVER_SPIFFE_ID]);
    assert.match(seen.peerCertificate!.sha256, /^[0-9a-f]{64}$/);
    assert.equal(h.stats.get('listener.0.0.0.0_15006.ssl.handshake'), 1);
    // An HTTP/1.1 or TCP client offers only Istio's ALPNs, none of the chain's: the handshake still succeeds.
    const { line: plainAlpn, socket: istioOnly } = await tlsLine(h.port('in'), { alpn: ['istio-peer-exchange', 'istio'] });
    assert.equal(plainAlpn, `mtls ${CLIENT_SPIFFE_ID}`);
    istioOnly.destroy();
  });

  it('refuses a client without a certificate when one is required, and one whose CA is not the root', async () => {
    const h = await harness([listener('in', [{ filterChainMatch: { transportProtocol: 'tls' }, transportSocket: mtls(true), filters: [echo('mtls')] }])]);
    assert.equal((await tlsLine(h.port('in'), { clientCertificate: false })).line, 'closed');
    assert.equal(h.stats.get('listener.0.0.0.0_15006.ssl.fail_verify_no_cert'), 1);
    h.secrets.setLocal('ROOTCA', { kind: 'validationContext', trustedCaPem: pem('other-ca.pem') }, '2');
    assert.equal((await tlsLine(h.port('in'))).line, 'closed');
    assert.equal(h.stats.get('listener.0.0.0.0_15006.ssl.fail_verify_error'), 1);
    assert.equal(h.factory.seen.length, 0);
  });

  it('takes a client chain leaf -> intermediate -> root when only the root is trusted, whatever order the CAs are sent in', async () => {
    const h = await harness([listener('in', [{ filterChainMatch: { transportProtocol: 'tls' }, transportSocket: mtls(true), filters: [echo('mtls')] }])]);
    h.secrets.setLocal('ROOTCA', { kind: 'validationContext', trustedCaPem: pem('chain-root.pem') }, '2');
    const client = { key: pem('chain-client-key.pem') };
    for (const cas of [['chain-intermediate.pem', 'chain-root.pem'], ['chain-intermediate.pem'], ['chain-root.pem', 'chain-intermediate.pem']]) {
      const { line, socket } = await tlsLine(h.port('in'), { ...client, cert: [pem('chain-client.pem'), ...cas.map(pem)].join('') });
      assert.equal(line, `mtls ${CHAIN_CLIENT_SPIFFE_ID}`, `sent with ${cas.join(', ')}`);
      socket.destroy();
    }
    // Without its intermediate the leaf does not lead to the root.
    assert.equal((await tlsLine(h.port('in'), { ...client, cert: pem('chain-client.pem') })).line, 'closed');
    assert.equal(h.stats.get('listener.0.0.0.0_15006.ssl.fail_verify_error'), 1);
  });

  it('refuses a plaintext client on a TLS-only port (STRICT): no chain takes it', async () => {
    const h = await harness([listener('in', [{ filterChainMatch: { transportProtocol: 'tls' }, transportSocket: mtls(true), filters: [echo('mtls')] }])]);
    const socket = connect(h.port('in'), '127.0.0.1');
    socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    assert.equal(await firstLine(socket), 'closed');
    assert.equal(h.factory.seen.length, 0);
  });

  it('takes TLS and plaintext on one port, told apart per connection (PERMISSIVE)', async () => {
    const h = await harness([listener('in', [
      { filterChainMatch: { transportProtocol: 'tls' }, transportSocket: mtls(false), filters: [echo('mtls')] },
      { filterChainMatch: { transportProtocol: 'raw_buffer' }, filters: [echo('plain')] },
    ])]);
    assert.equal((await tlsLine(h.port('in'))).line, `mtls ${CLIENT_SPIFFE_ID}`);
    const plain = connect(h.port('in'), '127.0.0.1');
    plain.write('hello\n');
    assert.equal(await firstLine(plain), 'plain -');
    plain.destroy();
    // Without a certificate (not required), the TLS chain still serves, with no peer identity.
    assert.equal((await tlsLine(h.port('in'), { clientCertificate: false })).line, 'mtls -');
  });

  it('refuses connections while the SDS secrets have not arrived, and serves once they do', async () => {
    const h = await harness([listener('in', [{ filterChainMatch: { transportProtocol: 'tls' }, transportSocket: mtls(true), filters: [echo('mtls')] }])], false);
    assert.equal((await tlsLine(h.port('in'))).line, 'closed');
    assert.equal(h.stats.get('listener.0.0.0.0_15006.ssl.connection_error'), 1);
    h.secrets.setLocal('default', { kind: 'tlsCertificate', certificateChainPem: pem('server.pem'), privateKeyPem: pem('server-key.pem') }, '2');
    h.secrets.setLocal('ROOTCA', { kind: 'validationContext', trustedCaPem: pem('ca.pem') }, '2');
    assert.equal((await tlsLine(h.port('in'))).line, `mtls ${CLIENT_SPIFFE_ID}`);
  });

  it('runs connection filters before the terminal filter: one may close the connection', async () => {
    const gated = { name: 'gate', typedConfig: { '@type': GATE_TYPE } };
    const h = await harness([listener('in', [{ filterChainMatch: { transportProtocol: 'tls' }, transportSocket: mtls(false), filters: [gated, echo('mtls')] }])]);
    assert.equal((await tlsLine(h.port('in'))).line, `mtls ${CLIENT_SPIFFE_ID}`);
    assert.equal((await tlsLine(h.port('in'), { clientCertificate: false })).line, 'closed');
    assert.equal(h.factory.seen.length, 1);
  });

  it('NACKs a chain whose TLS context is broken, naming the field, and one that does not end with a terminal filter', async () => {
    const secrets = new SecretStore({ now: Date.now });
    const manager = new ListenerManager({
      filters: new Map<string, NetworkFilterFactory | ConnectionFilterFactory>([[ECHO_TYPE, new EchoFactory() as NetworkFilterFactory], [GATE_TYPE, gate as ConnectionFilterFactory]]),
      deps: testDeps(),
      timers: systemTimers,
      bindAddress: () => ({ host: '127.0.0.1', port: 0 }),
      secrets,
    });
    managers.push(manager);
    const noCertificate = { name: TLS_TRANSPORT_SOCKET, typedConfig: { '@type': DOWNSTREAM_TLS_CONTEXT_TYPE, requireClientCertificate: true, commonTlsContext: {} } };
    const bad = await manager.apply({
      resources: new Map([['in', listener('in', [
        { transportSocket: noCertificate, filters: [echo('x')] },
        { filterChainMatch: { transportProtocol: 'raw_buffer' }, filters: [echo('x'), { name: 'gate', typedConfig: { '@type': GATE_TYPE } }] },
      ])]]),
      removed: [],
      version: '1',
    });
    assert.ok(!bad.ok);
    assert.match(bad.error, /transportSocket\.typedConfig\.commonTlsContext\.tlsCertificates: a server needs a certificate/);
    assert.match(bad.error, /requireClientCertificate: needs a validation context/);
    assert.match(bad.error, /a chain must end with a terminal filter/);
  });

  it('asks SDS for the secrets its chains name', async () => {
    const h = await harness([listener('in', [{ filterChainMatch: { transportProtocol: 'tls' }, transportSocket: mtls(true), filters: [echo('mtls')] }])]);
    assert.deepEqual([...h.manager.secretNames()].sort(), ['ROOTCA', 'default']);
    h.secrets.addReferences(() => h.manager.secretNames());
    assert.deepEqual([...(h.secrets.sds.dependencies?.().names ?? [])], [], 'default and ROOTCA are the proxy\'s own: never asked of SDS');
    const remote = new SecretStore({ now: Date.now });
    remote.addReferences(() => h.manager.secretNames());
    assert.deepEqual([...(remote.sds.dependencies?.().names ?? [])].sort(), ['ROOTCA', 'default']);
  });
});

describe('SDS secrets', () => {
  it('accepts a certificate with its key and a CA, and NACKs a key that does not belong to the certificate', async () => {
    const secrets = new SecretStore({ now: Date.now });
    const inline = (text: string): ProtoJson => ({ inlineBytes: Buffer.from(text).toString('base64') });
    const good = await secrets.sds.apply({
      resources: new Map<string, ProtoJson>([
        ['cred', { name: 'cred', tlsCertificate: { certificateChain: inline(pem('client.pem')), privateKey: inline(pem('client-key.pem')) } }],
        ['cred-cacert', { name: 'cred-cacert', validationContext: { trustedCa: inline(pem('ca.pem')) } }],
      ]),
      removed: [],
      version: 'v1',
    });
    assert.ok(good.ok);
    assert.equal(secrets.get('cred')?.kind, 'tlsCertificate');
    assert.equal(secrets.get('cred-cacert')?.kind, 'validationContext');
    const version = secrets.version;
    const bad = await secrets.sds.apply({
      resources: new Map<string, ProtoJson>([['cred', { name: 'cred', tlsCertificate: { certificateChain: inline(pem('client.pem')), privateKey: inline(pem('server-key.pem')) } }]]),
      removed: [],
      version: 'v2',
    });
    assert.ok(!bad.ok);
    assert.match(bad.error, /secret "cred": tlsCertificate.privateKey: does not belong to the certificate/);
    assert.equal(secrets.version, version, 'a NACKed update changes nothing');
  });
});
