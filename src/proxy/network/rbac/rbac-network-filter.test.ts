import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import type { DownstreamTls } from '../../http/exchange.ts';
import { MemoryStats, RecordingAccessLog, silentLogger, withTimeout } from '../http-connection-manager/hcm-test-support.ts';
import type { ConnectionFilter } from '../network-filter.ts';
import { RbacNetworkFilterFactory } from './rbac-network-filter.ts';
import { RBAC_NETWORK_TYPE } from './rbac-network-settings.ts';

type Json = Record<string, unknown>;

const factory = new RbacNetworkFilterFactory();
const ANY = { any: true };
const servers: net.Server[] = [];
/** Every accepted socket, destroyed at the end so that closing the servers cannot wait on one. */
const accepted: net.Socket[] = [];

interface Harness {
  readonly port: number;
  readonly stats: MemoryStats;
  readonly accessLog: RecordingAccessLog;
  /** What the filter answered, per accepted connection. */
  readonly verdicts: ('continue' | 'stop')[];
}

interface Extras {
  readonly sni?: string;
  readonly tls?: DownstreamTls;
}

/**
 * A listener on 127.0.0.1 that runs the filter on each accepted connection and, when it says
 * 'continue', echoes what it reads (standing in for the chain's terminal filter).
 */
async function serve(config: Json, extras: Extras = {}): Promise<Harness> {
  const parsed = factory.parse({ '@type': RBAC_NETWORK_TYPE, ...config });
  if (!parsed.ok) assert.fail(parsed.error);
  const stats = new MemoryStats();
  const accessLog = new RecordingAccessLog();
  const filter: ConnectionFilter = factory.create(parsed.value, {
    clusters: { get: () => undefined, names: () => [] }, stats, accessLog, clock: { now: () => 1_000 }, random: () => 0, logger: silentLogger,
  });
  const verdicts: ('continue' | 'stop')[] = [];
  let ids = 0;
  const server = net.createServer((socket) => {
    accepted.push(socket);
    const verdict = filter.onConnection({
      socket,
      downstream: {
        connectionId: ++ids,
        remoteAddress: socket.remoteAddress ?? '',
        remotePort: socket.remotePort ?? 0,
        localAddress: socket.localAddress ?? '',
        localPort: socket.localPort ?? 0,
        ...(extras.tls === undefined ? {} : { tls: extras.tls }),
      },
      originalDestination: { address: socket.localAddress ?? '', port: socket.localPort ?? 0 },
      listenerName: 'inbound',
      sniffed: { transportProtocol: 'raw_buffer', applicationProtocols: [], ...(extras.sni === undefined ? {} : { sni: extras.sni }) },
    });
    verdicts.push(verdict);
    if (verdict === 'continue') socket.pipe(socket);
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as net.AddressInfo).port, stats, accessLog, verdicts };
}

/** Connects, sends "ping" and reports what came back before the server closed (or "ping" arrived). */
function ping(port: number): Promise<{ echoed: string; closedByServer: boolean }> {
  const socket = net.connect(port, '127.0.0.1');
  let echoed = '';
  return withTimeout(new Promise<{ echoed: string; closedByServer: boolean }>((resolve) => {
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      echoed += chunk.toString();
      if (echoed === 'ping') resolve({ echoed, closedByServer: false });
    });
    socket.on('close', () => resolve({ echoed, closedByServer: true }));
    socket.write('ping');
  }), 3000, 'no echo and no close').finally(() => socket.destroy());
}

function allowOnly(permission: Json, principal: Json = ANY): Json {
  return { action: 'ALLOW', policies: { only: { permissions: [permission], principals: [principal] } } };
}

describe('RbacNetworkFilterFactory on real connections', { timeout: 20_000 }, () => {
  after(async () => {
    for (const socket of accepted) socket.destroy();
    for (const server of servers) {
      server.close();
      await once(server, 'close');
    }
  });

  it('lets an allowed connection go on to the next filter', async () => {
    const harness = await serve({ statPrefix: 'tcp.', rules: allowOnly(ANY, { sourceIp: { addressPrefix: '127.0.0.0', prefixLen: 8 } }) });
    assert.deepEqual(await ping(harness.port), { echoed: 'ping', closedByServer: false });
    assert.deepEqual(harness.verdicts, ['continue']);
    assert.equal(harness.stats.get('tcp.rbac.allowed'), 1);
    assert.equal(harness.accessLog.entries.length, 0);
  });

  it('closes a denied connection and logs it with the deciding policy', async () => {
    const harness = await serve({ statPrefix: 'tcp', rules: allowOnly({ destinationPort: 1 }) });
    assert.deepEqual(await ping(harness.port), { echoed: '', closedByServer: true });
    assert.deepEqual(harness.verdicts, ['stop']);
    assert.equal(harness.stats.get('tcp.rbac.denied'), 1, 'a prefix without a dot is joined with one');
    const [entry] = harness.accessLog.entries;
    assert.equal(entry?.kind, 'tcp');
    assert.equal(entry.info.responseCodeDetails, 'rbac_access_denied_matched_policy[none]');
    assert.equal(entry.info.connectionTerminationDetails, 'rbac_access_denied_matched_policy[none]');
    assert.equal(entry.listenerName, 'inbound');
    assert.equal(entry.downstream.remoteAddress, '127.0.0.1');
  });

  it('names the DENY policy that closed the connection', async () => {
    const harness = await serve({ statPrefix: 'tcp.', rules: { action: 'DENY', policies: {
      'deny-loopback': { permissions: [{ destinationIp: { addressPrefix: '127.0.0.1', prefixLen: 32 } }], principals: [ANY] },
    } } });
    assert.equal((await ping(harness.port)).closedByServer, true);
    assert.equal(harness.accessLog.entries[0]?.info.connectionTerminationDetails, 'rbac_access_denied_matched_policy[deny-loopback]');
  });

  it('never closes a connection for its shadow rules, counting them under their prefix', async () => {
    const harness = await serve({ statPrefix: 'tcp.', shadowRules: { action: 'ALLOW' }, shadowRulesStatPrefix: 'istio_dry_run_allow_' });
    assert.equal((await ping(harness.port)).echoed, 'ping');
    assert.equal(harness.stats.get('tcp.rbac.istio_dry_run_allow_.shadow_denied'), 1);
    assert.equal(harness.stats.get('tcp.rbac.denied'), 0);
  });

  it('matches no HTTP-only rule on a connection', async () => {
    const harness = await serve({ statPrefix: 'tcp.', rules: allowOnly({ header: { name: 'x-missing', presentMatch: false } }) });
    assert.equal((await ping(harness.port)).closedByServer, true);
  });

  it('reads the SNI the listener sniffed and the verified peer certificate', async () => {
    const principal = { authenticated: { principalName: { exact: 'spiffe://cluster.local/ns/shop/sa/orders' } } };
    const rules = allowOnly({ requestedServerName: { exact: 'orders.shop.svc' } }, principal);
    const tls: DownstreamTls = {
      localUriSans: [],
      peerCertificate: { uriSans: ['spiffe://cluster.local/ns/shop/sa/orders'], dnsSans: [], subject: '', sha256: '', pem: '' },
    };
    const allowed = await serve({ statPrefix: 'tcp.', rules }, { sni: 'orders.shop.svc', tls });
    assert.equal((await ping(allowed.port)).echoed, 'ping');
    const noCertificate = await serve({ statPrefix: 'tcp.', rules }, { sni: 'orders.shop.svc' });
    assert.equal((await ping(noCertificate.port)).closedByServer, true);
  });
});

describe('RbacNetworkFilterFactory config', () => {
  it('takes either enforcement type, ONE_TIME_ON_FIRST_BYTE when unset', () => {
    const parsed = [undefined, 'CONTINUOUS', 1].map((enforcementType) => factory.parse({ statPrefix: 'tcp.', ...(enforcementType === undefined ? {} : { enforcementType }) }));
    assert.deepEqual(parsed.map((p) => (p.ok ? p.value.enforcementType : p.error)), ['ONE_TIME_ON_FIRST_BYTE', 'CONTINUOUS', 'CONTINUOUS']);
  });

  it('requires statPrefix and refuses what Weft does not implement, naming the field', () => {
    const parsed = factory.parse({ '@type': RBAC_NETWORK_TYPE, delayDeny: '1s', shadowMatcher: {}, enforcementType: 'SOMETIMES', rules: { policies: { p: { permissions: [ANY], principals: [{ custom: {} }] } } } });
    assert.equal(parsed.ok, false);
    const error = parsed.ok ? '' : parsed.error;
    for (const expected of [
      /^statPrefix: is required/m, /^delayDeny: is not supported by Weft/m, /^shadowMatcher: is not supported by Weft/m,
      /^enforcementType: "SOMETIMES" is not one of ONE_TIME_ON_FIRST_BYTE, CONTINUOUS$/m, /^rules\.policies\["p"\]\.principals\[0\]\.custom: is not supported by Weft/m,
    ]) assert.match(error, expected);
  });
});
