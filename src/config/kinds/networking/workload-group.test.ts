import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertValid, parseYaml, problems, resourceYaml } from '../../test-support.ts';

/** Reads one WorkloadGroup whose spec is `spec` (YAML, written from column 0). */
function parseWorkloadGroup(spec: string) {
  return parseYaml(resourceYaml('networking.istio.io/v1', 'WorkloadGroup', spec, { name: 'reviews', namespace: 'bookinfo' }));
}

function findings(spec: string): string[] {
  return problems(parseWorkloadGroup(spec));
}

describe('WorkloadGroup', () => {
  it('accepts metadata, a template and an httpGet readiness probe', () => {
    const result = parseWorkloadGroup(`
metadata:
  labels:
    app.kubernetes.io/name: reviews
    app.kubernetes.io/version: "1.3.4"
  annotations:
    example.com/owner: team-a
template:
  ports:
    grpc: 3550
    http: 8080
  serviceAccount: default
  network: vpc-1
probe:
  initialDelaySeconds: 5
  timeoutSeconds: 3
  periodSeconds: 4
  successThreshold: 3
  failureThreshold: 3
  httpGet:
    path: /foo/bar
    host: 127.0.0.1
    port: 3100
    scheme: HTTPS
    httpHeaders:
    - name: Lit-Header
      value: Im-The-Best
`);
    assertValid(result);
  });

  it('accepts an empty template, and tcpSocket, exec and grpc probes', () => {
    assert.deepEqual(findings('template: {}'), []);
    assert.deepEqual(findings('template: {}\nprobe: {tcpSocket: {port: 5}}'), []);
    assert.deepEqual(findings('template: {}\nprobe: {exec: {command: [cat, /tmp/healthy]}}'), []);
    assert.deepEqual(findings('template: {}\nprobe: {grpc: {port: 9090, service: grpc.health.v1.Health}}'), []);
  });

  it('rejects a group without template', () => {
    assert.deepEqual(findings('metadata: {labels: {app: reviews}}'), ['spec.template: required field is missing']);
  });

  it('rejects an address in the template, which each workload supplies itself', () => {
    assert.deepEqual(findings('template: {address: 10.0.0.1}'), [
      'spec.template.address: address must not be set in a template: each WorkloadEntry takes the address of the workload that registers it',
    ]);
  });

  it('checks the template fields as a WorkloadEntry checks them', () => {
    assert.deepEqual(findings('template: {ports: {http: 0}, weight: -2}'), [
      'spec.template.ports.http: must be at least 1, got integer 0',
      'spec.template.weight: must be at least 0, got integer -2',
    ]);
  });

  it('rejects invalid metadata labels and unknown metadata fields', () => {
    assert.deepEqual(findings('metadata: {labels: {".": "~"}}\ntemplate: {}'), [
      `spec.metadata.labels["."]: label key "." is not valid (at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit)`,
    ]);
    assert.deepEqual(findings('metadata: {annotation: {a: b}}\ntemplate: {}'), ['spec.metadata.annotation: unknown field "annotation" (did you mean "annotations"?)']);
  });

  it('rejects a probe without a health check method', () => {
    assert.deepEqual(findings('template: {}\nprobe: {periodSeconds: 10}'), ['spec.probe: a probe must set one of httpGet, tcpSocket, exec, grpc']);
  });

  it('rejects a probe with two health check methods', () => {
    assert.deepEqual(findings('template: {}\nprobe: {httpGet: {port: 80}, exec: {command: [/bin/true]}}'), [
      'spec.probe.exec: only one of httpGet, tcpSocket, exec, grpc may be set, got httpGet and exec',
    ]);
  });

  it('rejects negative probe timings', () => {
    assert.deepEqual(findings('template: {}\nprobe: {periodSeconds: -1, failureThreshold: -3, tcpSocket: {port: 5}}'), [
      'spec.probe.periodSeconds: must be at least 0, got integer -1',
      'spec.probe.failureThreshold: must be at least 0, got integer -3',
    ]);
  });

  it('rejects an httpGet without port, with an unknown scheme or with a bad header name', () => {
    assert.deepEqual(findings('template: {}\nprobe: {httpGet: {path: /ready, scheme: FTP, httpHeaders: [{name: X_Custom, value: a}]}}'), [
      'spec.probe.httpGet.port: required field is missing',
      'spec.probe.httpGet.scheme: scheme must be HTTP or HTTPS, got "FTP"',
      `spec.probe.httpGet.httpHeaders[0].name: "X_Custom" is not a valid probe header name (letters, digits and '-')`,
    ]);
  });

  it('rejects a tcpSocket port out of range and an exec without command', () => {
    assert.deepEqual(findings('template: {}\nprobe: {tcpSocket: {port: 70000}}'), ['spec.probe.tcpSocket.port: must be at most 65535, got integer 70000']);
    assert.deepEqual(findings('template: {}\nprobe: {exec: {command: []}}'), ['spec.probe.exec.command: must have at least 1 item, got 0']);
    assert.deepEqual(findings('template: {}\nprobe: {exec: {}}'), ['spec.probe.exec.command: required field is missing']);
  });

  it('rejects a misspelt probe field and suggests the one meant', () => {
    assert.deepEqual(findings('template: {}\nprobe: {httpGet: {port: 80}, periodSecond: 5}'), ['spec.probe.periodSecond: unknown field "periodSecond" (did you mean "periodSeconds"?)']);
  });
});
