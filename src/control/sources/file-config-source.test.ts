import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatDiagnostic, type Level } from '../../config/index.ts';
import type { ConfigSource, ConfigState } from './config-source.ts';
import { FileConfigSource, type FileConfigSourceOptions, type Timers } from './file-config-source.ts';

function service(name: string, port = 9080): string {
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: default}
spec:
  selector: {app: ${name}}
  ports: [{name: http, port: ${port}}]
`;
}

function virtualService(name: string, timeout = '5s', host = name): string {
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

/** Resolves with the next state `source` announces, or rejects after `ms`. */
function nextChange(source: ConfigSource, ms = 2000): Promise<ConfigState> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`no change within ${ms} ms`));
    }, ms);
    const unsubscribe = source.subscribe((state) => {
      clearTimeout(timer);
      unsubscribe();
      resolve(state);
    });
  });
}

/** Timers that fire only when the test advances time. */
class FakeTimers implements Timers {
  #now = 0;
  #next = 0;
  readonly #pending = new Map<number, { at: number; callback: () => void }>();

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#pending.set(id, { at: this.#now + ms, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#pending.delete(handle as number);
  }

  get pending(): number {
    return this.#pending.size;
  }

  advance(ms: number): void {
    this.#now += ms;
    for (const [id, timer] of [...this.#pending].sort(([, a], [, b]) => a.at - b.at)) {
      if (timer.at > this.#now) continue;
      this.#pending.delete(id);
      timer.callback();
    }
  }
}

/** A watcher the test triggers by hand. */
function fakeWatch(): { watch: NonNullable<FileConfigSourceOptions['watch']>; fire: () => void; closed: () => boolean } {
  let onChange: (() => void) | undefined;
  let closed = false;
  return {
    watch: (_directory, change) => {
      onChange = change;
      return { close: () => { closed = true; } };
    },
    fire: () => onChange?.(),
    closed: () => closed,
  };
}

describe('FileConfigSource', () => {
  let directory: string;
  let logged: string[];
  const sources: FileConfigSource[] = [];
  const write = (file: string, text: string): void => writeFileSync(join(directory, file), text);
  const open = (options: Partial<FileConfigSourceOptions> = {}): FileConfigSource => {
    const source = new FileConfigSource({
      directory,
      watch: false,
      log: (level: Level, message: string) => logged.push(`${level}: ${message}`),
      ...options,
    });
    sources.push(source);
    return source;
  };
  const started = (options: Partial<FileConfigSourceOptions> = {}): FileConfigSource => {
    const source = open(options);
    const result = source.start();
    assert.ok(result.ok, result.ok ? '' : result.error);
    return source;
  };

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'weft-file-source-'));
    logged = [];
  });
  afterEach(async () => {
    await Promise.all(sources.splice(0).map((s) => s.close()));
    rmSync(directory, { recursive: true, force: true });
  });

  describe('reading', () => {
    it('reads YAML and JSON files below the directory, in file name order', () => {
      mkdirSync(join(directory, 'shop'));
      write('b.yaml', service('ratings'));
      write('a.yml', service('reviews'));
      write(join('shop', 'orders.json'), JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'orders', namespace: 'shop' }, spec: { ports: [{ name: 'http', port: 80 }] } }));
      write('notes.txt', 'not config');
      write('.hidden.yaml', service('hidden'));
      const source = started();
      assert.deepEqual(names(source.current()), ['Service/default/reviews', 'Service/default/ratings', 'Service/shop/orders']);
      assert.equal(source.current().revision, 1);
      assert.deepEqual(source.current().diagnostics, []);
    });

    it('fails to start on a directory that does not exist', () => {
      const source = open({ directory: join(directory, 'missing') });
      const result = source.start();
      assert.ok(!result.ok);
      assert.equal(result.error, `${join(directory, 'missing')}: no such file or directory`);
    });

    it('starts empty, at revision 0, from an empty directory', () => {
      const source = started();
      assert.deepEqual(source.current(), { revision: 0, resources: [], diagnostics: [] });
    });
  });

  describe('a bad edit', () => {
    it('keeps the last good version of a file that fails validation, and reports why', () => {
      write('reviews.yaml', `${service('reviews')}---\n${virtualService('reviews')}`);
      const source = started();
      const good = source.current();
      write('reviews.yaml', `${service('reviews')}---\n${virtualService('reviews', 'soon')}`);
      const state = source.reload();
      assert.equal(state.revision, 2);
      assert.equal(state.resources.length, 2);
      assert.equal(state.resources[0], good.resources[0]);
      assert.equal(state.resources[1], good.resources[1]);
      const file = join(directory, 'reviews.yaml');
      const error = `Error [WFT0106] (VirtualService default/reviews ${file}:14:14) spec.http[0].timeout: "soon" is not a duration (expected a number with a unit: ns, us, ms, s, m, h, e.g. "1.5s" or "100ms")`;
      assert.deepEqual(state.diagnostics.map(formatDiagnostic), [error]);
      assert.deepEqual(logged, [`Error: ${file}: not applied, 1 error; keeping its last good version (2 resources)`, `Error: ${error}`]);
    });

    it('skips the whole file, not only the resource in error', () => {
      write('reviews.yaml', service('reviews'));
      const source = started();
      write('reviews.yaml', `${service('reviews', 9090)}---\n${virtualService('reviews', 'soon')}`);
      const state = source.reload();
      const svc = state.resources[0];
      assert.ok(svc?.kind === 'Service');
      assert.equal(svc.object.spec?.ports?.[0]?.port, 9080);
      assert.deepEqual(names(state), ['Service/default/reviews']);
    });

    it('applies the file again once it is fixed, and clears its diagnostics', () => {
      write('reviews.yaml', virtualService('reviews'));
      write('svc.yaml', service('reviews'));
      const source = started();
      write('reviews.yaml', virtualService('reviews', 'soon'));
      source.reload();
      write('reviews.yaml', virtualService('reviews', '9s'));
      const state = source.reload();
      assert.equal(state.revision, 3);
      assert.deepEqual(state.diagnostics, []);
      const vs = state.resources[0];
      assert.ok(vs?.kind === 'VirtualService');
      assert.equal(vs.object.spec.http?.[0]?.timeout, '9s');
    });

    it('reports a file that was never valid and takes nothing from it', () => {
      write('svc.yaml', service('reviews'));
      write('broken.yaml', 'kind: [unclosed\n');
      const source = started();
      assert.deepEqual(names(source.current()), ['Service/default/reviews']);
      assert.deepEqual(source.current().diagnostics.map((d) => d.code), ['WFT0106']);
      assert.equal(logged[0], `Error: ${join(directory, 'broken.yaml')}: not applied, 1 error; it has no good version to keep`);
    });

    it('logs a refused file once, not on every rescan', () => {
      write('broken.yaml', virtualService('reviews', 'soon'));
      const source = started();
      const count = logged.length;
      write('other.yaml', service('reviews'));
      source.reload();
      source.reload();
      assert.equal(logged.length, count);
    });
  });

  describe('changes', () => {
    it('withdraws the resources of a deleted file', () => {
      write('a.yaml', service('reviews'));
      write('b.yaml', service('ratings'));
      const source = started();
      unlinkSync(join(directory, 'b.yaml'));
      const state = source.reload();
      assert.deepEqual(names(state), ['Service/default/reviews']);
      assert.equal(state.revision, 2);
      assert.deepEqual(logged, [`Info: ${join(directory, 'b.yaml')}: removed; withdrawing its 1 resource`]);
    });

    it('withdraws a deleted file even when its last version was refused', () => {
      write('a.yaml', service('reviews'));
      const source = started();
      write('a.yaml', 'kind: [unclosed\n');
      source.reload();
      unlinkSync(join(directory, 'a.yaml'));
      const state = source.reload();
      assert.deepEqual(state.resources, []);
      assert.deepEqual(state.diagnostics, []);
    });

    it('keeps the first file by name when files define the same resource, and reports WFT0115', () => {
      write('a.yaml', service('reviews', 9080));
      write('b.yaml', `${service('reviews', 9090)}---\n${service('ratings')}`);
      const source = started();
      const state = source.current();
      assert.deepEqual(names(state), ['Service/default/reviews', 'Service/default/ratings']);
      const svc = state.resources[0];
      assert.ok(svc?.kind === 'Service');
      assert.equal(svc.object.spec?.ports?.[0]?.port, 9080);
      assert.deepEqual(state.diagnostics.map(formatDiagnostic), [
        `Error [WFT0115] (Service default/reviews ${join(directory, 'b.yaml')}:1) Service default/reviews is defined twice; the definition at ${join(directory, 'a.yaml')}:1 is kept`,
      ]);
      unlinkSync(join(directory, 'a.yaml'));
      const after = source.reload();
      const moved = after.resources[0];
      assert.ok(moved?.kind === 'Service');
      assert.equal(moved.object.spec?.ports?.[0]?.port, 9090);
      assert.deepEqual(after.diagnostics, []);
    });

    it('reports analyzer findings without skipping the file', () => {
      write('vs.yaml', virtualService('ratings'));
      const source = started();
      assert.deepEqual(names(source.current()), ['VirtualService/default/ratings']);
      const finding = `Error [WFT0101] (VirtualService default/ratings ${join(directory, 'vs.yaml')}:9) Referenced host not found: "ratings"`;
      assert.deepEqual(source.current().diagnostics.map(formatDiagnostic), [finding]);
      assert.deepEqual(logged, [`Error: ${finding}`]);
    });

    it('does not notify when a rescan finds nothing new, or only a comment changed', () => {
      write('a.yaml', service('reviews'));
      const source = started();
      let notified = 0;
      source.subscribe(() => notified++);
      source.reload();
      write('a.yaml', service('reviews'));
      source.reload();
      write('a.yaml', `# owned by the reviews team\n${service('reviews')}`);
      source.reload();
      write('a.yaml', `# owned by the reviews team\n${service('reviews', 9090)}`);
      source.reload();
      assert.equal(notified, 1);
      assert.equal(source.current().revision, 2);
    });

    it('keeps serving what it read last when the directory itself disappears', () => {
      write('a.yaml', service('reviews'));
      const source = started();
      rmSync(directory, { recursive: true });
      const state = source.reload();
      assert.deepEqual(names(state), ['Service/default/reviews']);
      assert.equal(state.revision, 1);
      assert.deepEqual(logged, [`Error: ${directory}: no such file or directory; keeping the configuration read last`]);
    });

    it('reports a subscriber that throws instead of letting it stop the source', () => {
      const source = started();
      source.subscribe(() => {
        throw new Error('subscriber bug');
      });
      write('a.yaml', service('reviews'));
      assert.equal(source.reload().revision, 1);
      assert.deepEqual(logged, ['Error: a configuration subscriber failed: subscriber bug']);
    });
  });

  describe('watching', () => {
    it('reads the directory once after a burst of events has been quiet for the debounce time', () => {
      const timers = new FakeTimers();
      const watcher = fakeWatch();
      write('a.yaml', service('reviews'));
      const source = started({ timers, watch: watcher.watch, debounceMs: 50 });
      const revisions: number[] = [];
      source.subscribe((s) => revisions.push(s.revision));

      write('b.yaml', service('ratings'));
      watcher.fire();
      timers.advance(30);
      write('c.yaml', service('details'));
      watcher.fire();
      timers.advance(30);
      assert.deepEqual(revisions, []);
      timers.advance(20);
      assert.deepEqual(revisions, [2]);
      assert.deepEqual(names(source.current()), ['Service/default/reviews', 'Service/default/ratings', 'Service/default/details']);
      assert.equal(timers.pending, 0);
    });

    it('reads a change waiting for its debounce when reload() is called', () => {
      const timers = new FakeTimers();
      const watcher = fakeWatch();
      const source = started({ timers, watch: watcher.watch });
      write('a.yaml', service('reviews'));
      watcher.fire();
      assert.equal(source.reload().revision, 1);
      assert.equal(timers.pending, 0);
    });

    it('stops watching and drops a waiting change when closed', async () => {
      const timers = new FakeTimers();
      const watcher = fakeWatch();
      const source = started({ timers, watch: watcher.watch });
      write('a.yaml', service('reviews'));
      watcher.fire();
      await source.close();
      assert.ok(watcher.closed());
      assert.equal(timers.pending, 0);
      watcher.fire();
      assert.equal(timers.pending, 0);
      assert.equal(source.current().revision, 0);
    });

    it('notices files written, broken and deleted with the real file watcher', async () => {
      write('a.yaml', service('reviews'));
      // `watch: undefined` replaces the tests' default of no watcher with fs.watch.
      const source = started({ watch: undefined, debounceMs: 20 });

      let change = nextChange(source);
      write('b.yaml', service('ratings'));
      assert.deepEqual(names(await change), ['Service/default/reviews', 'Service/default/ratings']);

      change = nextChange(source);
      write('b.yaml', 'kind: [unclosed\n');
      const broken = await change;
      assert.deepEqual(names(broken), ['Service/default/reviews', 'Service/default/ratings']);
      assert.deepEqual(broken.diagnostics.map((d) => d.code), ['WFT0106']);

      change = nextChange(source);
      unlinkSync(join(directory, 'b.yaml'));
      assert.deepEqual(names(await change), ['Service/default/reviews']);
    });
  });
});
