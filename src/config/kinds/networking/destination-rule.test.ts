import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ofKind } from '../../index.ts';
import { countAcceptedSeedResources, parseYaml, problems, resourceYaml, seedFiles } from '../../test-support.ts';

/** The seed files whose DestinationRules and Gateways must be accepted as written. */
const SEED_FILES = seedFiles(/^(000-|001-|002-booking-gateway|003-).*\.yaml$/);

/** A DestinationRule in namespace `default` with the given spec (YAML written from column 0). */
function parseRule(spec: string) {
  return parseYaml(resourceYaml('networking.istio.io/v1', 'DestinationRule', spec, { name: 'reviews', namespace: 'default' }));
}

function findings(spec: string): string[] {
  return problems(parseRule(spec));
}

describe('DestinationRule', () => {
  it('accepts every DestinationRule of the seed examples', () => {
    assert.equal(countAcceptedSeedResources('DestinationRule', SEED_FILES), 3);
  });

  it('accepts a full rule and keeps its values', () => {
    const result = parseRule(`host: ratings.prod.svc.cluster.local
trafficPolicy:
  loadBalancer:
    simple: LEAST_REQUEST
  tls:
    mode: ISTIO_MUTUAL
subsets:
- name: testversion
  labels:
    version: v3
  trafficPolicy:
    loadBalancer:
      simple: ROUND_ROBIN
exportTo: ["."]`);
    assert.deepEqual(result.diagnostics, []);
    const [rule] = ofKind(result.resources, 'DestinationRule');
    assert.equal(rule!.object.spec.host, 'ratings.prod.svc.cluster.local');
    assert.equal(rule!.object.spec.subsets?.[0]?.trafficPolicy?.loadBalancer?.simple, 'ROUND_ROBIN');
  });

  it('accepts short names and wildcard hosts', () => {
    assert.deepEqual(findings('host: reviews'), []);
    assert.deepEqual(findings('host: "*.foo.com"\ntrafficPolicy:\n  tls:\n    mode: SIMPLE'), []);
    assert.deepEqual(findings('host: "*"'), []);
  });

  it('requires a host', () => {
    assert.deepEqual(findings('subsets:\n- name: v1'), ['spec.host: required field is missing']);
  });

  it('refuses hosts Istio refuses: a wildcard inside the name, an IP address, an empty host', () => {
    assert.deepEqual(findings('host: "foo.*.com"'), [`spec.host: host "foo.*.com": a wildcard '*' is allowed only at the start of the first label (e.g. "*.example.com")`]);
    assert.deepEqual(findings('host: 10.0.0.1'), ['spec.host: host "10.0.0.1" is not a service name: its top-level domain "1" is all digits (IP addresses are not accepted here)']);
    assert.deepEqual(findings('host: ""'), ['spec.host: host must not be empty']);
    assert.deepEqual(findings('host: 42'), ['spec.host: expected a string, got integer 42']);
  });

  it('refuses a subset with no name', () => {
    assert.deepEqual(findings('host: reviews\nsubsets:\n- labels:\n    version: v1'), ['spec.subsets[0].name: required field is missing']);
  });

  it('refuses a subset name that is not a DNS-1123 label, allowing upper case as Istio does', () => {
    const [finding] = findings('host: reviews\nsubsets:\n- name: v1.0');
    assert.match(finding!, /^spec\.subsets\[0\]\.name: "v1\.0" is not a valid subset name/);
    assert.deepEqual(findings('host: reviews\nsubsets:\n- name: V1\n  labels: {version: v1}'), []);
  });

  it('refuses two subsets with the same name', () => {
    assert.deepEqual(findings('host: reviews\nsubsets:\n- name: v1\n  labels: {version: v1}\n- name: v1\n  labels: {version: v2}'), [
      'spec.subsets[1].name: subset "v1" is already defined at subsets[0]; subset names must be unique',
    ]);
  });

  it('refuses subset labels that are not Kubernetes labels', () => {
    assert.deepEqual(findings('host: reviews\nsubsets:\n- name: v1\n  labels:\n    version: "v 1"'), [
      `spec.subsets[0].labels.version: label value "v 1" is not valid (at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit)`,
    ]);
    assert.deepEqual(findings('host: reviews\nsubsets:\n- name: v1\n  labels:\n    version: 1'), ['spec.subsets[0].labels.version: expected a string, got integer 1']);
  });

  it('validates a subset\'s traffic policy as the top-level one', () => {
    assert.deepEqual(findings('host: reviews\nsubsets:\n- name: v1\n  trafficPolicy:\n    outlierDetection:\n      maxEjectionPercent: 150'), [
      'spec.subsets[0].trafficPolicy.outlierDetection.maxEjectionPercent: must be at most 100, got integer 150',
    ]);
  });

  it('suggests the field meant by a misspelling', () => {
    assert.deepEqual(findings('host: reviews\nsubset:\n- name: v1'), ['spec.subset: unknown field "subset" (did you mean "subsets"?)']);
    assert.deepEqual(findings('host: reviews\ntraffic_policy:\n  tls:\n    mode: SIMPLE'), ['spec.traffic_policy: unknown field "traffic_policy" (did you mean "trafficPolicy"?)']);
  });

  it('accepts a workload selector', () => {
    assert.deepEqual(findings('host: example.com\nworkloadSelector:\n  matchLabels:\n    app: ratings\ntrafficPolicy:\n  tls:\n    mode: MUTUAL\n    credentialName: client-credential'), []);
  });

  it('exports a rule with a workload selector only to its own namespace', () => {
    const selected = 'host: example.com\nworkloadSelector:\n  matchLabels:\n    app: ratings\n';
    assert.deepEqual(findings(`${selected}exportTo: ["."]`), []);
    assert.deepEqual(findings(`${selected}exportTo: [default]`), []);
    assert.deepEqual(findings(`${selected}exportTo: ["*"]`), ['spec.exportTo: a DestinationRule with a workloadSelector can be exported only to its own namespace ("."), got "*"']);
    assert.deepEqual(findings(`${selected}exportTo: [other]`), ['spec.exportTo: a DestinationRule with a workloadSelector can be exported only to its own namespace ("."), got "other"']);
    assert.deepEqual(findings(`${selected}exportTo: [".", default]`), ['spec.exportTo: a DestinationRule with a workloadSelector can be exported only to its own namespace; give "." once']);
  });

  it('refuses a malformed exportTo entry', () => {
    assert.deepEqual(findings('host: reviews\nexportTo: ["Not_A_Namespace"]'), ['spec.exportTo[0]: "Not_A_Namespace" is not ".", "*" or a namespace name']);
  });

  it('reports every problem of a rule at once, each at its line', () => {
    const result = parseRule('host: reviews\ntrafficPolicy:\n  loadBalancer:\n    simple: FASTEST\nsubsets:\n- name: v_1');
    assert.deepEqual(result.diagnostics.map((d) => [d.path, d.origin?.line]), [
      ['spec.trafficPolicy.loadBalancer.simple', 10],
      ['spec.subsets[0].name', 12],
    ]);
    assert.equal(result.resources.length, 0);
  });
});
