import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { snapshotFromYaml } from '../snapshot/test-support.ts';
import { egressServices } from './egress-services.ts';
import { testProxy } from './cluster-test-support.ts';

const SERVICES = `
apiVersion: v1
kind: Service
metadata: { name: web, namespace: default }
spec: { selector: { app: web }, ports: [{ name: http, port: 80 }] }
---
apiVersion: v1
kind: Service
metadata: { name: audit, namespace: ops }
spec: { selector: { app: audit }, ports: [{ name: http, port: 80 }] }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: apis, namespace: ops }
spec:
  hosts: [api.example.com, www.example.org]
  ports: [{ number: 443, name: tls, protocol: TLS }]
  resolution: DNS
`;

function imported(sidecarHosts: string): string[] {
  const yaml = `${SERVICES}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: default }
spec:
  egress: [{ hosts: ${sidecarHosts} }]
`;
  return egressServices(testProxy(), snapshotFromYaml(yaml)).map((i) => i.service.hostname);
}

describe('egressServices', () => {
  it('imports by namespace and host, with wildcard hosts', () => {
    assert.deepEqual(imported('["*/*.example.com"]'), ['api.example.com']);
    assert.deepEqual(imported('["ops/*"]'), ['api.example.com', 'audit.ops.svc.cluster.local', 'www.example.org']);
    assert.deepEqual(imported('["./*"]'), ['web.default.svc.cluster.local']);
  });

  it('imports nothing from "~"', () => {
    assert.deepEqual(imported('["~/*"]'), []);
  });

  it('excludes what a "~namespace" host names from its listener', () => {
    assert.deepEqual(imported('["*/*", "~ops/*.example.org"]'), ['api.example.com', 'audit.ops.svc.cluster.local', 'web.default.svc.cluster.local']);
  });

  it('imports every visible service of every port without a Sidecar', () => {
    assert.deepEqual(egressServices(testProxy(), snapshotFromYaml(SERVICES)).map((i) => [i.service.hostname, i.ports.map((p) => p.port)]), [
      ['api.example.com', [443]], ['audit.ops.svc.cluster.local', [80]], ['web.default.svc.cluster.local', [80]], ['www.example.org', [443]],
    ]);
  });
});
