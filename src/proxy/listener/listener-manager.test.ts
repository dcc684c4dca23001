import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { after, describe, it } from 'node:test';
import { err, ok, type Result } from '../../core/index.ts';
import type { ProtoJson } from '../../xds/index.ts';
import { TypeUrl } from '../../xds/index.ts';
import { HTTP_CONNECTION_MANAGER_TYPE, HTTP_INSPECTOR_TYPE, ORIGINAL_DST_TYPE, TCP_PROXY_TYPE, TLS_INSPECTOR_TYPE } from '../../xds/envoy/index.ts';
import type { DownstreamConnection, NetworkFilter, NetworkFilterFactory } from '../network/network-filter.ts';
import { TcpProxyFactory } from '../network/tcp-proxy/index.ts';
import type { UpstreamCluster, UpstreamHost } from '../upstream/cluster.ts';
import { InternalListeners } from '../upstream/internal-listeners.ts';
import type { ResourceUpdate } from '../xds-client/resource-handler.ts';
import { ListenerManager, type ListenerManagerOptions } from './listener-manager.ts';
import type { Destination, OriginalDestination } from './original-destination.ts';
import {
  closeServer, echoServer, eventually, listen, readAll, systemTimers, testCluster, testClusters, testDeps, withTimeout, type TestDeps,
} from './test-support.ts';
import { inspectClientHello } from './tls-inspector.ts';

const TAG_TYPE = 'type.googleapis.com/weft.test.Tag';

/**
 * A terminal filter that answers each connection with its chain's tag on a line, then echoes;
 * it records what it was given, and when it was drained and closed.
 */
class TagFactory implements NetworkFilterFactory<string> {
  readonly typeUrl = TAG_TYPE;
  readonly seen: { readonly tag: string; readonly connection: DownstreamConnection }[] = [];
  readonly drained: string[] = [];
  readonly closed: string[] = [];

  parse(config: Readonly<Record<string, unknown>>): Result<string, string> {
    return typeof config['tag'] === 'string' ? ok(config['tag']) : err('tag: required');
  }

  create(tag: string): NetworkFilter {
    const sockets = new Set<Socket>();
    return {
      onConnection: (connection) => {
        this.seen.push({ tag, connection });
        const socket = connection.socket as Socket;
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.write(`${tag}\n`);
        socket.on('data', (chunk) => socket.write(chunk));
        socket.on('end', () => socket.end());
      },
      drain: () => this.drained.push(tag),
      close: () => {
        this.closed.push(tag);
        for (const socket of sockets) socket.destroy();
      },
    };
  }
}

/** Stands in for the connection manager, for RDS dependencies. */
const fakeHcm: NetworkFilterFactory = { typeUrl: HTTP_CONNECTION_MANAGER_TYPE, parse: (config) => ok(config), create: () => ({ onConnection: (c) => c.socket.destroy() }) };

interface ChainSpec {
  readonly name?: string;
  readonly match?: Record<string, unknown>;
  readonly tag?: string;
  readonly filter?: Record<string, unknown>;
}

function chain(spec: ChainSpec): Record<string, unknown> {
  return {
    ...(spec.name !== undefined ? { name: spec.name } : {}),
    ...(spec.match !== undefined ? { filterChainMatch: spec.match } : {}),
    filters: [spec.filter ?? { name: 'tag', typedConfig: { '@type': TAG_TYPE, tag: spec.tag } }],
  };
}

function listener(name: string, port: number, chains: readonly ChainSpec[], extra: Record<string, unknown> = {}): ProtoJson {
  return { name, address: { socketAddress: { address: '0.0.0.0', portValue: port } }, filterChains: chains.map(chain), ...extra };
}

const LISTENER_FILTERS = {
  tls: { name: 'envoy.filters.listener.tls_inspector', typedConfig: { '@type': TLS_INSPECTOR_TYPE } },
  http: { name: 'envoy.filters.listener.http_inspector', typedConfig: { '@type': HTTP_INSPECTOR_TYPE } },
  originalDst: { name: 'envoy.filters.listener.original_dst', typedConfig: { '@type': ORIGINAL_DST_TYPE } },
};

function update(listeners: readonly ProtoJson[], removed: readonly string[] = [], version = '1'): ResourceUpdate {
  return { resources: new Map(listeners.map((l) => [String(l['name']), l])), removed, version };
}

/** An original destination the test sets before each connection. */
class QueuedDestinations {
  private readonly queue: Destination[] = [];
  readonly lookup: OriginalDestination = (socket) => this.queue.shift() ?? { address: socket.localAddress ?? '', port: socket.localPort ?? 0 };

  next(destination: Destination): void {
    this.queue.push(destination);
  }
}

interface Harness {
  readonly manager: ListenerManager;
  readonly tags: TagFactory;
  readonly deps: TestDeps;
  port(name: string): number;
}

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function harness(options: Partial<ListenerManagerOptions> & { readonly deps?: TestDeps } = {}): Harness {
  const tags = new TagFactory();
  const deps = options.deps ?? testDeps();
  const filters = new Map<string, NetworkFilterFactory>([
    [TAG_TYPE, tags as NetworkFilterFactory],
    [TCP_PROXY_TYPE, new TcpProxyFactory({ timers: systemTimers }) as NetworkFilterFactory],
    [HTTP_CONNECTION_MANAGER_TYPE, fakeHcm],
  ]);
  const manager = new ListenerManager({ filters, deps, timers: systemTimers, bindAddress: () => ({ host: '127.0.0.1', port: 0 }), ...options });
  cleanups.push(() => manager.close());
  return {
    manager,
    tags,
    deps,
    port: (name) => {
      const address = manager.boundAddress(name);
      assert.ok(address !== undefined, `listener ${name} is not bound`);
      return address.port;
    },
  };
}

async function applied(manager: ListenerManager, value: ResourceUpdate): Promise<void> {
  const result = await manager.apply(value);
  assert.ok(result.ok, result.ok ? '' : result.error);
}

/** Connects, sends `bytes`, and reads the chain's tag line (and what came with it); the socket stays open. */
async function tagOf(port: number, bytes?: string | Buffer): Promise<{ tag: string; rest: string; socket: Socket }> {
  const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  cleanups.push(() => socket.destroy());
  await withTimeout(once(socket, 'connect'), 3000, 'no connection');
  if (bytes !== undefined) socket.write(bytes);
  let received = '';
  await withTimeout(new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      received += chunk.toString('latin1');
      if (received.includes('\n')) {
        socket.off('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed after ${JSON.stringify(received)}`)));
  }), 3000, 'no tag line');
  socket.pause();
  const newline = received.indexOf('\n');
  return { tag: received.slice(0, newline), rest: received.slice(newline + 1), socket };
}

/** Sends `text` on an open tagged connection and reads it echoed back. */
async function echoes(socket: Socket, text: string): Promise<string> {
  socket.resume();
  const reply = new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString())));
  socket.write(text);
  return withTimeout(reply, 3000, 'no echo');
}

async function refused(port: number): Promise<boolean> {
  const socket = connect({ host: '127.0.0.1', port });
  return withTimeout(new Promise<boolean>((resolve) => {
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  }), 3000, 'neither connected nor refused');
}

/** A port nothing listens on. */
async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await closeServer(server);
  return port;
}

describe('ListenerManager: filter chain matching over real sockets', () => {
  it('routes by the destination port that the original destination gives', async () => {
    const destinations = new QueuedDestinations();
    const { manager, port } = harness({ originalDestination: destinations.lookup });
    await applied(manager, update([listener('virtualInbound', 15006, [
      { name: 'reviews', match: { destinationPort: 9080 }, tag: 'reviews' },
      { name: 'mysql', match: { destinationPort: 3306 }, tag: 'mysql' },
      { name: 'catchall', tag: 'passthrough' },
    ], { listenerFilters: [LISTENER_FILTERS.originalDst] })]));
    const seen: string[] = [];
    for (const destination of [9080, 3306, 8000]) {
      destinations.next({ address: '10.0.0.5', port: destination });
      seen.push((await tagOf(port('virtualInbound'))).tag);
    }
    assert.deepEqual(seen, ['reviews', 'mysql', 'passthrough']);
  });

  it('routes TLS by SNI (exact, then wildcard) and ALPN, and passes the ClientHello on intact', async () => {
    const received: Buffer[] = [];
    const raw = createServer((socket) => socket.on('data', (chunk: Buffer) => received.push(chunk)));
    const rawPort = await listen(raw);
    cleanups.push(() => closeServer(raw));
    const deps = testDeps(testClusters(testCluster('raw', [{ address: '127.0.0.1', port: rawPort }])));
    const { manager, port, tags } = harness({ deps });
    await applied(manager, update([listener('tls', 443, [
      { match: { serverNames: ['api.example.com'] }, filter: { name: 'tcp', typedConfig: { '@type': TCP_PROXY_TYPE, statPrefix: 'raw', cluster: 'raw' } } },
      { match: { serverNames: ['*.example.com'] }, tag: 'wildcard' },
      { match: { transportProtocol: 'tls', applicationProtocols: ['h2'] }, tag: 'tls-h2' },
      { match: { transportProtocol: 'tls' }, tag: 'tls' },
      { tag: 'plain' },
    ], { listenerFilters: [LISTENER_FILTERS.tls] })]));
    const tlsTo = (servername: string, alpn: string[]): void => {
      const client = tlsConnect({ host: '127.0.0.1', port: port('tls'), servername, ALPNProtocols: alpn, rejectUnauthorized: false });
      client.on('error', () => {});
      cleanups.push(() => client.destroy());
    };

    tlsTo('api.example.com', ['h2']);
    await eventually(() => inspectClientHello(Buffer.concat(received)).kind === 'tls', 3000, 'the raw upstream got no ClientHello');
    assert.deepEqual(inspectClientHello(Buffer.concat(received)), { kind: 'tls', serverName: 'api.example.com', alpn: ['h2'] });

    const expectations: [string, string[], string][] = [['www.example.com', ['h2'], 'wildcard'], ['other.org', ['h2', 'http/1.1'], 'tls-h2'], ['other.org', ['http/1.1'], 'tls']];
    for (const [servername, alpn, tag] of expectations) {
      const before = tags.seen.length;
      tlsTo(servername, alpn);
      await eventually(() => tags.seen.length > before, 3000, `no chain took ${servername}`);
      const last = tags.seen[tags.seen.length - 1]!;
      assert.equal(last.tag, tag, servername);
      assert.deepEqual(last.connection.sniffed, { sni: servername, transportProtocol: 'tls', applicationProtocols: alpn });
    }
    assert.equal((await tagOf(port('tls'), 'hello')).tag, 'plain');
  });

  it('tells h2c from HTTP/1.1 from other bytes, and the chain still reads every byte', async () => {
    const { manager, port, tags } = harness();
    await applied(manager, update([listener('sniff', 8080, [
      { match: { applicationProtocols: ['h2c'] }, tag: 'h2c' },
      { match: { applicationProtocols: ['http/1.0', 'http/1.1'] }, tag: 'http1' },
    ], { listenerFilters: [LISTENER_FILTERS.http], defaultFilterChain: chain({ tag: 'tcp' }) })]));
    const preface = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
    const h2 = await tagOf(port('sniff'), preface);
    assert.equal(h2.tag, 'h2c');
    assert.deepEqual(tags.seen[0]?.connection.sniffed, { transportProtocol: 'raw_buffer', applicationProtocols: ['h2c'] });
    h2.socket.resume();
    const echoed = h2.rest + await readAll(h2.socket.end());
    assert.equal(echoed, preface, 'the sniffed bytes were put back for the chain');

    const http1 = await tagOf(port('sniff'), 'GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.equal(http1.tag, 'http1');
    assert.equal((await tagOf(port('sniff'), 'SSH-2.0-client\r\n')).tag, 'tcp');
  });

  it('sends a connection that writes nothing to matching at the listener filter timeout, or closes it', async () => {
    const { manager, port, deps } = harness();
    const sniffing = { listenerFilters: [LISTENER_FILTERS.http], listenerFiltersTimeout: '0.1s' };
    await applied(manager, update([
      listener('continues', 3306, [{ match: { applicationProtocols: ['http/1.1'] }, tag: 'http' }, { tag: 'mysql' }], { ...sniffing, continueOnListenerFiltersTimeout: true }),
      listener('closes', 3307, [{ tag: 'mysql' }], sniffing),
    ]));
    const started = Date.now();
    assert.equal((await tagOf(port('continues'))).tag, 'mysql');
    assert.ok(Date.now() - started >= 90, 'matched before the timeout');

    const socket = connect({ host: '127.0.0.1', port: port('closes') });
    assert.equal(await readAll(socket), '');
    assert.equal(deps.stats.get('listener.0.0.0.0_3307.downstream_pre_cx_timeout'), 1);
  });

  it('closes a connection no chain matches, logging NR', async () => {
    const { manager, port, deps } = harness();
    await applied(manager, update([listener('narrow', 9000, [{ match: { destinationPort: 1 }, tag: 'never' }])]));
    const socket = connect({ host: '127.0.0.1', port: port('narrow') });
    assert.equal(await readAll(socket), '');
    const [entry] = await deps.accessLog.waitFor(1);
    assert.equal(entry?.kind, 'tcp');
    assert.deepEqual([...entry!.info.responseFlags], ['NR']);
    assert.equal(entry?.listenerName, 'narrow');
    assert.equal(deps.stats.get('listener.0.0.0.0_9000.no_filter_chain_match'), 1);
  });
});

describe('ListenerManager: original destination hand-over', () => {
  it('hands a captured connection to the listener of its original destination, else serves it itself', async () => {
    const destinations = new QueuedDestinations();
    const { manager, port } = harness({ originalDestination: destinations.lookup });
    await applied(manager, update([
      listener('virtualOutbound', 15001, [{ match: { destinationPort: 15001 }, tag: 'blackhole' }, { tag: 'passthrough' }], { useOriginalDst: true }),
      listener('0.0.0.0_9080', 9080, [{ tag: 'any-9080' }], { bindToPort: false }),
      { ...listener('10.0.0.5_9080', 9080, [{ tag: 'vip-9080' }], { bindToPort: false }), address: { socketAddress: { address: '10.0.0.5', portValue: 9080 } } },
    ]));
    assert.equal(manager.boundAddress('0.0.0.0_9080'), undefined, 'a bindToPort: false listener has no socket');
    const seen: string[] = [];
    for (const destination of [{ address: '10.0.0.9', port: 9080 }, { address: '10.0.0.5', port: 9080 }, { address: '10.0.0.9', port: 7777 }, { address: '10.0.0.9', port: 15001 }]) {
      destinations.next(destination);
      seen.push((await tagOf(port('virtualOutbound'))).tag);
    }
    assert.deepEqual(seen, ['any-9080', 'vip-9080', 'passthrough', 'blackhole']);
  });
});

describe('ListenerManager: updates', () => {
  it('leaves an unchanged listener alone and swaps a changed one\'s chains in place, old connections carrying on', async () => {
    const { manager, port, tags } = harness();
    await applied(manager, update([listener('a', 1001, [{ tag: 'a1' }]), listener('b', 1002, [{ tag: 'b1' }])]));
    const portA = port('a');
    const portB = port('b');
    const onA = await tagOf(portA);
    const onB = await tagOf(portB);

    await applied(manager, update([listener('a', 1001, [{ tag: 'a1' }]), listener('b', 1002, [{ tag: 'b2' }])], [], '2'));
    assert.equal(port('a'), portA);
    assert.equal(port('b'), portB, 'a changed listener on the same address keeps its socket');
    assert.equal(await echoes(onA.socket, 'still-a'), 'still-a');
    assert.equal(await echoes(onB.socket, 'still-b'), 'still-b', 'old connections finish on the old chain');
    assert.equal((await tagOf(portB)).tag, 'b2');
    assert.deepEqual(tags.drained, ['b1']);
    assert.deepEqual(tags.closed, []);
  });

  it('keeps the filters, and so the connections, of chains an update did not change', async () => {
    const { manager, port, tags } = harness();
    const kept = { name: 'kept', match: { destinationPort: 1 }, tag: 'kept' };
    await applied(manager, update([listener('l', 1001, [kept, { tag: 'old-default' }])]));
    await applied(manager, update([listener('l', 1001, [kept, { tag: 'new-default' }])], [], '2'));
    assert.deepEqual(tags.drained, ['old-default']);
    assert.equal((await tagOf(port('l'))).tag, 'new-default');
  });

  it('binds the new address of a listener that moved and stops accepting on the old one', async () => {
    const real = new Map([[2001, await freePort()], [2002, await freePort()]]);
    const { manager, port } = harness({ bindAddress: (l) => ({ host: '127.0.0.1', port: real.get(l.port)! }) });
    await applied(manager, update([listener('moving', 2001, [{ tag: 'first' }])]));
    const before = await tagOf(real.get(2001)!);
    await applied(manager, update([listener('moving', 2002, [{ tag: 'second' }])], [], '2'));
    assert.equal(port('moving'), real.get(2002));
    assert.equal((await tagOf(real.get(2002)!)).tag, 'second');
    assert.ok(await refused(real.get(2001)!), 'the old address still accepts');
    assert.equal(await echoes(before.socket, 'x'), 'x');
  });

  it('closes a removed listener\'s socket, drains its filters and closes them after the drain time', async () => {
    const { manager, port, tags } = harness({ drainTimeMs: 100 });
    await applied(manager, update([listener('stays', 1001, [{ tag: 'stays' }]), listener('goes', 1002, [{ tag: 'goes' }])]));
    const goesPort = port('goes');
    const open = await tagOf(goesPort);
    await applied(manager, update([], ['goes'], '2'));
    assert.equal(manager.boundAddress('goes'), undefined);
    assert.ok(await refused(goesPort), 'the removed listener still accepts');
    assert.deepEqual(tags.drained, ['goes']);
    assert.equal(await readAll(open.socket), '', 'the connection was not closed after the drain time');
    assert.deepEqual(tags.closed, ['goes']);
    assert.equal((await tagOf(port('stays'))).tag, 'stays');
  });

  it('NACKs an update with a bad listener, naming listener, chain and filter, and keeps the old listeners serving', async () => {
    const { manager, port } = harness();
    await applied(manager, update([listener('good', 1001, [{ tag: 'v1' }])]));
    const result = await manager.apply(update([
      listener('good', 1001, [{ name: 'web', filter: { name: 'mystery', typedConfig: { '@type': 'type.googleapis.com/x.Mystery' } } }]),
      listener('new', 1002, [{ tag: 'new' }]),
    ], [], '2'));
    assert.equal(result.ok, false);
    assert.match(result.ok ? '' : result.error, /^listener "good": filterChains\[0\] "web": filters\[0\] mystery: no network filter for type\.googleapis\.com\/x\.Mystery/);
    assert.equal(manager.boundAddress('new'), undefined, 'nothing of a NACKed update is applied');
    assert.equal((await tagOf(port('good'))).tag, 'v1');
  });

  it('NACKs an update whose address is in use, closing what it bound, and keeps the old state', async () => {
    const occupier = createServer();
    const busyPort = await listen(occupier);
    cleanups.push(() => closeServer(occupier));
    const fresh = await freePort();
    const ports: Record<string, number> = { fresh, busy: busyPort };
    const { manager, port } = harness({ bindAddress: (l) => ({ host: '127.0.0.1', port: ports[l.name] ?? 0 }) });
    await applied(manager, update([listener('old', 1001, [{ tag: 'old' }])]));
    const result = await manager.apply(update([listener('fresh', 1002, [{ tag: 'fresh' }]), listener('busy', 1003, [{ tag: 'busy' }])], [], '2'));
    assert.deepEqual(result, { ok: false, error: `listener "busy": cannot bind 127.0.0.1:${busyPort}: EADDRINUSE` });
    assert.ok(await refused(fresh), 'the bind that worked was not undone');
    assert.equal((await tagOf(port('old'))).tag, 'old');
    assert.deepEqual([...manager.configs().keys()], ['old']);
  });

  it('dumps each listener\'s active config and version, and the error of the update that failed it', async () => {
    const { manager } = harness();
    await applied(manager, update([listener('a', 1001, [{ tag: 'a' }])], [], 'v1'));
    const bad = listener('a', 1001, [{ filter: { name: 'tag', typedConfig: { '@type': TAG_TYPE } } }]);
    assert.equal((await manager.apply(update([bad], [], 'v2'))).ok, false);
    const dump = manager.dump();
    assert.equal(dump.versionInfo, 'v1');
    const [entry] = dump.dynamicListeners ?? [];
    assert.equal(entry?.name, 'a');
    assert.equal(entry?.activeState?.versionInfo, 'v1');
    assert.equal(entry?.activeState?.listener['@type'], TypeUrl.Listener);
    assert.deepEqual(entry?.errorState?.failedConfiguration, { '@type': TypeUrl.Listener, ...bad });
    assert.equal(entry?.errorState?.details, 'filterChains[0]: filters[0] tag: tag: required');

    await applied(manager, update([listener('a', 1001, [{ tag: 'a2' }])], [], 'v3'));
    assert.equal(manager.dump().dynamicListeners?.[0]?.errorState, undefined, 'an applied update clears the error');
  });

  it('refuses two listeners on one address', async () => {
    const { manager } = harness();
    const result = await manager.apply(update([listener('a', 80, [{ tag: 'a' }]), listener('b', 80, [{ tag: 'b' }])]));
    assert.deepEqual(result, { ok: false, error: 'listener "b": address 0.0.0.0:80 is already listener "a"\'s' });
  });

  it('reports the route configurations its listeners fetch over RDS', async () => {
    const { manager } = harness();
    const hcm = (route: string) => ({ filter: { name: 'hcm', typedConfig: { '@type': HTTP_CONNECTION_MANAGER_TYPE, rds: { routeConfigName: route } } } });
    await applied(manager, update([listener('a', 80, [hcm('80')]), listener('b', 9080, [hcm('9080')])]));
    assert.equal(manager.dependencies().typeUrl, TypeUrl.RouteConfiguration);
    assert.deepEqual([...manager.dependencies().names].sort(), ['80', '9080']);
    await applied(manager, update([], ['b'], '2'));
    assert.deepEqual([...manager.dependencies().names], ['80']);
  });
});

describe('ListenerManager with tcp_proxy', () => {
  it('proxies a sniffed HTTP connection byte for byte, with half-close', async () => {
    const upstream: Server = echoServer({ trailer: '<eof>' });
    const upstreamPort = await listen(upstream);
    cleanups.push(() => closeServer(upstream));
    const deps = testDeps(testClusters(testCluster('app', [{ address: '127.0.0.1', port: upstreamPort }])));
    const { manager, port } = harness({ deps });
    await applied(manager, update([listener('inbound', 8080, [
      { match: { applicationProtocols: ['http/1.1'] }, filter: { name: 'tcp', typedConfig: { '@type': TCP_PROXY_TYPE, statPrefix: 'app', cluster: 'app' } } },
    ], { listenerFilters: [LISTENER_FILTERS.http] })]));
    const socket = connect({ host: '127.0.0.1', port: port('inbound'), allowHalfOpen: true });
    const request = 'GET /x HTTP/1.1\r\nHost: app\r\n\r\n';
    socket.end(request);
    assert.equal(await readAll(socket), `${request}<eof>`);
    const [entry] = await deps.accessLog.waitFor(1);
    assert.equal(entry?.listenerName, 'inbound');
    assert.equal(entry?.info.bytesReceived, request.length);
  });
});

describe('ListenerManager with internal listeners', () => {
  function internalListener(name: string, chains: readonly ChainSpec[]): ProtoJson {
    return { name, internalListener: {}, filterChains: chains.map(chain) };
  }

  /** Opens an in-process connection to `name` and reads its chain's tag line. */
  async function internalTag(registry: InternalListeners, name: string): Promise<{ tag: string; socket: Socket }> {
    const socket = registry.connect(name);
    cleanups.push(() => socket.destroy());
    await withTimeout(once(socket, 'connect'), 3000, 'no in-process connection');
    const [line] = (await withTimeout(once(socket, 'data'), 3000, 'no tag line')) as [Buffer];
    return { tag: line.toString().trimEnd(), socket };
  }

  async function refusedInternally(registry: InternalListeners, name: string): Promise<void> {
    const socket = registry.connect(name);
    const [error] = (await withTimeout(once(socket, 'error'), 3000, 'the connection was not refused')) as [NodeJS.ErrnoException];
    assert.equal(error.code, 'ECONNREFUSED');
  }

  it('binds nothing for an internal listener and runs its chains for in-process connections, until it is removed', async () => {
    const internalListeners = new InternalListeners();
    const { manager, tags, deps } = harness({ internalListeners });
    await applied(manager, update([internalListener('inner', [{ tag: 'one' }])]));
    assert.equal(manager.boundAddress('inner'), undefined);
    assert.deepEqual(manager.bound(), []);
    const { tag, socket } = await internalTag(internalListeners, 'inner');
    assert.equal(tag, 'one');
    assert.equal(await echoes(socket, 'hi'), 'hi');
    const seen = tags.seen.at(-1)!.connection;
    assert.equal(seen.listenerName, 'inner');
    assert.equal(seen.downstream.remoteAddress, '127.0.0.1');
    assert.equal(deps.stats.get('listener.inner.downstream_cx_total'), 1);

    await applied(manager, update([internalListener('inner', [{ tag: 'two' }])], [], '2'));
    assert.equal((await internalTag(internalListeners, 'inner')).tag, 'two');
    await applied(manager, update([], ['inner'], '3'));
    assert.equal(internalListeners.has('inner'), false);
    await refusedInternally(internalListeners, 'inner');
  });

  it('stops taking in-process connections when told to stop accepting, and when closed', async () => {
    const internalListeners = new InternalListeners();
    const { manager } = harness({ internalListeners });
    await applied(manager, update([internalListener('a', [{ tag: 'a' }]), internalListener('b', [{ tag: 'b' }])]));
    manager.stopAccepting((l) => l.name === 'a');
    await refusedInternally(internalListeners, 'a');
    assert.equal((await internalTag(internalListeners, 'b')).tag, 'b');
    manager.close();
    assert.equal(internalListeners.has('b'), false);
  });

  it('lets tcp_proxy reach an internal listener through a cluster whose endpoint is its internal address', async () => {
    const internalListeners = new InternalListeners();
    const inner: UpstreamHost = { address: 'envoy://inner/', port: 0, id: 'envoy://inner/', internalListener: 'inner', weight: 1, locality: '', priority: 0, healthy: true, metadata: {}, activeRequests: 0 };
    const cluster: UpstreamCluster = {
      name: 'to-inner',
      config: { name: 'to-inner', type: 'STATIC' },
      picker: () => ({ pick: () => inner }),
      circuitBreakers: { tryAcquire: () => () => {} },
      connectTimeoutMs: 1000,
      upstreamProtocol: 'downstream',
    };
    const deps = testDeps(testClusters(cluster));
    const tags = new TagFactory();
    const filters = new Map<string, NetworkFilterFactory>([
      [TAG_TYPE, tags as NetworkFilterFactory],
      [TCP_PROXY_TYPE, new TcpProxyFactory({ timers: systemTimers, internalListeners }) as NetworkFilterFactory],
    ]);
    const { manager, port } = harness({ deps, filters, internalListeners });
    await applied(manager, update([
      listener('outer', 15001, [{ filter: { name: 'tcp', typedConfig: { '@type': TCP_PROXY_TYPE, statPrefix: 'outer', cluster: 'to-inner' } } }]),
      internalListener('inner', [{ tag: 'inner' }]),
    ]));
    const { tag, socket } = await tagOf(port('outer'));
    assert.equal(tag, 'inner');
    assert.equal(await echoes(socket, 'through'), 'through');
    // The internal listener's side carries the addresses of the connection it was made for.
    const seen = tags.seen.at(-1)!.connection;
    assert.equal(seen.downstream.remotePort, socket.localPort);
    socket.end();
    const [entry] = await deps.accessLog.waitFor(1);
    assert.equal(entry?.info.upstreamHost, 'envoy://inner/');
  });
});
