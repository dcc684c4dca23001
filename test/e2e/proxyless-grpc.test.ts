import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MemoryConfigSource } from '../../src/control/sources/index.ts';
import { startControlPlane, type RunningControlPlane } from '../../src/main/control-plane.ts';
import { consoleLogger } from '../../src/main/console-logger.ts';
import { startEchoServer } from './fixtures/echo-grpc-service.ts';

/**
 * Proof by a client no one here wrote: @grpc/grpc-js-xds, in its own process, bootstrapped at our
 * ADS server, calls xds:///echo.test.svc.cluster.local:7070. Two backends (v1, v2) are the
 * endpoints of a ServiceEntry; our VirtualService splits 80/20 and pins x-version: v2 to v2.
 */
const CLIENT = fileURLToPath(new URL('./fixtures/xds-grpc-client.ts', import.meta.url));
const TARGET = 'echo.test.svc.cluster.local:7070';

function meshConfig(v1Port: number, v2Port: number): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo, namespace: test}
spec:
  hosts: [echo.test.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 7070, name: grpc, protocol: GRPC}]
  endpoints:
  - {address: 127.0.0.1, ports: {grpc: ${v1Port}}, labels: {app: echo, version: v1}}
  - {address: 127.0.0.1, ports: {grpc: ${v2Port}}, labels: {app: echo, version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: test}
spec:
  host: echo.test.svc.cluster.local
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: test}
spec:
  hosts: [echo.test.svc.cluster.local]
  http:
  - match:
    - headers:
        x-version: {exact: v2}
    route:
    - destination: {host: echo.test.svc.cluster.local, subset: v2}
  - route:
    - destination: {host: echo.test.svc.cluster.local, subset: v1}
      weight: 80
    - destination: {host: echo.test.svc.cluster.local, subset: v2}
      weight: 20
`;
}

interface ClientResult {
  readonly versions: Record<string, number>;
  readonly errors: string[];
}

function runClient(xdsPort: number, count: number, header?: string): Promise<ClientResult> {
  const bootstrap = {
    xds_servers: [{ server_uri: `127.0.0.1:${xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: 'sidecar~127.0.0.1~grpc-client.test~test.svc.cluster.local', locality: {}, metadata: { GENERATOR: 'grpc', NAMESPACE: 'test' } },
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLIENT, TARGET, String(count), ...(header !== undefined ? [header] : [])], {
      env: { ...process.env, GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(bootstrap) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`client exited ${code}: ${stderr}`));
      resolve(JSON.parse(stdout.trim()) as ClientResult);
    });
  });
}

describe('a proxyless gRPC client (@grpc/grpc-js-xds) follows our VirtualService', () => {
  let controlPlane: RunningControlPlane;
  const backends: { close: () => Promise<void> }[] = [];

  before(async () => {
    const v1 = await startEchoServer('v1');
    const v2 = await startEchoServer('v2');
    backends.push(v1, v2);
    const config = new MemoryConfigSource({ analyzers: [] });
    const applied = config.apply([{ name: 'echo.yaml', text: meshConfig(v1.port, v2.port) }]);
    assert.ok(applied.ok, 'the test config is valid');
    controlPlane = await startControlPlane({
      config: { source: config },
      xdsAddress: '127.0.0.1:0',
      debugAddress: '127.0.0.1:0',
      logger: consoleLogger({ level: 'warn', write: (line) => process.stderr.write(line) }),
    });
  });

  after(async () => {
    await controlPlane.close();
    for (const backend of backends) await backend.close();
  });

  it('pins every call with x-version: v2 to the v2 subset', async () => {
    const result = await runClient(controlPlane.xdsPort, 50, 'x-version=v2');
    assert.deepEqual(result, { versions: { v2: 50 }, errors: [] });
  });

  it('splits the other calls 80/20 between v1 and v2, within statistical tolerance', async () => {
    const calls = 400;
    const result = await runClient(controlPlane.xdsPort, calls);
    assert.deepEqual(result.errors, []);
    const v2 = result.versions['v2'] ?? 0;
    assert.equal((result.versions['v1'] ?? 0) + v2, calls);
    // Binomial(400, 0.2): mean 80, standard deviation 8; 4 standard deviations either side
    // fails a correct split about once in 15,000 runs.
    assert.ok(v2 >= 48 && v2 <= 112, `v2 got ${v2} of ${calls} calls, expected about 80`);
  });
});
