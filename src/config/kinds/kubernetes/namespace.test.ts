import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatDiagnostic } from '../../index.ts';
import { assertValid, parseYaml, problems } from '../../test-support.ts';

describe('Namespace', () => {
  it('accepts a namespace labelled for injection, with finalizers and a status', () => {
    const result = parseYaml(`apiVersion: v1
kind: Namespace
metadata:
  name: bookinfo
  labels: {istio-injection: enabled, istio.io/rev: canary}
  annotations: {owner: team-a}
spec:
  finalizers: [kubernetes, example.com/cleanup]
status:
  phase: Active
`);
    assertValid(result);
  });

  it('is cluster-scoped: a metadata.namespace is ignored and the resource has no namespace', () => {
    const result = parseYaml('apiVersion: v1\nkind: Namespace\nmetadata: {name: bookinfo, namespace: elsewhere}\n');
    assert.deepEqual(problems(result), []);
    assert.equal(result.resources[0]!.namespace, '');
  });

  it('requires the name to be a DNS-1123 label', () => {
    const result = parseYaml('apiVersion: v1\nkind: Namespace\nmetadata: {name: book.info}\n');
    assert.deepEqual(problems(result), [
      'metadata.name: "book.info" is not a DNS-1123 label (at most 63 lower-case letters, digits and \'-\', starting and ending with a letter or digit)',
    ]);
    assert.equal(formatDiagnostic(result.diagnostics[0]!), 'Error [WFT0106] (Namespace book.info test.yaml:3:18) metadata.name: "book.info" is not a DNS-1123 label (at most 63 lower-case letters, digits and \'-\', starting and ending with a letter or digit)');
  });

  it('requires a name', () => {
    assert.deepEqual(problems(parseYaml('apiVersion: v1\nkind: Namespace\nmetadata: {labels: {a: b}}\n')), ['metadata.name: required field is missing']);
  });

  it('rejects a finalizer that is neither standard nor qualified', () => {
    assert.deepEqual(problems(parseYaml('apiVersion: v1\nkind: Namespace\nmetadata: {name: ns}\nspec: {finalizers: [cleanup, "example.com/"]}\n')), [
      'spec.finalizers[0]: "cleanup" is neither a standard finalizer (kubernetes, orphan, foregroundDeletion) nor a qualified name such as example.com/cleanup',
      'spec.finalizers[1]: "example.com/" is neither a standard finalizer (kubernetes, orphan, foregroundDeletion) nor a qualified name such as example.com/cleanup',
    ]);
  });

  it('rejects unknown fields with a suggestion', () => {
    assert.deepEqual(problems(parseYaml('apiVersion: v1\nkind: Namespace\nmetadata: {name: ns, label: {a: b}}\nspec: {finalizer: [kubernetes]}\n')), [
      'metadata.label: unknown field "label" (did you mean "labels"?)',
      'spec.finalizer: unknown field "finalizer" (did you mean "finalizers"?)',
    ]);
  });

  it('rejects label values that Kubernetes refuses', () => {
    assert.deepEqual(problems(parseYaml('apiVersion: v1\nkind: Namespace\nmetadata: {name: ns, labels: {istio-injection: true}}\n')), [
      'metadata.labels["istio-injection"]: expected a string, got boolean true',
    ]);
  });
});
