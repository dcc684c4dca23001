/** Certificates and real clusters for the tests of upstream TLS and what uses it; only tests import this module. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Cluster, LbEndpoint, TransportSocket, UpstreamTlsContext } from '../../xds/envoy/index.ts';
import { TLS_TRANSPORT_SOCKET, UPSTREAM_TLS_CONTEXT_TYPE } from '../../xds/envoy/index.ts';
import { parseCluster } from './cluster-settings.ts';
import { ManagedCluster } from './managed-cluster.ts';
import { FakeTimers, RecordingStats } from './upstream-test-support.ts';

/** The path of a fixture in testdata/ (see its README for how they were made). */
export function testdata(name: string): string {
  return fileURLToPath(new URL(`./testdata/${name}`, import.meta.url));
}

export function pem(name: string): string {
  return readFileSync(testdata(name), 'utf8');
}

/** The SPIFFE ids and names in the fixtures' certificates. */
export const SERVER_SPIFFE_ID = 'spiffe://cluster.local/ns/default/sa/upstream';
export const CLIENT_SPIFFE_ID = 'spiffe://cluster.local/ns/default/sa/client';
export const SERVER_DNS_NAME = 'upstream.example.com';

/** What `node:tls` servers take to present the upstream's certificate. */
export function serverCredentials(): { readonly key: string; readonly cert: string } {
  return { key: pem('server-key.pem'), cert: pem('server.pem') };
}

/** An `envoy.transport_sockets.tls` socket with this UpstreamTlsContext (its @type added). */
export function tlsSocket(context: Omit<UpstreamTlsContext, '@type'>): TransportSocket {
  return { name: TLS_TRANSPORT_SOCKET, typedConfig: { '@type': UPSTREAM_TLS_CONTEXT_TYPE, ...context } };
}

/** An endpoint at 127.0.0.1:`port`, with `envoy.transport_socket_match` metadata when given. */
export function endpointAt(port: number, socketMatch?: Readonly<Record<string, string>>): LbEndpoint {
  return {
    endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: port } } },
    ...(socketMatch !== undefined && { metadata: { filterMetadata: { 'envoy.transport_socket_match': socketMatch } } }),
  };
}

/**
 * A STATIC cluster as CDS would deliver it, parsed and run by the real cluster manager's pieces:
 * `config` is merged over `{ name, type: STATIC, connectTimeout: 2s, loadAssignment }`.
 */
export function staticCluster(name: string, endpoints: readonly LbEndpoint[], config: Partial<Cluster> = {}): ManagedCluster {
  const full: Cluster = {
    name,
    type: 'STATIC',
    connectTimeout: '2s',
    loadAssignment: { clusterName: name, endpoints: [{ lbEndpoints: endpoints }] },
    ...config,
  };
  const settings = parseCluster(full);
  if (!settings.ok) throw new Error(settings.error.join('; '));
  const timers = new FakeTimers();
  const cluster = new ManagedCluster(full, settings.value, { stats: new RecordingStats(), timers, clock: timers, random: () => 0, resolve: () => Promise.resolve([]) });
  cluster.start();
  return cluster;
}
