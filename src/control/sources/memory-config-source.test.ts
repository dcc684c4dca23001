import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { builtinKinds, formatDiagnostic, parseSources, type AnyResource } from '../../config/index.ts';
import type { ConfigState } from './config-source.ts';
import { MemoryConfigSource } from './memory-config-source.ts';

const REVIEWS_SERVICE = `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
`;

function virtualService(name: string, timeout = '5s', host = 'reviews'): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${host}]
  http:
  - timeout: ${timeout}
    route:
    - destination: {host: ${host}}
`;
}

function names(state: ConfigState): string[] {
  return state.resources.map((r) => `${r.kind}/${r.namespace}/${r.name}`);
}

function resources(text: string): AnyResource[] {
  const parsed = parseSources([{ name: 'given.yaml', text }], { kinds: builtinKinds() });
  assert.deepEqual(parsed.diagnostics, []);
  return parsed.resources;
}

/** Records every state the source announces. */
function record(source: MemoryConfigSource): ConfigState[] {
  const seen: ConfigState[] = [];
  source.subscribe((state) => seen.push(state));
  return seen;
}

describe('MemoryConfigSource', () => {
  it('starts empty at revision 0', () => {
    const source = new MemoryConfigSource();
    assert.deepEqual(source.current(), { revision: 0, resources: [], diagnostics: [] });
  });

  it('applies YAML files, bumps the revision and notifies with the new state', () => {
    const source = new MemoryConfigSource();
    const seen = record(source);
    const result = source.apply([{ name: 'reviews.yaml', text: `${REVIEWS_SERVICE}---\n${virtualService('reviews')}` }]);
    assert.ok(result.ok);
    assert.deepEqual(result.value.changes.map((c) => `${c.resource.kind} ${c.resource.name} ${c.action}`), ['Service reviews created', 'VirtualService reviews created']);
    assert.equal(source.current().revision, 1);
    assert.deepEqual(names(source.current()), ['Service/default/reviews', 'VirtualService/default/reviews']);
    assert.deepEqual(seen, [source.current()]);
  });

  it('applies resources that were validated already', () => {
    const source = new MemoryConfigSource();
    const result = source.apply(resources(REVIEWS_SERVICE));
    assert.ok(result.ok);
    assert.deepEqual(names(source.current()), ['Service/default/reviews']);
  });

  it('refuses a batch with any error, with its diagnostics, and keeps everything it had', () => {
    const source = new MemoryConfigSource();
    source.apply([{ name: 'reviews.yaml', text: REVIEWS_SERVICE }]);
    const before = source.current();
    const seen = record(source);
    const result = source.apply([
      { name: 'good.yaml', text: virtualService('reviews') },
      { name: 'bad.yaml', text: virtualService('broken', 'soon') },
    ]);
    assert.ok(!result.ok);
    assert.deepEqual(result.error.map(formatDiagnostic), [
      'Error [WFT0106] (VirtualService default/broken bad.yaml:7:14) spec.http[0].timeout: "soon" is not a duration (expected a number with a unit: ns, us, ms, s, m, h, e.g. "1.5s" or "100ms")',
    ]);
    assert.equal(source.current(), before);
    assert.deepEqual(seen, []);
  });

  it('refuses broken YAML', () => {
    const source = new MemoryConfigSource();
    const result = source.apply([{ name: 'broken.yaml', text: 'kind: [unclosed\n' }]);
    assert.ok(!result.ok);
    assert.equal(result.error[0]?.code, 'WFT0106');
    assert.equal(source.current().revision, 0);
  });

  it('refuses a batch that defines the same resource twice', () => {
    const source = new MemoryConfigSource();
    const fromFiles = source.apply([{ name: 'twice.yaml', text: `${REVIEWS_SERVICE}---\n${REVIEWS_SERVICE}` }]);
    assert.ok(!fromFiles.ok);
    assert.deepEqual(fromFiles.error.map((d) => d.code), ['WFT0115']);

    const service = resources(REVIEWS_SERVICE)[0]!;
    const given = source.apply([service, service]);
    assert.ok(!given.ok);
    assert.deepEqual(given.error.map(formatDiagnostic), [
      'Error [WFT0115] (Service default/reviews given.yaml:1) Service default/reviews is defined twice; the definition at given.yaml:1 is kept',
    ]);
    assert.equal(source.current().revision, 0);
  });

  it('does not notify when an apply changes nothing, even from another file', () => {
    const source = new MemoryConfigSource();
    source.apply([{ name: 'reviews.yaml', text: REVIEWS_SERVICE }]);
    const seen = record(source);
    const result = source.apply([{ name: 'elsewhere.yaml', text: `# the same service\n${REVIEWS_SERVICE}` }]);
    assert.ok(result.ok);
    assert.deepEqual(result.value.changes.map((c) => c.action), ['unchanged']);
    assert.equal(source.current().revision, 1);
    assert.deepEqual(seen, []);
  });

  it('replaces a changed resource in place and reports it configured', () => {
    const source = new MemoryConfigSource();
    source.apply([{ name: 'a.yaml', text: `${virtualService('reviews')}---\n${REVIEWS_SERVICE}` }]);
    const result = source.apply([{ name: 'a.yaml', text: virtualService('reviews', '9s') }]);
    assert.ok(result.ok);
    assert.deepEqual(result.value.changes.map((c) => c.action), ['configured']);
    assert.equal(source.current().revision, 2);
    assert.deepEqual(names(source.current()), ['VirtualService/default/reviews', 'Service/default/reviews']);
    const vs = source.current().resources[0];
    assert.ok(vs?.kind === 'VirtualService');
    assert.equal(vs.object.spec.http?.[0]?.timeout, '9s');
  });

  it('deletes resources by name and reports names it does not hold', () => {
    const source = new MemoryConfigSource();
    source.apply([{ name: 'a.yaml', text: `${REVIEWS_SERVICE}---\n${virtualService('reviews')}` }]);
    const seen = record(source);
    const result = source.delete([
      { kind: 'VirtualService', namespace: 'default', name: 'reviews' },
      { kind: 'VirtualService', namespace: 'default', name: 'ratings' },
    ]);
    assert.ok(result.ok);
    assert.deepEqual(result.value.deleted.map((r) => r.name), ['reviews']);
    assert.deepEqual(result.value.notFound.map((r) => r.name), ['ratings']);
    assert.deepEqual(names(source.current()), ['Service/default/reviews']);
    assert.equal(seen.length, 1);
    assert.equal(source.current().revision, 2);
  });

  it('deletes the resources a file defines, as kubectl delete -f', () => {
    const source = new MemoryConfigSource();
    source.apply([{ name: 'a.yaml', text: `${REVIEWS_SERVICE}---\n${virtualService('reviews')}` }]);
    const result = source.delete([{ name: 'vs.yaml', text: virtualService('reviews', '1s') }]);
    assert.ok(result.ok);
    assert.deepEqual(names(source.current()), ['Service/default/reviews']);
  });

  it('does not notify when a delete finds nothing', () => {
    const source = new MemoryConfigSource();
    const seen = record(source);
    const result = source.delete([{ kind: 'Service', namespace: 'default', name: 'nothing' }]);
    assert.ok(result.ok);
    assert.equal(source.current().revision, 0);
    assert.deepEqual(seen, []);
  });

  it('reports analyzer findings in diagnostics without refusing the resources', () => {
    const source = new MemoryConfigSource();
    const result = source.apply([{ name: 'vs.yaml', text: virtualService('ratings', '5s', 'ratings') }]);
    assert.ok(result.ok);
    assert.deepEqual(names(source.current()), ['VirtualService/default/ratings']);
    assert.deepEqual(source.current().diagnostics.map(formatDiagnostic), [
      'Error [WFT0101] (VirtualService default/ratings vs.yaml:9) Referenced host not found: "ratings"',
    ]);
    source.apply([{ name: 'svc.yaml', text: REVIEWS_SERVICE.replaceAll('reviews', 'ratings') }]);
    assert.deepEqual(source.current().diagnostics, []);
  });

  it('runs no analyzer when given none', () => {
    const source = new MemoryConfigSource({ analyzers: [] });
    source.apply([{ name: 'vs.yaml', text: virtualService('ratings', '5s', 'ratings') }]);
    assert.deepEqual(source.current().diagnostics, []);
  });

  it('puts resources that name no namespace in the default namespace it was given', () => {
    const source = new MemoryConfigSource({ defaultNamespace: 'shop' });
    source.apply([{ name: 'svc.yaml', text: REVIEWS_SERVICE.replace(', namespace: default', '') }]);
    assert.deepEqual(names(source.current()), ['Service/shop/reviews']);
  });

  it('stops notifying a listener that unsubscribed, and every listener once closed', async () => {
    const source = new MemoryConfigSource();
    const seen: number[] = [];
    const unsubscribe = source.subscribe((s) => seen.push(s.revision));
    const other: number[] = [];
    source.subscribe((s) => other.push(s.revision));
    source.apply([{ name: 'a.yaml', text: REVIEWS_SERVICE }]);
    unsubscribe();
    source.apply([{ name: 'b.yaml', text: virtualService('reviews') }]);
    await source.close();
    source.apply([{ name: 'c.yaml', text: virtualService('reviews', '1s') }]);
    assert.deepEqual(seen, [1]);
    assert.deepEqual(other, [1, 2]);
  });

  it('notifies every listener even when one throws, then throws its error', () => {
    const source = new MemoryConfigSource();
    const seen: number[] = [];
    source.subscribe(() => {
      throw new Error('subscriber bug');
    });
    source.subscribe((s) => seen.push(s.revision));
    assert.throws(() => source.apply([{ name: 'a.yaml', text: REVIEWS_SERVICE }]), /subscriber bug/);
    assert.deepEqual(seen, [1]);
    assert.equal(source.current().revision, 1);
  });
});
