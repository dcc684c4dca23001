import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeYaml } from '../test-support.ts';
import { namespaceNotInjected } from './namespace-not-injected.ts';

function run(name: string, labels = ''): string[] {
  const text = `apiVersion: v1
kind: Namespace
metadata:
  name: ${name}
${labels === '' ? '' : `  labels: {${labels}}\n`}`;
  return analyzeYaml(text, namespaceNotInjected);
}

describe('NamespaceNotInjected', () => {
  it('reports a namespace without an injection label, with the commands to fix it', () => {
    assert.deepEqual(run('production'), [
      "Info [WFT0102] (Namespace production test.yaml:4) The namespace is not enabled for Istio injection. Run 'kubectl label namespace production istio-injection=enabled' to enable it, or 'kubectl label namespace production istio-injection=disabled' to explicitly mark it as not needing injection.",
    ]);
  });

  it('accepts istio-injection=enabled and a revision label', () => {
    assert.deepEqual(run('production', 'istio-injection: enabled'), []);
    assert.deepEqual(run('production', 'istio.io/rev: canary'), []);
  });

  it('says that injection is explicitly disabled', () => {
    assert.deepEqual(run('legacy', 'istio-injection: disabled'), [
      "Info [WFT0102] (Namespace legacy test.yaml:4) Istio injection is explicitly disabled for this namespace (istio-injection=disabled), so its workloads get no sidecar. Run 'kubectl label namespace legacy istio-injection=enabled --overwrite' to enable it.",
    ]);
  });

  it('skips the system namespaces', () => {
    for (const name of ['kube-system', 'kube-public', 'kube-node-lease', 'istio-system']) assert.deepEqual(run(name), []);
  });
});
