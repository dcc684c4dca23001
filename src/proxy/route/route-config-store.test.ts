import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TypeUrl, type ProtoJson } from '../../xds/index.ts';
import type { RouteConfiguration } from '../../xds/envoy/index.ts';
import type { RouteRequest } from './route-entry.ts';
import { RouteConfigStore } from './route-config-store.ts';

function config(name: string, cluster: string, regex = '/.*'): ProtoJson {
  const rc: RouteConfiguration = { name, virtualHosts: [{ name: 'vh', domains: ['*'], routes: [{ name: 'r', match: { safeRegex: { regex } }, route: { cluster } }] }] };
  return rc as unknown as ProtoJson;
}

function update(version: string, resources: Record<string, ProtoJson>, removed: string[] = []): { resources: Map<string, ProtoJson>; removed: string[]; version: string } {
  return { resources: new Map(Object.entries(resources)), removed, version };
}

const REQUEST: RouteRequest = { method: 'GET', path: '/x', authority: 'a', scheme: 'http', headers: {} };

function clusterOf(store: RouteConfigStore, name: string): string | undefined {
  const action = store.get(name)?.match(REQUEST, 0)?.action;
  return action?.kind === 'forward' ? action.pickCluster(0).name : undefined;
}

function newStore(): { store: RouteConfigStore; clock: { now(): number; time: number } } {
  const clock = { time: 1_000, now(): number { return this.time; } };
  return { store: new RouteConfigStore({ clock, perFilterConfigParsers: new Map() }), clock };
}

describe('RouteConfigStore', () => {
  it('handles RDS and serves the tables it compiled', () => {
    const { store } = newStore();
    assert.equal(store.typeUrl, TypeUrl.RouteConfiguration);
    assert.deepEqual(store.apply(update('1', { '80': config('80', 'a'), '9080': config('9080', 'b') })), { ok: true, value: undefined });
    assert.equal(clusterOf(store, '80'), 'a');
    assert.equal(clusterOf(store, '9080'), 'b');
    assert.equal(store.get('8080'), undefined);
  });

  it('applies an update whole or not at all, keeping the last good tables and saying what is wrong', () => {
    const { store } = newStore();
    store.apply(update('1', { '80': config('80', 'a'), '9080': config('9080', 'b') }));
    const before = store.get('80');
    const result = store.apply(update('2', { '80': config('80', 'changed'), '9080': config('9080', 'b', '/(') }));
    assert.deepEqual(result, {
      ok: false,
      error: 'RouteConfiguration "9080", virtual host "vh": virtualHosts[0].routes[0].match.safeRegex.regex: "/(" is not an RE2 regular expression: missing closing ): `/(`',
    });
    assert.equal(store.get('80'), before);
    assert.equal(clusterOf(store, '80'), 'a');
    assert.equal(store.dump().find((d) => d.name === '80')?.version, '1');
  });

  it('refuses a configuration sent under another name', () => {
    const { store } = newStore();
    assert.deepEqual(store.apply(update('1', { '80': config('81', 'a') })), {
      ok: false,
      error: 'RouteConfiguration "80": its name is "81"; a resource\'s name must be the one it is sent under',
    });
  });

  it('tells subscribers which tables changed: new, different or removed, not those sent again unchanged', () => {
    const { store } = newStore();
    const seen: string[][] = [];
    const stop = store.subscribe((names) => seen.push([...names].sort()));
    store.apply(update('1', { '80': config('80', 'a'), '9080': config('9080', 'b') }));
    const unchanged = store.get('80');
    store.apply(update('2', { '80': config('80', 'a'), '9080': config('9080', 'c') }));
    assert.equal(store.get('80'), unchanged, 'an unchanged configuration keeps its table');
    store.apply(update('3', {}, ['9080', 'never-had']));
    store.apply(update('4', { '80': config('80', 'a') }));
    stop();
    store.apply(update('5', { '80': config('80', 'z') }));
    assert.deepEqual(seen, [['80', '9080'], ['9080'], ['9080']]);
    assert.equal(store.get('9080'), undefined);
    assert.equal(clusterOf(store, '80'), 'z');
  });

  it('dumps every configuration with the version and time of the update that last carried it', () => {
    const { store, clock } = newStore();
    store.apply(update('1', { '9080': config('9080', 'b'), '80': config('80', 'a') }));
    clock.time = 5_000;
    store.apply(update('2', { '80': config('80', 'a') }));
    assert.deepEqual(store.dump(), [
      { name: '80', version: '2', lastUpdated: 5_000, config: config('80', 'a') },
      { name: '9080', version: '1', lastUpdated: 1_000, config: config('9080', 'b') },
    ]);
  });
});
