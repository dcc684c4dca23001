/**
 * Weft as a peer of the proxy comparison: `weft control-plane` serving the Istio YAML below from
 * a scratch directory, and `weft proxy --type router` as the ingress gateway it configures, both
 * the real commands (`bin/weft.js`). The gateway's listeners bind OS-picked ports on 127.0.0.1
 * (`--port-map`), read back from the admin API.
 *
 * The config: a Gateway `bench-gateway` (HTTP on 8080, TCP on 9000); ServiceEntries
 * `upstream.bench.internal` (HTTP/1.1 port 80 and TCP port 9000) and `upstream-h2.bench.internal`
 * (protocol HTTP2, so the gateway speaks h2c to the upstream, like nginx `grpc_pass` and HAProxy
 * `proto h2`), both STATIC on the bench upstream; VirtualServices routing each host, and TCP port
 * 9000, to them. Requests pick the route by authority: HTTP/1.1 and h2c share the gateway's port
 * 8080, where a connection's first bytes tell the protocol. `extraClusters` adds that many
 * ServiceEntries (a cluster each in the gateway) for the memory comparison.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitForPort, type Peer, type PeerOptions, type Ports } from './proxy-compare-peers.ts';
import { Service } from './proxy-compare-process.ts';

const WEFT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'weft.js');
export const HTTP_AUTHORITY = 'upstream.bench.internal';
export const H2_AUTHORITY = 'upstream-h2.bench.internal';
const GATEWAY_HTTP_PORT = 8080;
const GATEWAY_TCP_PORT = 9000;

export function benchConfigYaml(upstream: Ports, extraClusters: number): string {
  const documents = [
    `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: bench-gateway
  namespace: istio-system
spec:
  selector:
    istio: ingressgateway
  servers:
  - port: {number: ${GATEWAY_HTTP_PORT}, name: http, protocol: HTTP}
    hosts: ["*"]
  - port: {number: ${GATEWAY_TCP_PORT}, name: tcp, protocol: TCP}
    hosts: ["*"]`,
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: upstream
  namespace: istio-system
spec:
  hosts: [${HTTP_AUTHORITY}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {number: 80, name: http, protocol: HTTP}
  - {number: ${GATEWAY_TCP_PORT}, name: tcp, protocol: TCP}
  endpoints:
  - address: 127.0.0.1
    ports: {http: ${upstream.h1}, tcp: ${upstream.tcp}}`,
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: upstream-h2
  namespace: istio-system
spec:
  hosts: [${H2_AUTHORITY}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {number: 80, name: http2, protocol: HTTP2}
  endpoints:
  - address: 127.0.0.1
    ports: {http2: ${upstream.h2}}`,
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: upstream
  namespace: istio-system
spec:
  hosts: [${HTTP_AUTHORITY}]
  gateways: [bench-gateway]
  http:
  - route:
    - destination: {host: ${HTTP_AUTHORITY}, port: {number: 80}}`,
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: upstream-h2
  namespace: istio-system
spec:
  hosts: [${H2_AUTHORITY}]
  gateways: [bench-gateway]
  http:
  - route:
    - destination: {host: ${H2_AUTHORITY}, port: {number: 80}}`,
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: echo
  namespace: istio-system
spec:
  hosts: ["*"]
  gateways: [bench-gateway]
  tcp:
  - match: [{port: ${GATEWAY_TCP_PORT}}]
    route:
    - destination: {host: ${HTTP_AUTHORITY}, port: {number: ${GATEWAY_TCP_PORT}}}`,
  ];
  for (let i = 0; i < extraClusters; i++) {
    documents.push(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: svc-${i}
  namespace: bench
spec:
  hosts: [svc-${i}.bench.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {number: 80, name: http, protocol: HTTP}
  endpoints:
  - address: 127.0.0.1
    ports: {http: ${upstream.h1}}`);
  }
  return `${documents.join('\n---\n')}\n`;
}

/** GET on 127.0.0.1 (the gateway's admin API), the body as text. */
export async function getJson(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: urlPath, timeout: 5_000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', reject);
  });
}

interface ListenerStatus {
  readonly name: string;
  readonly local_address?: { readonly socket_address?: { readonly address?: string; readonly port_value?: number } };
}

export interface WeftOptions extends PeerOptions {
  /** The control plane's core (it is idle once the proxy is configured). */
  readonly controlPlaneCpu: number;
  /** More Istio YAML documents served with the bench config (each starting with `---`). */
  readonly extraYaml?: string;
}

export interface WeftPeer extends Peer {
  /** The gateway's admin API port (`/stats`, `/config_dump`, `/clusters`). */
  readonly adminPort: number;
}

/** Starts the control plane and the gateway; resolves once the gateway is LIVE with both listeners bound. */
export async function startWeft(options: WeftOptions): Promise<WeftPeer> {
  const directory = path.join(options.directory, `weft-${options.extraClusters}`);
  const configDir = path.join(directory, 'config');
  mkdirSync(configDir, { recursive: true });
  writeFileSync(path.join(configDir, 'bench.yaml'), benchConfigYaml(options.upstream, options.extraClusters) + (options.extraYaml ?? ''));
  const xdsPort = await freePort();
  const debugPort = await freePort();
  const controlPlane = new Service('weft control-plane', process.execPath, [
    WEFT, 'control-plane', '--config-dir', configDir, '--xds-address', `127.0.0.1:${xdsPort}`, '--xds-tls-address', '127.0.0.1:0', '--debug-address', `127.0.0.1:${debugPort}`, '--log-level', 'warn',
  ], { cpu: options.controlPlaneCpu, timeLimitS: options.timeLimitS });
  let proxy: Service | undefined;
  const stop = async (): Promise<void> => {
    await Promise.all([proxy?.stop(), controlPlane.stop()]);
  };
  try {
    await waitForPort(xdsPort, controlPlane, 60_000);
    proxy = new Service('weft proxy', process.execPath, [
      WEFT, 'proxy', '--type', 'router', '--pod-name', 'bench-gateway', '--namespace', 'istio-system', '--label', 'istio=ingressgateway',
      '--xds-address', `127.0.0.1:${xdsPort}`, '--admin-address', '127.0.0.1:0', '--health-address', '127.0.0.1:0', '--stats-address', '127.0.0.1:0',
      '--bind-address', '127.0.0.1', '--port-map', `${GATEWAY_HTTP_PORT}=0`, '--port-map', `${GATEWAY_TCP_PORT}=0`, '--access-log', 'off',
    ], { cpu: options.cpu, timeLimitS: options.timeLimitS });
    const adminPort = await proxy.waitFor('its admin address', (_out, err) => {
      const match = /admin listening.*address=127\.0\.0\.1:(\d+)/.exec(err);
      return match ? Number(match[1]) : undefined;
    }, 30_000);
    const deadline = Date.now() + 120_000;
    for (;;) {
      const ready = await getJson(adminPort, '/ready').catch(() => ({ status: 0, body: '' }));
      if (ready.status === 200) break;
      if (proxy.exited || Date.now() > deadline) throw new Error(`weft proxy not ready (${ready.status} ${ready.body.trim()}):\n${proxy.stderr.slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const listeners = JSON.parse((await getJson(adminPort, '/listeners?format=json')).body) as { listener_statuses?: ListenerStatus[] };
    const portOf = (configured: number): number => {
      const status = listeners.listener_statuses?.find((l) => l.name.endsWith(`_${configured}`));
      const port = status?.local_address?.socket_address?.port_value;
      if (port === undefined) throw new Error(`weft proxy has no listener for port ${configured}: ${JSON.stringify(listeners)}`);
      return port;
    };
    const h1 = portOf(GATEWAY_HTTP_PORT);
    const ports: Ports = { h1, h2: h1, tcp: portOf(GATEWAY_TCP_PORT) };
    const gateway = proxy;
    return { name: 'weft', ports, adminPort, processes: () => gateway.processes(), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
