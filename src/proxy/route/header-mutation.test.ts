import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HeaderAppendAction, HeaderValueOption, RouteConfiguration } from '../../xds/envoy/index.ts';
import type { Headers } from '../http/headers.ts';
import { compileRouteConfiguration } from './compile-route-configuration.ts';
import { applyHeaderMutation, composeHeaderLevels, parseHeaderLevel, type HeaderLevel } from './header-mutation.ts';
import { Problems } from './problems.ts';
import type { RouteEntry } from './route-entry.ts';

function entry(config: Omit<RouteConfiguration, 'name'>): RouteEntry {
  const result = compileRouteConfiguration({ name: 'rc', ...config }, { perFilterConfigParsers: new Map() });
  if (!result.ok) throw new Error(result.error);
  const found = result.value.match({ method: 'GET', path: '/', authority: 'a.com', scheme: 'http', headers: {} }, 0);
  if (found === undefined) throw new Error('no route');
  return found;
}

function add(key: string, value: string, appendAction?: HeaderAppendAction): HeaderValueOption {
  return { header: { key, value }, ...(appendAction !== undefined ? { appendAction } : {}) };
}

function applied(headers: Headers, mutation: RouteEntry['requestHeaders']): Headers {
  const copy = { ...headers };
  applyHeaderMutation(copy, mutation);
  return copy;
}

describe('applyHeaderMutation', () => {
  it('removes, then sets, overwrites if present, adds if absent and appends, judging presence after removal', () => {
    const headers: Headers = { 'x-gone': '1', 'x-set': 'old', 'x-if-present': 'old', 'x-append': 'a', 'x-if-absent': 'kept' };
    applyHeaderMutation(headers, {
      remove: ['x-gone', 'x-new-if-absent-after-removal'],
      set: [['x-set', 'new']],
      overwriteIfExists: [['x-if-present', 'new'], ['x-missing', 'ignored']],
      addIfAbsent: [['x-if-absent', 'ignored'], ['x-fresh', 'added']],
      append: [['x-append', 'b'], ['x-other', 'c']],
    });
    assert.deepEqual(headers, { 'x-set': 'new', 'x-if-present': 'new', 'x-append': ['a', 'b'], 'x-if-absent': 'kept', 'x-fresh': 'added', 'x-other': 'c' });
  });

  it('adds if absent a header that this mutation removed', () => {
    assert.deepEqual(applied({ 'x-a': 'old' }, { remove: ['x-a'], set: [], append: [], addIfAbsent: [['x-a', 'new']] }), { 'x-a': 'new' });
  });

  it('leaves the headers alone for an empty mutation', () => {
    const headers: Headers = { a: '1' };
    applyHeaderMutation(headers, { remove: [], set: [], append: [], addIfAbsent: [] });
    assert.deepEqual(headers, { a: '1' });
  });
});

describe('header changes of a route, its virtual host and its route configuration', () => {
  it('apply the route\'s first, so the route configuration\'s win, as Envoy orders them by default', () => {
    const e = entry({
      requestHeadersToAdd: [add('x-level', 'config', 'OVERWRITE_IF_EXISTS_OR_ADD')],
      virtualHosts: [{
        name: 'vh',
        domains: ['*'],
        requestHeadersToAdd: [add('x-level', 'vhost', 'OVERWRITE_IF_EXISTS_OR_ADD'), add('x-tag', 'vhost')],
        routes: [{ match: { prefix: '/' }, route: { cluster: 'c' }, requestHeadersToAdd: [add('x-level', 'route', 'OVERWRITE_IF_EXISTS_OR_ADD'), add('x-tag', 'route')] }],
      }],
    });
    assert.deepEqual(applied({ 'x-tag': 'client' }, e.requestHeaders), { 'x-level': 'config', 'x-tag': ['client', 'route', 'vhost'] });
  });

  it('let a less specific level remove what the route added, and add-if-absent nothing the route already set', () => {
    const e = entry({
      responseHeadersToRemove: ['x-debug'],
      virtualHosts: [{
        name: 'vh',
        domains: ['*'],
        responseHeadersToAdd: [add('x-cache', 'vhost', 'ADD_IF_ABSENT')],
        routes: [{ match: { prefix: '/' }, route: { cluster: 'c' }, responseHeadersToAdd: [add('x-debug', 'on'), add('x-cache', 'route')] }],
      }],
    });
    assert.deepEqual(e.responseHeaders, { remove: ['x-debug'], set: [], append: [['x-cache', 'route']], addIfAbsent: [] });
    assert.deepEqual(applied({ 'x-debug': 'upstream' }, e.responseHeaders), { 'x-cache': 'route' });
  });

  it('take the deprecated append flag, skip empty values unless kept, and lower-case names', () => {
    const e = entry({
      virtualHosts: [{
        name: 'vh',
        domains: ['*'],
        routes: [{
          match: { prefix: '/' },
          route: { cluster: 'c' },
          requestHeadersToAdd: [
            { header: { key: 'X-Replace', value: 'one' }, append: false },
            { header: { key: 'x-add', value: 'two' }, append: true },
            { header: { key: 'x-empty', value: '' } },
            { header: { key: 'x-kept-empty', value: '' }, keepEmptyValue: true },
            { header: { key: 'x-client', value: '%DOWNSTREAM_REMOTE_ADDRESS%' } },
          ],
        }],
      }],
    });
    assert.deepEqual(e.requestHeaders, {
      remove: [],
      set: [['x-replace', 'one']],
      append: [['x-add', 'two'], ['x-kept-empty', ''], ['x-client', '%DOWNSTREAM_REMOTE_ADDRESS%']],
      addIfAbsent: [],
    });
  });

  it('keep overwrite-if-exists conditional on the header the request brought', () => {
    const e = entry({
      virtualHosts: [{
        name: 'vh',
        domains: ['*'],
        requestHeadersToAdd: [add('x-env', 'vhost')],
        routes: [{ match: { prefix: '/' }, route: { cluster: 'c' }, requestHeadersToAdd: [add('x-env', 'route', 'OVERWRITE_IF_EXISTS')] }],
      }],
    });
    assert.deepEqual(applied({}, e.requestHeaders), { 'x-env': 'vhost' });
    assert.deepEqual(applied({ 'x-env': 'client' }, e.requestHeaders), { 'x-env': ['route', 'vhost'] });
  });
});

/** Envoy's HeaderParser, one level at a time: the reference the composed mutation must agree with. */
function envoyApply(headers: Map<string, string[]>, level: HeaderLevel): void {
  for (const name of level.remove) headers.delete(name);
  const overwrite: [string, string][] = [];
  const adds: [string, string][] = [];
  for (const { name, value, action } of level.add) {
    const there = (headers.get(name) ?? []).length > 0;
    if (action === 'APPEND_IF_EXISTS_OR_ADD' || (action === 'ADD_IF_ABSENT' && !there)) adds.push([name, value]);
    else if (action === 'OVERWRITE_IF_EXISTS_OR_ADD' || (action === 'OVERWRITE_IF_EXISTS' && there)) overwrite.push([name, value]);
  }
  for (const [name, value] of overwrite) headers.set(name, [value]);
  for (const [name, value] of adds) headers.set(name, [...(headers.get(name) ?? []), value]);
}

describe('composeHeaderLevels', () => {
  it('has the effect of applying the levels one by one, for headers present or absent beforehand', () => {
    const actions: HeaderAppendAction[] = ['APPEND_IF_EXISTS_OR_ADD', 'ADD_IF_ABSENT', 'OVERWRITE_IF_EXISTS_OR_ADD', 'OVERWRITE_IF_EXISTS'];
    let seed = 7;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      // The low bits of this generator repeat quickly; the high ones do not.
      return Math.floor(seed / 65536) % n;
    };
    for (let round = 0; round < 3000; round++) {
      const levels: HeaderLevel[] = [];
      for (let l = 0, count = 1 + next(4); l < count; l++) {
        const remove = next(3) === 0 ? ['h'] : [];
        const add: { name: string; value: string; action: HeaderAppendAction }[] = [];
        let appended = false;
        for (let e = 0, entries = next(4); e < entries; e++) {
          let action = actions[next(4)]!;
          // Within one level, Envoy lists an add-if-absent after an append in list order; a mutation puts it first.
          if (action === 'ADD_IF_ABSENT' && appended) action = 'APPEND_IF_EXISTS_OR_ADD';
          if (action === 'APPEND_IF_EXISTS_OR_ADD') appended = true;
          add.push({ name: next(4) === 0 ? 'other' : 'h', value: `v${round}.${l}.${e}`, action });
        }
        levels.push({ remove, add });
      }
      const mutation = composeHeaderLevels(levels);
      for (const start of [{}, { h: 'original', other: 'o' }] as Headers[]) {
        const expected = new Map(Object.entries(start).map(([k, v]) => [k, [v as string]]));
        for (const level of levels) envoyApply(expected, level);
        const actual = applied(start, mutation);
        const asLists = Object.fromEntries(Object.entries(actual).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));
        assert.deepEqual(asLists, Object.fromEntries([...expected].filter(([, v]) => v.length > 0)), `levels ${JSON.stringify(levels)} from ${JSON.stringify(start)}`);
      }
    }
  });

  it('records each header that cannot be sent, with its path', () => {
    const problems = new Problems('P: ');
    parseHeaderLevel([{ header: { key: 'x\r', value: 'v' } }, { header: { key: 'x', value: 'a\nb' } }, { header: { key: '', value: 'v' } }], [''], 'add', 'remove', problems);
    assert.equal(problems.text(), [
      'P: add[0].header.key: must not contain NUL, CR or LF',
      'P: add[1].header.value: must not contain NUL, CR or LF',
      'P: add[2].header.key: must not be empty',
      'P: remove[0]: must not be empty',
    ].join('\n'));
  });
});
