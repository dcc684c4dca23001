import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { HTTPRoute } from '../../config/kinds/networking/virtual-service.ts';
import { mergeDelegateRoutes } from './delegate-merge.ts';

const to = (host: string): HTTPRoute['route'] => [{ destination: { host } }];

describe('mergeDelegateRoutes', () => {
  it('narrows each delegate route to the root match when the delegate has none', () => {
    const root: HTTPRoute = { match: [{ uri: { prefix: '/reviews' } }] };
    const merged = mergeDelegateRoutes(root, [{ route: to('reviews-v1') }]);
    assert.deepEqual(merged, [{ match: [{ uri: { prefix: '/reviews' } }], route: to('reviews-v1') }]);
  });

  it('keeps the delegate match when the root has none', () => {
    const merged = mergeDelegateRoutes({}, [{ match: [{ uri: { exact: '/a' } }], route: to('a') }]);
    assert.deepEqual(merged, [{ match: [{ uri: { exact: '/a' } }], route: to('a') }]);
  });

  it('keeps a delegate uri prefix or exact that lies within the root prefix', () => {
    const root: HTTPRoute = { match: [{ uri: { prefix: '/api' } }] };
    const merged = mergeDelegateRoutes(root, [
      { match: [{ uri: { prefix: '/api/v1' } }], route: to('v1') },
      { match: [{ uri: { exact: '/api/health' } }], route: to('health') },
    ]);
    assert.deepEqual(merged.map((r) => r.match), [[{ uri: { prefix: '/api/v1' } }], [{ uri: { exact: '/api/health' } }]]);
  });

  it('drops a delegate route whose uri lies outside the root match', () => {
    const root: HTTPRoute = { match: [{ uri: { prefix: '/api' } }] };
    assert.deepEqual(mergeDelegateRoutes(root, [{ match: [{ uri: { prefix: '/web' } }], route: to('web') }]), []);
    assert.deepEqual(mergeDelegateRoutes({ match: [{ uri: { exact: '/a' } }] }, [{ match: [{ uri: { prefix: '/a' } }], route: to('a') }]), []);
    assert.deepEqual(mergeDelegateRoutes({ match: [{ uri: { exact: '/a' } }] }, [{ match: [{ uri: { exact: '/b' } }], route: to('b') }]), []);
  });

  it('drops a delegate route when either side matches the uri by regex', () => {
    assert.deepEqual(mergeDelegateRoutes({ match: [{ uri: { regex: '/a.*' } }] }, [{ match: [{ uri: { prefix: '/a' } }], route: to('a') }]), []);
    assert.deepEqual(mergeDelegateRoutes({ match: [{ uri: { prefix: '/a' } }] }, [{ match: [{ uri: { regex: '/a.*' } }], route: to('a') }]), []);
  });

  it('drops a delegate route when one of its match blocks fits no root block', () => {
    const root: HTTPRoute = { match: [{ uri: { prefix: '/a' } }] };
    const merged = mergeDelegateRoutes(root, [{ match: [{ uri: { prefix: '/a/1' } }, { uri: { prefix: '/b' } }], route: to('x') }]);
    assert.deepEqual(merged, []);
  });

  it('merges a delegate block with every root block it fits (the conjunction, ORed)', () => {
    const root: HTTPRoute = { match: [{ headers: { env: { exact: 'prod' } } }, { headers: { env: { exact: 'test' } } }] };
    const merged = mergeDelegateRoutes(root, [{ match: [{ uri: { prefix: '/a' } }], route: to('a') }]);
    assert.deepEqual(merged[0]?.match, [
      { uri: { prefix: '/a' }, headers: { env: { exact: 'prod' } } },
      { uri: { prefix: '/a' }, headers: { env: { exact: 'test' } } },
    ]);
  });

  it('unions headers and query parameters, the delegate winning on the same key within the root', () => {
    const root: HTTPRoute = { match: [{ uri: { prefix: '/a' }, headers: { tenant: { prefix: 'acme' } }, queryParams: { debug: { exact: '1' } } }] };
    const merged = mergeDelegateRoutes(root, [{ match: [{ headers: { tenant: { exact: 'acme-eu' }, user: { exact: 'jason' } } }], route: to('a') }]);
    assert.deepEqual(merged[0]?.match, [{
      uri: { prefix: '/a' },
      headers: { tenant: { exact: 'acme-eu' }, user: { exact: 'jason' } },
      queryParams: { debug: { exact: '1' } },
    }]);
  });

  it('drops a delegate route that contradicts the root on a header, the port or ignoreUriCase', () => {
    const root: HTTPRoute = { match: [{ headers: { env: { exact: 'prod' } }, port: 80 }] };
    assert.deepEqual(mergeDelegateRoutes(root, [{ match: [{ headers: { env: { exact: 'test' } } }], route: to('a') }]), []);
    assert.deepEqual(mergeDelegateRoutes(root, [{ match: [{ port: 8080 }], route: to('a') }]), []);
    assert.deepEqual(mergeDelegateRoutes({ match: [{ uri: { prefix: '/' }, ignoreUriCase: true }] }, [{ match: [{ uri: { prefix: '/a' } }], route: to('a') }]), []);
  });

  it('takes what the delegate route leaves unset from the root route', () => {
    const root: HTTPRoute = {
      match: [{ uri: { prefix: '/a' } }],
      timeout: '5s',
      retries: { attempts: 3 },
      headers: { request: { set: { 'x-root': '1' } } },
    };
    const merged = mergeDelegateRoutes(root, [{ route: to('a'), timeout: '1s' }]);
    assert.equal(merged[0]?.timeout, '1s');
    assert.deepEqual(merged[0]?.retries, { attempts: 3 });
    assert.deepEqual(merged[0]?.headers, { request: { set: { 'x-root': '1' } } });
  });

  it('joins route and match names as root-delegate', () => {
    const root: HTTPRoute = { name: 'root', match: [{ name: 'api', uri: { prefix: '/a' } }] };
    const merged = mergeDelegateRoutes(root, [
      { name: 'one', match: [{ name: 'm', uri: { prefix: '/a/1' } }], route: to('a') },
      { route: to('b') },
    ]);
    assert.equal(merged[0]?.name, 'root-one');
    assert.equal(merged[0]?.match?.[0]?.name, 'api-m');
    assert.equal(merged[1]?.name, 'root');
    assert.equal(merged[1]?.match?.[0]?.name, 'api');
  });

  it('does not change the routes it reads', () => {
    const root: HTTPRoute = { match: [{ uri: { prefix: '/a' }, headers: { x: { exact: '1' } } }], timeout: '5s' };
    const delegate: HTTPRoute = { match: [{ uri: { prefix: '/a/b' } }], route: to('a') };
    const before = structuredClone([root, delegate]);
    mergeDelegateRoutes(root, [delegate]);
    assert.deepEqual([root, delegate], before);
  });
});
