import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeYaml } from '../test-support.ts';
import { noMatchingWorkloads } from './no-matching-workloads.ts';

const run = (text: string): string[] => analyzeYaml(text, noMatchingWorkloads);

const policy = (namespace: string, app: string): string => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-get, namespace: ${namespace}}
spec:
  selector:
    matchLabels: {app: ${app}}
  rules:
  - to: [{operation: {methods: [GET]}}]
---
`;

const pod = (namespace: string, app: string): string => `apiVersion: v1
kind: Pod
metadata: {name: ${app}-1, namespace: ${namespace}, labels: {app: ${app}, version: v1}}
spec:
  containers: [{name: app, image: example/app}]
---
`;

const deployment = (namespace: string, app: string): string => `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${app}, namespace: ${namespace}}
spec:
  selector: {matchLabels: {app: ${app}}}
  template:
    metadata: {labels: {app: ${app}}}
    spec:
      containers: [{name: app, image: example/app}]
---
`;

describe('NoMatchingWorkloads', () => {
  it('warns about a selector that matches none of the workloads of its namespace', () => {
    assert.deepEqual(run(policy('default', 'reviews') + pod('default', 'ratings')), [
      'Warning [WFT0127] (AuthorizationPolicy default/allow-get test.yaml:6) No matching workloads for this resource with the following labels: app=reviews',
    ]);
  });

  it('finds workloads among Pods, Deployment pod templates, WorkloadEntries and LocalWorkloads', () => {
    assert.deepEqual(run(policy('default', 'reviews') + pod('default', 'reviews')), []);
    assert.deepEqual(run(policy('default', 'reviews') + deployment('default', 'reviews')), []);
    assert.deepEqual(run(`${policy('default', 'reviews')}apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-1, namespace: default}
spec:
  address: 10.0.0.7
  labels: {app: reviews}
`), []);
    const local = (app: string): string => `apiVersion: local.weft.dev/v1alpha1
kind: LocalWorkload
metadata: {name: ${app}-v1, namespace: default}
spec:
  labels: {app: ${app}}
  ports: [{name: http, containerPort: 9080}]
  command: [node, ${app}.ts]
`;
    assert.deepEqual(run(policy('default', 'reviews') + local('reviews')), []);
    assert.equal(run(policy('default', 'reviews') + local('ratings')).length, 1);
  });

  it('says nothing when the input has no workload in the namespace', () => {
    assert.deepEqual(run(policy('default', 'reviews')), []);
    assert.deepEqual(run(policy('default', 'reviews') + pod('shop', 'ratings')), []);
  });

  it('looks in every namespace for a selector in the root namespace', () => {
    assert.deepEqual(run(policy('istio-system', 'reviews') + pod('default', 'reviews')), []);
    assert.equal(run(policy('istio-system', 'reviews') + pod('default', 'ratings')).length, 1);
  });

  it('checks PeerAuthentication, RequestAuthentication, Telemetry and Sidecar selectors', () => {
    assert.deepEqual(run(`${pod('default', 'ratings')}apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: pa}
spec:
  selector: {matchLabels: {app: reviews}}
  mtls: {mode: STRICT}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: ra}
spec:
  selector: {matchLabels: {app: reviews}}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: tm}
spec:
  selector: {matchLabels: {app: reviews}}
  accessLogging: [{providers: [{name: envoy}]}]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: sc}
spec:
  workloadSelector: {labels: {app: reviews, version: v1}}
  egress: [{hosts: ["./*"]}]
`), [
      'Warning [WFT0127] (PeerAuthentication default/pa test.yaml:11) No matching workloads for this resource with the following labels: app=reviews',
      'Warning [WFT0127] (RequestAuthentication default/ra test.yaml:18) No matching workloads for this resource with the following labels: app=reviews',
      'Warning [WFT0127] (Telemetry default/tm test.yaml:24) No matching workloads for this resource with the following labels: app=reviews',
      'Warning [WFT0127] (Sidecar default/sc test.yaml:31) No matching workloads for this resource with the following labels: app=reviews,version=v1',
    ]);
  });

  it('checks LocalRateLimit selectors', () => {
    const limit = (app: string): string => `apiVersion: policy.weft.dev/v1alpha1
kind: LocalRateLimit
metadata: {name: limit, namespace: default}
spec:
  selector: {matchLabels: {app: ${app}}}
  tokenBucket: {maxTokens: 10, tokensPerFill: 10, fillInterval: 1s}
`;
    assert.deepEqual(run(pod('default', 'ratings') + limit('reviews')), [
      'Warning [WFT0127] (LocalRateLimit default/limit test.yaml:11) No matching workloads for this resource with the following labels: app=reviews',
    ]);
    assert.deepEqual(run(pod('default', 'reviews') + limit('reviews')), []);
  });

  it('takes a root-namespace selector that a Gateway\'s selector satisfies to select the gateway\'s pods, which the input seldom has; not one in another namespace', () => {
    const gateway = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: default}
spec:
  selector: {istio: ingressgateway, app: istio-ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
---
`;
    assert.deepEqual(run(gateway + pod('istio-system', 'ratings') + policy('istio-system', 'istio-ingressgateway')), []);
    assert.equal(run(gateway + pod('istio-system', 'ratings') + policy('istio-system', 'istio-egressgateway')).length, 1);
    assert.equal(run(gateway + pod('default', 'ratings') + policy('default', 'istio-ingressgateway')).length, 1, 'the gateway runs in istio-system, not default');
  });
});
