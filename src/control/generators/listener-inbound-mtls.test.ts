import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ofKind } from '../../config/index.ts';
import { parseYaml, problems } from '../../config/test-support.ts';
import { assertValidMessage } from '../../xds/index.ts';
import { DOWNSTREAM_TLS_CONTEXT_TYPE, type DownstreamTlsContext, type Filter, type FilterChain, type HttpConnectionManager, type HttpFilter, type Listener } from '../../xds/envoy/index.ts';
import type { Workload } from '../model/index.ts';
import { buildPeerAuthenticationIndex, type EffectivePeerAuthentication, type MtlsMode } from '../snapshot/peer-authentication-index.ts';
import { snapshotFromYaml } from '../snapshot/test-support.ts';
import { testProxy } from './cluster-test-support.ts';
import { inspectionTimeout, virtualInboundListener, type InboundSecurity } from './listener-inbound.ts';
import { chainAction, selectFilterChain, type SimulatedConnection } from './listener-simulation.ts';

const SERVICES = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec:
  clusterIP: 10.96.0.10
  selector: { app: reviews }
  ports: [{ name: http, port: 9080 }]
`;

const WORKLOADS: Partial<Workload>[] = [
  { name: 'reviews-v1', labels: { app: 'reviews', version: 'v1' }, address: '10.0.0.1', ports: [{ port: 9080 }] },
];

/** 9080 HTTP (its service's), 5432 TCP (by name), 6000 unknown protocol (sniffed). */
const PROXY = testProxy({ ipAddresses: ['10.0.0.1'], labels: { app: 'reviews', version: 'v1' }, ports: [{ port: 9080 }, { port: 5432, name: 'tcp-db' }, { port: 6000 }] });
const SNAPSHOT = snapshotFromYaml(SERVICES, WORKLOADS);

function peer(mode: MtlsMode, portLevel: Record<number, MtlsMode> = {}): EffectivePeerAuthentication {
  return { mode, portLevel: new Map(Object.entries(portLevel).map(([port, m]) => [Number(port), m])) };
}

function inbound(security: InboundSecurity): Listener {
  const listener = virtualInboundListener(PROXY, SNAPSHOT, security);
  assertValidMessage('envoy.config.listener.v3.Listener', listener);
  return listener;
}

/** A sidecar's mTLS: TLS with the istio ALPN. */
const MTLS = { transportProtocol: 'tls', applicationProtocol: 'istio' } as const;
/** An application's own TLS. */
const APP_TLS = { transportProtocol: 'tls', applicationProtocol: 'h2' } as const;
const PLAIN_HTTP = { transportProtocol: 'raw_buffer', applicationProtocol: 'http/1.1' } as const;
const PLAIN_BYTES = { transportProtocol: 'raw_buffer' } as const;

type Outcome = 'closed' | `${'mtls' | 'pass'} ${'http' | 'tcp'} ${string}`;

/** Where a connection to `port` goes: closed, or whether TLS is terminated, the kind of chain and its cluster (or route). */
function reach(listener: Listener, port: number, connection: Omit<SimulatedConnection, 'address' | 'port'>): Outcome {
  const chain = selectFilterChain(listener, { address: '10.0.0.1', port, ...connection });
  if (chain === undefined) return 'closed';
  const action = chainAction(chain);
  const target = action.kind === 'http' ? action.routeConfig?.name ?? '' : action.cluster ?? '';
  return `${chain.transportSocket !== undefined ? 'mtls' : 'pass'} ${action.kind} ${target}`;
}

function chain(listener: Listener, name: string): FilterChain {
  const found = listener.filterChains?.find((c) => c.name === name);
  assert.ok(found !== undefined, `no chain ${name}; have ${listener.filterChains?.map((c) => c.name).join(', ')}`);
  return found;
}

function hcm(c: FilterChain): HttpConnectionManager & { readonly setCurrentClientCertDetails?: unknown } {
  return c.filters[c.filters.length - 1]?.typedConfig as HttpConnectionManager;
}

describe('virtualInbound by PeerAuthentication', () => {
  it('under STRICT, terminates mTLS on every port and closes plaintext and foreign TLS, unknown ports included', () => {
    const listener = inbound({ peerAuthentication: peer('STRICT') });
    assert.equal(reach(listener, 9080, MTLS), 'mtls http inbound|9080||');
    assert.equal(reach(listener, 9080, PLAIN_HTTP), 'closed');
    assert.equal(reach(listener, 5432, MTLS), 'mtls tcp inbound|5432||');
    assert.equal(reach(listener, 5432, PLAIN_BYTES), 'closed');
    assert.equal(reach(listener, 6000, { transportProtocol: 'tls', applicationProtocol: 'istio-http/1.1' }), 'mtls http inbound|6000||');
    assert.equal(reach(listener, 6000, MTLS), 'mtls tcp inbound|6000||');
    assert.equal(reach(listener, 6000, PLAIN_HTTP), 'closed');
    assert.equal(reach(listener, 7777, MTLS), 'mtls tcp InboundPassthroughCluster');
    assert.equal(reach(listener, 7777, PLAIN_BYTES), 'closed');
    assert.equal(reach(listener, 7777, APP_TLS), 'mtls tcp InboundPassthroughCluster', 'TLS without the istio ALPN is still terminated, and fails without a mesh certificate');
  });

  it('under PERMISSIVE, terminates the sidecars\' mTLS and passes plaintext and the application\'s own TLS', () => {
    const listener = inbound({ peerAuthentication: peer('PERMISSIVE') });
    assert.equal(reach(listener, 9080, MTLS), 'mtls http inbound|9080||');
    assert.equal(reach(listener, 9080, PLAIN_HTTP), 'pass http inbound|9080||');
    assert.equal(reach(listener, 9080, APP_TLS), 'closed', 'a declared HTTP port takes no TLS but the mesh\'s');
    assert.equal(reach(listener, 5432, MTLS), 'mtls tcp inbound|5432||');
    assert.equal(reach(listener, 5432, APP_TLS), 'pass tcp inbound|5432||');
    assert.equal(reach(listener, 5432, PLAIN_BYTES), 'pass tcp inbound|5432||');
    assert.equal(reach(listener, 6000, { transportProtocol: 'tls', applicationProtocol: 'istio-h2' }), 'mtls http inbound|6000||');
    assert.equal(reach(listener, 6000, MTLS), 'mtls tcp inbound|6000||');
    assert.equal(reach(listener, 6000, PLAIN_HTTP), 'pass http inbound|6000||');
    assert.equal(reach(listener, 6000, PLAIN_BYTES), 'pass tcp inbound|6000||');
    assert.equal(reach(listener, 6000, APP_TLS), 'pass tcp inbound|6000||');
    assert.equal(reach(listener, 7777, MTLS), 'mtls tcp InboundPassthroughCluster');
    assert.equal(reach(listener, 7777, APP_TLS), 'pass tcp InboundPassthroughCluster');
    assert.equal(reach(listener, 7777, PLAIN_BYTES), 'pass tcp InboundPassthroughCluster');
    assert.equal(reach(listener, 15006, PLAIN_BYTES), 'pass tcp BlackHoleCluster');
  });

  it('under DISABLE (and without a policy), takes whatever arrives as it comes, with no TLS inspector', () => {
    for (const security of [{ peerAuthentication: peer('DISABLE') }, {}]) {
      const listener = inbound(security);
      assert.equal(reach(listener, 9080, PLAIN_HTTP), 'pass http inbound|9080||');
      assert.equal(reach(listener, 5432, MTLS), 'pass tcp inbound|5432||');
      assert.equal(reach(listener, 6000, PLAIN_HTTP), 'pass http inbound|6000||');
      assert.equal(reach(listener, 6000, PLAIN_BYTES), 'pass tcp inbound|6000||');
      assert.equal(reach(listener, 7777, MTLS), 'pass tcp InboundPassthroughCluster');
      assert.deepEqual(listener.listenerFilters?.map((f) => f.name), ['envoy.filters.listener.original_dst', 'envoy.filters.listener.http_inspector']);
      assert.ok(listener.filterChains?.every((c) => c.transportSocket === undefined));
    }
  });

  it('gives up sniffing a protocol after 0.1 s, but waits as long as it takes to tell mutual TLS from plaintext', () => {
    assert.deepEqual(inspectionTimeout(true, true), { listenerFiltersTimeout: '0.1s', continueOnListenerFiltersTimeout: true });
    assert.deepEqual(inspectionTimeout(false, true), { listenerFiltersTimeout: '0.1s', continueOnListenerFiltersTimeout: true });
    assert.deepEqual(inspectionTimeout(true, false), { listenerFiltersTimeout: '0s' });
    assert.deepEqual(inspectionTimeout(false, false), {});
  });

  it('adds the TLS inspector, and a timeout for server-first protocols, as soon as one port takes TLS', () => {
    const listener = inbound({ peerAuthentication: peer('DISABLE', { 5432: 'PERMISSIVE' }) });
    assert.deepEqual(listener.listenerFilters?.map((f) => f.name), [
      'envoy.filters.listener.original_dst', 'envoy.filters.listener.tls_inspector', 'envoy.filters.listener.http_inspector',
    ]);
    assert.equal(listener.listenerFiltersTimeout, '0.1s');
    assert.equal(listener.continueOnListenerFiltersTimeout, true);
  });

  it('lets portLevelMtls set one port apart, and passes through a listed port the workload does not declare by its mode', () => {
    const listener = inbound({ peerAuthentication: peer('STRICT', { 5432: 'DISABLE', 8443: 'PERMISSIVE' }) });
    assert.equal(reach(listener, 5432, PLAIN_BYTES), 'pass tcp inbound|5432||');
    assert.equal(reach(listener, 9080, PLAIN_HTTP), 'closed');
    assert.equal(reach(listener, 8443, PLAIN_BYTES), 'pass tcp InboundPassthroughCluster');
    assert.equal(reach(listener, 8443, MTLS), 'mtls tcp InboundPassthroughCluster');
    assert.equal(reach(listener, 8444, PLAIN_BYTES), 'closed');
  });

  it('keys portLevelMtls by the container port where a hostPort stands for it', () => {
    const proxy = testProxy({ ipAddresses: ['127.0.0.1'], ports: [{ port: 9080, name: 'http', hostPort: 19080 }] });
    const listener = virtualInboundListener(proxy, SNAPSHOT, { peerAuthentication: peer('STRICT', { 9080: 'DISABLE' }) });
    const chain = selectFilterChain(listener, { address: '127.0.0.1', port: 19080, ...PLAIN_HTTP });
    assert.equal(chain?.name, '0.0.0.0_19080_http');
    assert.ok(!listener.filterChains?.some((c) => c.filterChainMatch?.destinationPort === 9080), 'the container port is declared: no passthrough chain for it');
  });

  it('reads the mode from PeerAuthentications through the index', () => {
    const parsed = parseYaml(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: reviews-db, namespace: default }
spec: { selector: { matchLabels: { app: reviews } }, portLevelMtls: { "5432": { mode: PERMISSIVE } } }
`);
    assert.deepEqual(problems(parsed), []);
    const index = buildPeerAuthenticationIndex(ofKind(parsed.resources, 'PeerAuthentication'), 'istio-system');
    const listener = inbound({ peerAuthentication: index.effective(PROXY.namespace, PROXY.labels) });
    assert.equal(reach(listener, 9080, PLAIN_HTTP), 'closed');
    assert.equal(reach(listener, 5432, PLAIN_BYTES), 'pass tcp inbound|5432||');
  });

  it('terminates mTLS with the mesh certificate, requiring the client\'s, offering h2 and http/1.1 on HTTP chains only', () => {
    const listener = inbound({ peerAuthentication: peer('PERMISSIVE') });
    const http = chain(listener, '0.0.0.0_9080_mtls_http').transportSocket?.typedConfig as DownstreamTlsContext;
    const tcp = chain(listener, '0.0.0.0_5432_mtls_tcp').transportSocket?.typedConfig as DownstreamTlsContext;
    assert.equal(http['@type'], DOWNSTREAM_TLS_CONTEXT_TYPE);
    assert.deepEqual(http.commonTlsContext.alpnProtocols, ['h2', 'http/1.1']);
    assert.equal(tcp.commonTlsContext.alpnProtocols, undefined);
    assert.equal(tcp.requireClientCertificate, true);
    assert.deepEqual(tcp.commonTlsContext.tlsCertificateSdsSecretConfigs?.map((s) => s.name), ['default']);
    assert.deepEqual(chain(listener, '0.0.0.0_9080_mtls_http').filterChainMatch?.applicationProtocols, ['istio-peer-exchange', 'istio', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2']);
  });

  it('gives the application the caller\'s certificate in x-forwarded-client-cert on every inbound HTTP chain', () => {
    const listener = inbound({ peerAuthentication: peer('PERMISSIVE') });
    for (const name of ['0.0.0.0_9080_mtls_http', '0.0.0.0_9080_http', '0.0.0.0_6000_mtls_http']) {
      const config = hcm(chain(listener, name));
      assert.equal(config.forwardClientCertDetails, 'APPEND_FORWARD', name);
      assert.deepEqual(config.setCurrentClientCertDetails, { subject: true, dns: true, uri: true }, name);
    }
  });

  it('gives every chain unique names', () => {
    for (const mode of ['STRICT', 'PERMISSIVE', 'DISABLE'] as const) {
      const names = inbound({ peerAuthentication: peer(mode, { 8443: 'PERMISSIVE', 8444: 'STRICT' }) }).filterChains?.map((c) => c.name) ?? [];
      assert.equal(new Set(names).size, names.length, `${mode}: ${names.join(', ')}`);
    }
  });
});

describe('virtualInbound security filters', () => {
  const authn: HttpFilter = { name: 'envoy.filters.http.jwt_authn', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication' } };
  const authz: HttpFilter = { name: 'envoy.filters.http.rbac', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC' } };
  const tcpAuthz: Filter = { name: 'envoy.filters.network.rbac', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC', statPrefix: 'tcp.' } };
  const RATE_LIMIT = `
apiVersion: policy.weft.dev/v1alpha1
kind: LocalRateLimit
metadata: { name: reviews, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  tokenBucket: { maxTokens: 10, tokensPerFill: 10, fillInterval: 1s }
`;

  it('puts the HTTP ones first in every HTTP chain, before the rate limit and the router, and the network ones before tcp_proxy', () => {
    const snapshot = snapshotFromYaml(`${SERVICES}\n---\n${RATE_LIMIT}`, WORKLOADS);
    const listener = virtualInboundListener(PROXY, snapshot, { peerAuthentication: peer('PERMISSIVE'), filters: { http: [authn, authz], tcp: [tcpAuthz] } });
    assertValidMessage('envoy.config.listener.v3.Listener', listener);
    for (const c of listener.filterChains ?? []) {
      const action = chainAction(c);
      if (action.kind === 'http') {
        assert.deepEqual(hcm(c).httpFilters.map((f) => f.name), [
          'envoy.filters.http.jwt_authn', 'envoy.filters.http.rbac', 'envoy.filters.http.local_ratelimit', 'envoy.filters.http.router',
        ], c.name);
        assert.equal(c.filters.length, 1);
      } else if (c.name === 'virtualInbound-blackhole') {
        assert.equal(c.filters.length, 1);
      } else {
        assert.deepEqual(c.filters.map((f) => f.name), ['envoy.filters.network.rbac', 'envoy.filters.network.tcp_proxy'], c.name);
      }
    }
  });
});
