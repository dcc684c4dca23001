import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { adsServiceDefinition, TypeUrl } from '../../src/xds/index.ts';
import type { DiscoveryRequest, DiscoveryResponse } from '../../src/xds/envoy/index.ts';
import { TestStream } from '../../src/control/ads/test-support.ts';

/**
 * `weft control-plane` as a process, watching a directory; an ADS client speaking for a sidecar;
 * `weft proxy-status` and `weft proxy-config` reading the debug API. A bad edit is refused and the
 * proxy keeps its config; the fix is pushed.
 */
const WEFT = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));
const SEEDS = fileURLToPath(new URL('../../../shared/seed-examples/', import.meta.url));
const PROXY_ID = 'productpage-v1-1.default';

const SERVICES = `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
`;

function weft(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [WEFT, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('weft control-plane with a sidecar connected over ADS', () => {
  let dir: string;
  let process_: ChildProcess;
  let log = '';
  let debugUrl: string;
  let client: grpc.Client;
  let stream: TestStream<DiscoveryRequest, DiscoveryResponse>;
  let lastCds: DiscoveryResponse;

  const clusterNames = (response: DiscoveryResponse) => (response.resources ?? []).map((r) => String((r as { name?: unknown }).name)).sort();
  const request = (extra: Partial<DiscoveryRequest>): DiscoveryRequest => ({ typeUrl: TypeUrl.Cluster, ...extra });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-cp-'));
    writeFileSync(join(dir, 'services.yaml'), SERVICES);
    writeFileSync(join(dir, 'reviews.yaml'), readFileSync(join(SEEDS, '000-reviews-routing.yaml'), 'utf8'));
    process_ = spawn(process.execPath, [WEFT, 'control-plane', '--config-dir', dir, '--xds-address', '127.0.0.1:0', '--debug-address', '127.0.0.1:0', '--debounce-quiet', '20', '--debounce-max', '200'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const ready = await new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`control plane not ready in 20 s:\n${log}`)), 20_000);
      process_.stderr!.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        const m = /control plane ready xds=(\S+) debug=(\S+)/.exec(log);
        if (m !== null) {
          clearTimeout(timer);
          resolve(m);
        }
      });
    });
    debugUrl = `http://${ready[2]}`;
    const AdsClient = grpc.makeGenericClientConstructor(adsServiceDefinition, 'AggregatedDiscoveryService');
    client = new AdsClient(ready[1]!, grpc.credentials.createInsecure());
    stream = new TestStream((client as unknown as { StreamAggregatedResources(): grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> }).StreamAggregatedResources());
    stream.send(request({
      node: {
        id: 'sidecar~127.0.0.9~productpage-v1-1.default~default.svc.cluster.local',
        metadata: { NAMESPACE: 'default', LABELS: { app: 'productpage', version: 'v1' }, SERVICE_ACCOUNT: 'productpage', WORKLOAD_NAME: 'productpage-v1', POD_PORTS: '[{"name":"http","containerPort":9080,"protocol":"TCP"}]' },
      },
    }));
    lastCds = await stream.next(10_000);
    stream.send(request({ versionInfo: lastCds.versionInfo, responseNonce: lastCds.nonce }));
  });

  after(async () => {
    stream?.cancel();
    client?.close();
    process_.kill('SIGTERM');
    await new Promise((resolve) => process_.once('exit', resolve));
  });

  it('sends the sidecar a cluster per reviews subset, named as Istio names them', () => {
    const names = clusterNames(lastCds);
    for (const name of ['outbound|9080||reviews.default.svc.cluster.local', 'outbound|9080|v1|reviews.default.svc.cluster.local', 'outbound|9080|v2|reviews.default.svc.cluster.local', 'inbound|9080||', 'BlackHoleCluster', 'PassthroughCluster']) {
      assert.ok(names.includes(name), `missing ${name} in ${names.join(', ')}`);
    }
  });

  it('shows the proxy as SYNCED for CDS in weft proxy-status', async () => {
    let result = weft(['proxy-status', '--control-plane', debugUrl]);
    for (let i = 0; i < 50 && !/SYNCED/.test(result.stdout); i++) {
      await new Promise((r) => setTimeout(r, 100));
      result = weft(['proxy-status', '--control-plane', debugUrl]);
    }
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^${PROXY_ID.replace('.', '\\.')} +Kubernetes +SYNCED +NOT SENT +NOT SENT +NOT SENT +IGNORED +weft-control-plane`, 'm'));
  });

  it('lists the clusters with their DestinationRule in weft proxy-config cluster', () => {
    const result = weft(['proxy-config', 'cluster', PROXY_ID, '--control-plane', debugUrl, '--fqdn', 'reviews.default.svc.cluster.local']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^reviews\.default\.svc\.cluster\.local +9080 +v1 +outbound +EDS +reviews-destination\.default$/m);
  });

  it('keeps serving the last good config when a file turns bad, and pushes the fix', async () => {
    writeFileSync(join(dir, 'reviews.yaml'), readFileSync(join(SEEDS, '000-reviews-routing.yaml'), 'utf8').replace('weight: 90', 'weight: 95'));
    await stream.nothingWithin(600);
    assert.match(log, /weights of the destinations add up to 105/);
    const still = weft(['proxy-config', 'cluster', PROXY_ID, '--control-plane', debugUrl]);
    assert.match(still.stdout, /reviews\.default\.svc\.cluster\.local +9080 +v2 +outbound/);

    writeFileSync(join(dir, 'reviews.yaml'), `${readFileSync(join(SEEDS, '000-reviews-routing.yaml'), 'utf8')}  - name: v3\n    labels:\n      version: v3\n`);
    const pushed = await stream.next(10_000);
    assert.ok(clusterNames(pushed).includes('outbound|9080|v3|reviews.default.svc.cluster.local'), clusterNames(pushed).join(', '));
    stream.send(request({ versionInfo: pushed.versionInfo, responseNonce: pushed.nonce }));
  });
});
