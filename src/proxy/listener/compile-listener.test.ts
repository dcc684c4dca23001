import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { err, ok } from '../../core/index.ts';
import type { ProtoJson } from '../../xds/index.ts';
import { HTTP_CONNECTION_MANAGER_TYPE, HTTP_INSPECTOR_TYPE, TCP_PROXY_TYPE, TLS_INSPECTOR_TYPE } from '../../xds/envoy/index.ts';
import type { NetworkFilterFactory, NetworkFilterRegistry } from '../network/network-filter.ts';
import { TcpProxyFactory } from '../network/tcp-proxy/index.ts';
import { compileListener } from './compile-listener.ts';
import { systemTimers } from './test-support.ts';

/** Stands in for the connection manager: refuses a config with `fail`. */
const fakeHcm: NetworkFilterFactory = {
  typeUrl: HTTP_CONNECTION_MANAGER_TYPE,
  parse: (config) => (typeof config['fail'] === 'string' ? err(config['fail']) : ok(config)),
  create: () => ({ onConnection: () => {} }),
};

const REGISTRY: NetworkFilterRegistry = new Map<string, NetworkFilterFactory>([
  [TCP_PROXY_TYPE, new TcpProxyFactory({ timers: systemTimers }) as NetworkFilterFactory],
  [HTTP_CONNECTION_MANAGER_TYPE, fakeHcm],
]);

const tcp = (cluster: string) => ({ name: 'envoy.filters.network.tcp_proxy', typedConfig: { '@type': TCP_PROXY_TYPE, statPrefix: cluster, cluster } });
const hcm = (extra: Record<string, unknown> = {}) => ({ name: 'envoy.filters.network.http_connection_manager', typedConfig: { '@type': HTTP_CONNECTION_MANAGER_TYPE, ...extra } });

function listener(extra: Record<string, unknown> = {}): ProtoJson {
  return {
    name: 'l',
    address: { socketAddress: { address: '0.0.0.0', portValue: 8080 } },
    filterChains: [{ name: 'main', filters: [tcp('c')] }],
    ...extra,
  };
}

function problems(raw: ProtoJson): string[] {
  const result = compileListener('l', raw, REGISTRY);
  assert.equal(result.ok, false, 'expected a rejection');
  return result.ok ? [] : result.error;
}

describe('compileListener', () => {
  it('compiles an outbound listener with Envoy\'s defaults: binds, 15 s listener filter timeout, no inspectors', () => {
    const result = compileListener('l', listener(), REGISTRY);
    assert.ok(result.ok && result.value !== undefined);
    const compiled = result.value;
    assert.equal(compiled.address, '0.0.0.0');
    assert.equal(compiled.port, 8080);
    assert.equal(compiled.bindToPort, true);
    assert.equal(compiled.listenerFiltersTimeoutMs, 15_000);
    assert.equal(compiled.continueOnListenerFiltersTimeout, false);
    assert.equal(compiled.tlsInspector, false);
    assert.equal(compiled.httpInspector, false);
    assert.equal(compiled.restoresOriginalDestination, false);
    assert.deepEqual(compiled.chains.map((c) => [c.label, c.factory.typeUrl]), [['main', TCP_PROXY_TYPE]]);
  });

  it('reads the listener filters, timeout, useOriginalDst and bindToPort', () => {
    const result = compileListener('l', listener({
      listenerFilters: [
        { name: 'envoy.filters.listener.original_dst', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' } },
        { name: 'envoy.filters.listener.http_inspector', typedConfig: { '@type': HTTP_INSPECTOR_TYPE } },
      ],
      listenerFiltersTimeout: '0.100s',
      continueOnListenerFiltersTimeout: true,
      bindToPort: false,
      trafficDirection: 'INBOUND',
    }), REGISTRY);
    assert.ok(result.ok && result.value !== undefined);
    assert.equal(result.value.restoresOriginalDestination, true);
    assert.equal(result.value.httpInspector, true);
    assert.equal(result.value.listenerFiltersTimeoutMs, 100);
    assert.equal(result.value.continueOnListenerFiltersTimeout, true);
    assert.equal(result.value.bindToPort, false);
    assert.equal(result.value.trafficDirection, 'INBOUND');
  });

  it('adds a TLS inspector, as Envoy does, when a chain matches on SNI or ALPN', () => {
    const result = compileListener('l', listener({
      filterChains: [{ filterChainMatch: { serverNames: ['a.example.com'] }, filters: [tcp('a')] }, { filters: [tcp('b')] }],
    }), REGISTRY);
    assert.ok(result.ok && result.value !== undefined);
    assert.equal(result.value.tlsInspector, true);
    const configured = compileListener('l', listener({ listenerFilters: [{ name: 'envoy.filters.listener.tls_inspector', typedConfig: { '@type': TLS_INSPECTOR_TYPE } }] }), REGISTRY);
    assert.ok(configured.ok && configured.value?.tlsInspector === true);
  });

  it('treats useOriginalDst as restoring the original destination and handing over', () => {
    const result = compileListener('l', listener({ useOriginalDst: true }), REGISTRY);
    assert.ok(result.ok && result.value !== undefined);
    assert.equal(result.value.useOriginalDst, true);
    assert.equal(result.value.restoresOriginalDestination, true);
  });

  it('skips API listeners, which proxyless clients read and this proxy does not serve', () => {
    assert.deepEqual(compileListener('api', { name: 'api', apiListener: { apiListener: { '@type': HTTP_CONNECTION_MANAGER_TYPE } } }, REGISTRY), { ok: true, value: undefined });
  });

  it('lists the route configurations its connection managers fetch over RDS', () => {
    const result = compileListener('l', listener({
      filterChains: [{ filters: [hcm({ rds: { routeConfigName: '8080' } })] }],
      defaultFilterChain: { filters: [hcm({ rds: { routeConfigName: 'fallback' } })] },
    }), REGISTRY);
    assert.ok(result.ok && result.value !== undefined);
    assert.deepEqual([...result.value.routeConfigNames], ['8080', 'fallback']);
  });

  it('names the listener\'s chain and filter when a filter\'s config is refused', () => {
    assert.deepEqual(problems(listener({ filterChains: [{ name: 'web', filters: [hcm({ fail: 'route_config: required' })] }] })), [
      'filterChains[0] "web": filters[0] envoy.filters.network.http_connection_manager: route_config: required',
    ]);
    assert.deepEqual(problems(listener({ filterChains: [{ filters: [{ name: 'tcp', typedConfig: { '@type': TCP_PROXY_TYPE, cluster: 'c' } }] }] })), [
      'filterChains[0]: filters[0] tcp: statPrefix: required (a non-empty string)',
    ]);
  });

  it('refuses a filter type without a factory, filters before the terminal one, and empty chains', () => {
    assert.deepEqual(problems(listener({ filterChains: [{ filters: [{ name: 'x', typedConfig: { '@type': 'type.googleapis.com/x.Unknown' } }] }] })), [
      `filterChains[0]: filters[0] x: no network filter for type.googleapis.com/x.Unknown (known: ${TCP_PROXY_TYPE}, ${HTTP_CONNECTION_MANAGER_TYPE})`,
    ]);
    assert.deepEqual(problems(listener({ filterChains: [{ filters: [tcp('a'), tcp('b')] }] })), [
      'filterChains[0]: filters[0] envoy.filters.network.tcp_proxy: only the last filter of a chain may be a terminal one',
    ]);
    assert.deepEqual(problems(listener({ filterChains: [{ filters: [] }] })), [
      'filterChains[0]: filters: a chain needs a terminal network filter (tcp_proxy or http_connection_manager)',
    ]);
  });

  it('refuses two chains with the same match, in any order of its lists', () => {
    assert.deepEqual(problems(listener({
      filterChains: [
        { name: 'a', filterChainMatch: { serverNames: ['x.com', 'y.com'] }, filters: [tcp('a')] },
        { name: 'b', filterChainMatch: { serverNames: ['y.com', 'x.com'] }, filters: [tcp('b')] },
      ],
    })), ['filterChains[1]: its filterChainMatch is the same as a\'s; each chain needs a match of its own']);
  });

  it('refuses bad addresses, listener filters, timeouts and unsupported fields, all at once', () => {
    const raw = listener({
      address: { socketAddress: { address: 'localhost', portValue: 8080 } },
      listenerFilters: [{ name: 'envoy.filters.listener.proxy_protocol' }],
      listenerFiltersTimeout: 'soon',
      filterChainMatcher: {},
      filterChains: [{ filterChainMatch: { destinationPort: 0 }, transportSocket: { name: 'envoy.transport_sockets.tls' }, filters: [tcp('c')] }],
    });
    assert.deepEqual(problems(raw), [
      'filterChainMatcher: matching with a filterChainMatcher is not supported (use filterChains[].filterChainMatch)',
      'address.socketAddress.address: "localhost" is not an IP address (a listener binds an IP, such as 0.0.0.0)',
      'filterChains[0]: filterChainMatch.destinationPort: 0 is not a port (1-65535)',
      'filterChains[0]: transportSocket.typedConfig: a TLS transport socket needs its DownstreamTlsContext (type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext)',
      'listenerFilters[0] envoy.filters.listener.proxy_protocol: unknown listener filter envoy.filters.listener.proxy_protocol (known: envoy.filters.listener.tls_inspector, envoy.filters.listener.http_inspector, envoy.filters.listener.original_dst)',
      'listenerFiltersTimeout: "soon" is not a duration (expected a number with a unit: ns, us, ms, s, m, h, e.g. "1.5s" or "100ms")',
    ]);
  });

  it('compiles an internal listener: no address (or an internal address naming itself), bound to nothing', () => {
    const { address: _address, ...bare } = listener();
    for (const raw of [{ ...bare, internalListener: {} }, { ...bare, internalListener: {}, address: { envoyInternalAddress: { serverListenerName: 'l' } } }]) {
      const result = compileListener('l', raw, REGISTRY);
      assert.ok(result.ok && result.value !== undefined, result.ok ? '' : result.error.join('; '));
      assert.equal(result.value.internal, true);
      assert.equal(result.value.bindToPort, false);
      assert.deepEqual([result.value.address, result.value.port], ['', 0]);
    }
    const compiled = compileListener('l', listener(), REGISTRY);
    assert.ok(compiled.ok && compiled.value !== undefined);
    assert.equal(compiled.value.internal, false);
  });

  it('refuses an internal listener with a socket address, another name, settings or useOriginalDst, and an internal address elsewhere', () => {
    assert.deepEqual(problems(listener({ internalListener: {} })), [
      'address: an internal listener binds no socket; leave the address out (clusters reach it by its name)',
    ]);
    const { address: _address, ...bare } = listener();
    assert.deepEqual(problems({ ...bare, internalListener: { bufferSizeKb: 1 }, address: { envoyInternalAddress: { serverListenerName: 'other' } }, useOriginalDst: true }), [
      'internalListener.bufferSizeKb: not supported (an internal listener takes no settings)',
      'address.envoyInternalAddress.serverListenerName: an internal listener is reached by its own name "l", not "other"',
      'useOriginalDst: an internal listener takes in-process connections, which have no original destination to hand over',
    ]);
    assert.deepEqual(problems({ ...bare, internalListener: true }), ['internalListener: expected an object ({})']);
    assert.deepEqual(problems({ ...bare, address: { envoyInternalAddress: { serverListenerName: 'l' } } }), [
      'address.envoyInternalAddress: only an internal listener has one; set internalListener: {} and leave the address out',
    ]);
  });

  it('needs an address and at least one chain, and a name that is the resource\'s', () => {
    const { address: _address, filterChains: _chains, ...bare } = listener();
    assert.deepEqual(problems({ ...bare, name: 'other' }), [
      'name: "other" differs from the resource name "l"',
      'address: a listener needs an address (socketAddress with address and portValue), unless it is an internal listener (internalListener: {})',
      'filterChains: a listener needs at least one filter chain or a defaultFilterChain',
    ]);
  });
});
