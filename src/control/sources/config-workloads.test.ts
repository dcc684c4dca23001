import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { builtinKinds, formatDiagnostic, parseSources, type AnyResource } from '../../config/index.ts';
import type { Workload } from '../model/index.ts';
import { workloadsFromConfig } from './config-workloads.ts';

function parse(text: string): AnyResource[] {
  const parsed = parseSources([{ name: 'workloads.yaml', text }], { kinds: builtinKinds() });
  assert.deepEqual(parsed.diagnostics.map(formatDiagnostic), []);
  return parsed.resources;
}

function pod(options: { labels?: string; annotations?: string; status?: string; spec?: string } = {}): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: reviews-v1-abc12
  namespace: bookinfo
  labels: ${options.labels ?? '{app: reviews, version: v1}'}
${options.annotations !== undefined ? `  annotations: ${options.annotations}\n` : ''}spec:
  serviceAccountName: bookinfo-reviews
${options.spec ?? ''}  containers:
  - name: reviews
    image: reviews:1
    ports: [{containerPort: 9080, name: http}, {containerPort: 9443}]
  - name: metrics
    image: metrics:1
    ports: [{containerPort: 8125, protocol: UDP}]
${options.status ?? 'status: {phase: Running, podIP: 10.1.0.5}'}
`;
}

function workloadEntry(spec: string, labels = '{app: legacy}'): string {
  return `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-1, namespace: legacy}
spec:
  labels: ${labels}
${spec.trim().split('\n').map((l) => `  ${l}`).join('\n')}
`;
}

function only(text: string): Workload {
  const workloads = workloadsFromConfig(parse(text));
  assert.equal(workloads.length, 1);
  return workloads[0]!;
}

describe('workloadsFromConfig', () => {
  describe('Pods', () => {
    it('turns a running pod with an IP into a workload with its container ports', () => {
      assert.deepEqual(only(pod()), {
        uid: 'Pod/bookinfo/reviews-v1-abc12',
        name: 'reviews-v1-abc12',
        namespace: 'bookinfo',
        labels: { app: 'reviews', version: 'v1' },
        serviceAccount: 'bookinfo-reviews',
        address: '10.1.0.5',
        ports: [{ port: 9080, name: 'http', protocol: 'TCP' }, { port: 9443, protocol: 'TCP' }, { port: 8125, protocol: 'UDP' }],
        locality: '',
        network: '',
        weight: 1,
        healthy: true,
        tlsMode: 'istio',
        origin: 'Pod',
      });
    });

    it('reads the address from podIPs when podIP is missing', () => {
      assert.equal(only(pod({ status: 'status: {podIPs: [{ip: "fd00::5"}, {ip: 10.1.0.5}]}' })).address, 'fd00::5');
    });

    it('leaves out a pod with no IP, and one that has finished', () => {
      assert.deepEqual(workloadsFromConfig(parse(pod({ status: '' }))), []);
      assert.deepEqual(workloadsFromConfig(parse(pod({ status: 'status: {phase: Pending}' }))), []);
      assert.deepEqual(workloadsFromConfig(parse(pod({ status: 'status: {phase: Succeeded, podIP: 10.1.0.5}' }))), []);
      assert.deepEqual(workloadsFromConfig(parse(pod({ status: 'status: {phase: Failed, podIP: 10.1.0.5}' }))), []);
    });

    it('marks a pod unhealthy when it is not Ready', () => {
      const notReady = pod({ status: 'status: {phase: Running, podIP: 10.1.0.5, conditions: [{type: Ready, status: "False"}]}' });
      assert.equal(only(notReady).healthy, false);
      const ready = pod({ status: 'status: {phase: Running, podIP: 10.1.0.5, conditions: [{type: Ready, status: "True"}]}' });
      assert.equal(only(ready).healthy, true);
    });

    it('marks a pod being deleted unhealthy', () => {
      const text = pod().replace('  namespace: bookinfo\n', '  namespace: bookinfo\n  deletionTimestamp: "2025-01-01T00:00:00Z"\n');
      assert.equal(only(text).healthy, false);
    });

    it('uses the default service account when the pod names none', () => {
      assert.equal(only(pod().replace('  serviceAccountName: bookinfo-reviews\n', '')).serviceAccount, 'default');
    });

    it('assumes a sidecar for a pod written without injection labels, as local mode runs them', () => {
      assert.equal(only(pod({ labels: '{app: reviews}' })).tlsMode, 'istio');
    });

    it('follows the tlsMode label when it is there', () => {
      assert.equal(only(pod({ labels: '{app: reviews, security.istio.io/tlsMode: disabled}' })).tlsMode, 'disabled');
      assert.equal(only(pod({ labels: '{app: reviews, security.istio.io/tlsMode: istio, sidecar.istio.io/inject: "false"}' })).tlsMode, 'istio');
    });

    it('knows a pod has no sidecar when injection is turned off or it uses the host network', () => {
      assert.equal(only(pod({ labels: '{app: reviews, sidecar.istio.io/inject: "false"}' })).tlsMode, 'disabled');
      assert.equal(only(pod({ annotations: '{sidecar.istio.io/inject: "false"}' })).tlsMode, 'disabled');
      assert.equal(only(pod({ spec: '  hostNetwork: true\n' })).tlsMode, 'disabled');
    });

    it('reads locality and network from Istio topology labels', () => {
      const placed = only(pod({ labels: '{app: reviews, topology.istio.io/locality: us-east1.us-east1-b.rack-3, topology.istio.io/network: net-east}' }));
      assert.equal(placed.locality, 'us-east1/us-east1-b/rack-3');
      assert.equal(placed.network, 'net-east');
      assert.equal(only(pod({ labels: '{app: reviews, istio-locality: eu-west1.b}' })).locality, 'eu-west1/b');
    });
  });

  describe('WorkloadEntries', () => {
    it('turns a WorkloadEntry into a workload with every field it sets', () => {
      const text = workloadEntry(`
address: 192.168.1.20
ports: {http: 8080, grpc: 7070}
serviceAccount: legacy-sa
locality: us-west1/us-west1-a
network: vm-network
weight: 3`);
      assert.deepEqual(only(text), {
        uid: 'WorkloadEntry/legacy/vm-1',
        name: 'vm-1',
        namespace: 'legacy',
        labels: { app: 'legacy' },
        serviceAccount: 'legacy-sa',
        address: '192.168.1.20',
        ports: [{ port: 8080, name: 'http' }, { port: 7070, name: 'grpc' }],
        locality: 'us-west1/us-west1-a',
        network: 'vm-network',
        weight: 3,
        healthy: true,
        tlsMode: 'istio',
        origin: 'WorkloadEntry',
      });
    });

    it('gives an entry without a service account no identity, and weight 1 when it sets none', () => {
      const entry = only(workloadEntry('address: vm-1.example.com'));
      assert.equal(entry.serviceAccount, '');
      assert.equal(entry.weight, 1);
      assert.deepEqual(entry.ports, []);
      assert.equal(entry.address, 'vm-1.example.com');
    });

    it('sends mutual TLS only to an entry with a service account or the tlsMode label, as Istio', () => {
      assert.equal(only(workloadEntry('address: 192.168.1.20')).tlsMode, 'disabled');
      assert.equal(only(workloadEntry('address: 192.168.1.20\nserviceAccount: legacy-sa')).tlsMode, 'istio');
      assert.equal(only(workloadEntry('address: 192.168.1.20', '{app: legacy, security.istio.io/tlsMode: istio}')).tlsMode, 'istio');
    });

    it('sends plaintext to an entry labelled tlsMode disabled', () => {
      assert.equal(only(workloadEntry('address: 192.168.1.20', '{app: legacy, security.istio.io/tlsMode: disabled}')).tlsMode, 'disabled');
    });

    it('marks an entry unhealthy when its Healthy condition is False', () => {
      const text = `${workloadEntry('address: 192.168.1.20')}status:\n  conditions: [{type: Healthy, status: "False"}]\n`;
      assert.equal(only(text).healthy, false);
    });

    it('leaves out an entry reached only through its network gateway', () => {
      assert.deepEqual(workloadsFromConfig(parse(workloadEntry('network: vm-network'))), []);
    });
  });

  it('reads Pods and WorkloadEntries together and ignores other kinds', () => {
    const text = `${pod()}---\n${workloadEntry('address: 192.168.1.20')}---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo}
spec:
  ports: [{name: http, port: 9080}]
`;
    assert.deepEqual(workloadsFromConfig(parse(text)).map((w) => w.uid), ['Pod/bookinfo/reviews-v1-abc12', 'WorkloadEntry/legacy/vm-1']);
  });
});
