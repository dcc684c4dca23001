import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { builtinKinds, resourceRef, type AnyResource, type ResourceRef } from '../config/index.ts';
import { builtinAnalyzers } from '../config/analysis/index.ts';
import { ok } from '../core/index.ts';
import { ConfigJournal } from './config-journal.ts';
import { JournaledConfigStore, type MutableConfig } from './journaled-config-store.ts';

/** The control plane's in-memory source, reduced to what the store drives (resources by kind, namespace and name). */
class ConfigInMemory implements MutableConfig {
  readonly #resources = new Map<string, AnyResource>();
  current() {
    return { resources: [...this.#resources.values()] };
  }
  apply(resources: readonly AnyResource[]) {
    const changes = resources.map((r) => {
      const existed = this.#resources.has(key(r));
      this.#resources.set(key(r), r);
      return { resource: resourceRef(r), action: existed ? 'configured' : 'created' };
    });
    return ok({ changes });
  }
  delete(refs: readonly ResourceRef[]) {
    const deleted = refs.filter((r) => this.#resources.delete(key(r)));
    return ok({ deleted, notFound: refs.filter((r) => !deleted.includes(r)) });
  }
}

function key(r: ResourceRef): string {
  return `${r.kind}/${r.namespace}/${r.name}`;
}

const SERVICE = `apiVersion: v1
kind: Service
metadata: {name: reviews}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
`;

const VIRTUAL_SERVICE = (weight: number) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
      weight: ${weight}
`;

describe('JournaledConfigStore', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-journal-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  function store(name: string): { store: JournaledConfigStore; config: ConfigInMemory } {
    const kinds = builtinKinds();
    const analyzers = builtinAnalyzers();
    const config = new ConfigInMemory();
    return { store: new JournaledConfigStore({ config, journal: new ConfigJournal(join(dir, name)), kinds, analyzers }), config };
  }

  it('applies valid files and replays them, deletes included, into a fresh store', () => {
    const first = store('replay.jsonl');
    assert.ok(first.store.apply([{ name: '/app/reviews.yaml', text: SERVICE }]).ok);
    assert.ok(first.store.apply([{ name: '/app/vs.yaml', text: VIRTUAL_SERVICE(100) }]).ok);
    assert.ok(first.store.delete([{ kind: 'VirtualService', namespace: 'default', name: 'reviews' }]).ok);
    const second = store('replay.jsonl');
    assert.deepEqual(second.store.replay(), []);
    assert.deepEqual(second.config.current().resources.map((r) => `${r.kind}/${r.name}@${r.origin.file}`), ['Service/reviews@/app/reviews.yaml']);
  });

  it('refuses a file with an error whole, naming file, line and field, and changes nothing', () => {
    const { store: s, config } = store('refuse.jsonl');
    assert.ok(s.apply([{ name: 'svc.yaml', text: SERVICE }]).ok);
    const refused = s.apply([{ name: 'vs.yaml', text: VIRTUAL_SERVICE(250) }, { name: 'other.yaml', text: SERVICE.replace('reviews', 'ratings').replace('reviews', 'ratings') }]);
    assert.ok(!refused.ok);
    assert.equal(refused.error[0]?.origin?.file, 'vs.yaml');
    assert.equal(refused.error[0]?.origin?.line, 9);
    assert.match(refused.error[0]?.path ?? '', /weight/);
    assert.deepEqual(config.current().resources.map((r) => r.name), ['reviews']);
    assert.equal(store('refuse.jsonl').store.replay().length, 0);
  });

  it('refuses a change whose analysis finds an error in what it touches, and keeps the rest', () => {
    const { store: s, config } = store('analysis.jsonl');
    assert.ok(s.apply([{ name: 'svc.yaml', text: SERVICE }]).ok);
    const refused = s.apply([{ name: 'vs.yaml', text: VIRTUAL_SERVICE(100).replace('destination: {host: reviews}', 'destination: {host: nothere}') }]);
    assert.ok(!refused.ok);
    assert.match(refused.error.map((d) => d.message).join('\n'), /Referenced host not found: "nothere"/);
    assert.deepEqual(config.current().resources.map((r) => r.kind), ['Service']);
  });
});
