import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeYaml } from '../test-support.ts';
import { mtlsPolicyConflict } from './mtls-policy-conflict.ts';

const run = (text: string): string[] => analyzeYaml(text, mtlsPolicyConflict);

const peerAuthentication = (namespace: string, mode: string, selector = ''): string => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: pa-${mode.toLowerCase()}, namespace: ${namespace}}
spec:
${selector}  mtls: {mode: ${mode}}
---
`;

const plaintextRule = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    tls: {mode: DISABLE}
---
`;

describe('MtlsPolicyConflict', () => {
  it('reports plaintext to a namespace that requires STRICT mTLS, at the mode', () => {
    assert.deepEqual(run(peerAuthentication('default', 'STRICT') + plaintextRule), [
      'Error [WFT0113] (DestinationRule default/reviews test.yaml:13) A DestinationRule and PeerAuthentication are in conflict with regards to mTLS for host reviews.default.svc.cluster.local. The DestinationRule "default/reviews" sets tls mode DISABLE (plaintext) but the PeerAuthentication "default/pa-strict" requires STRICT mTLS, so the connections are refused. Use mode ISTIO_MUTUAL, or leave tls out.',
    ]);
  });

  it('applies a mesh-wide STRICT policy unless the namespace sets its own mode', () => {
    assert.equal(run(peerAuthentication('istio-system', 'STRICT') + plaintextRule).length, 1);
    assert.deepEqual(run(peerAuthentication('istio-system', 'STRICT') + peerAuthentication('default', 'PERMISSIVE') + plaintextRule), []);
    assert.equal(run(peerAuthentication('istio-system', 'STRICT') + peerAuthentication('default', 'UNSET') + plaintextRule).length, 1);
  });

  it('lets a workload policy for the Service pods override the namespace', () => {
    const service = `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
---
`;
    const workloadPermissive = peerAuthentication('default', 'PERMISSIVE', '  selector: {matchLabels: {app: reviews}}\n');
    assert.deepEqual(run(service + peerAuthentication('default', 'STRICT') + workloadPermissive + plaintextRule), []);
  });

  it('checks subsets and port-level settings, and accepts ISTIO_MUTUAL and MUTUAL', () => {
    assert.deepEqual(run(`${peerAuthentication('default', 'STRICT')}apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews.default.svc.cluster.local
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL}
    portLevelSettings:
    - port: {number: 9443}
      tls: {mode: SIMPLE}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      tls: {mode: DISABLE}
`), [
      'Error [WFT0113] (DestinationRule default/reviews test.yaml:16) A DestinationRule and PeerAuthentication are in conflict with regards to mTLS for host reviews.default.svc.cluster.local port 9443. The DestinationRule "default/reviews" sets tls mode SIMPLE (TLS without an Istio client certificate) but the PeerAuthentication "default/pa-strict" requires STRICT mTLS, so the connections are refused. Use mode ISTIO_MUTUAL, or leave tls out.',
      'Error [WFT0113] (DestinationRule default/reviews test.yaml:21) A DestinationRule and PeerAuthentication are in conflict with regards to mTLS for host reviews.default.svc.cluster.local. The DestinationRule "default/reviews" sets tls mode DISABLE (plaintext) but the PeerAuthentication "default/pa-strict" requires STRICT mTLS, so the connections are refused. Use mode ISTIO_MUTUAL, or leave tls out.',
    ]);
  });

  it('says nothing for hosts outside the cluster or namespaces without STRICT', () => {
    assert.deepEqual(run(peerAuthentication('shop', 'STRICT') + plaintextRule), []);
    assert.deepEqual(run(`${peerAuthentication('istio-system', 'STRICT')}apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api}
spec:
  host: api.example.com
  trafficPolicy:
    tls: {mode: SIMPLE}
`), []);
  });
});
