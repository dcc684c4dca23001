import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeYaml } from '../test-support.ts';
import { referencedSubsetNotFound } from './referenced-subset-not-found.ts';

const run = (text: string): string[] => analyzeYaml(text, referencedSubsetNotFound);

function destinationRule(name: string, namespace: string, host: string, subsets: string[]): string {
  return `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  host: ${host}
  subsets:
${subsets.map((s) => `  - {name: ${s}, labels: {version: ${s}}}`).join('\n')}
`;
}

const virtualService = (namespace: string, host: string, ...subsets: string[]): string => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: ${namespace}}
spec:
  hosts: [reviews]
  http:
  - route:
${subsets.map((s, i) => `    - destination: {host: ${host}, subset: ${s}}\n      weight: ${i === 0 ? 100 - (subsets.length - 1) * 10 : 10}`).join('\n')}
`;

describe('ReferencedSubsetNotFound', () => {
  it('reports a subset that the DestinationRule for the host does not define', () => {
    assert.deepEqual(run(virtualService('default', 'reviews', 'v1', 'v3') + destinationRule('reviews', 'default', 'reviews', ['v1', 'v2'])), [
      'Error [WFT0103] (VirtualService default/reviews test.yaml:11) Referenced host+subset in destinationrule not found: "reviews+v3"',
    ]);
  });

  it('accepts subsets defined by a rule in the VirtualService namespace, the host namespace or istio-system', () => {
    assert.deepEqual(run(virtualService('default', 'reviews', 'v1') + destinationRule('reviews', 'default', 'reviews.default.svc.cluster.local', ['v1'])), []);
    assert.deepEqual(run(virtualService('shop', 'reviews.default.svc.cluster.local', 'v1') + destinationRule('reviews', 'default', 'reviews', ['v1'])), []);
    assert.deepEqual(run(virtualService('default', 'reviews', 'v1') + destinationRule('all', 'istio-system', '"*.svc.cluster.local"', ['v1'])), []);
  });

  it('reports a subset when no DestinationRule exists for the host at all', () => {
    assert.deepEqual(run(virtualService('default', 'reviews', 'v1')), [
      'Error [WFT0103] (VirtualService default/reviews test.yaml:9) Referenced host+subset in destinationrule not found: "reviews+v1"',
    ]);
  });

  it('uses the rule of the client namespace first, as Istio does, even when another namespace defines the subset', () => {
    assert.deepEqual(run(
      virtualService('shop', 'reviews.default.svc.cluster.local', 'v2') +
      destinationRule('local', 'shop', 'reviews.default.svc.cluster.local', ['v1']) +
      destinationRule('reviews', 'default', 'reviews', ['v2']),
    ), ['Error [WFT0103] (VirtualService shop/reviews test.yaml:9) Referenced host+subset in destinationrule not found: "reviews.default.svc.cluster.local+v2"']);
  });

  it('merges the subsets of several rules for the same host in one namespace', () => {
    assert.deepEqual(run(
      virtualService('default', 'reviews', 'v1', 'v2') +
      destinationRule('a', 'default', 'reviews', ['v1']) +
      destinationRule('b', 'default', 'reviews', ['v2']),
    ), []);
  });

  it('checks the subsets of mirrors', () => {
    assert.deepEqual(run(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
    mirror: {host: reviews, subset: shadow}
`), ['Error [WFT0103] (VirtualService default/reviews test.yaml:10) Referenced mirror+subset in destinationrule not found: "reviews+shadow"']);
  });
});
