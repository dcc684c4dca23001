import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertValidMessage } from '../../xds/index.ts';
import { hashPolicyFor } from './hash-policy.ts';

function hash(consistentHash: NonNullable<NonNullable<Parameters<typeof hashPolicyFor>[0]>['loadBalancer']>['consistentHash']) {
  const policy = hashPolicyFor({ loadBalancer: { consistentHash } });
  if (policy !== undefined) assertValidMessage('envoy.config.route.v3.RouteAction.HashPolicy', policy);
  return policy;
}

describe('hashPolicyFor', () => {
  it('hashes a header, a query parameter or the source IP', () => {
    assert.deepEqual(hash({ httpHeaderName: 'x-user' }), { header: { headerName: 'x-user' } });
    assert.deepEqual(hash({ httpQueryParameterName: 'session' }), { queryParameter: { name: 'session' } });
    assert.deepEqual(hash({ useSourceIp: true }), { connectionProperties: { sourceIp: true } });
  });

  it('hashes a cookie, generated with its TTL and path when the request lacks it', () => {
    assert.deepEqual(hash({ httpCookie: { name: 'user', path: '/', ttl: '1h' } }), { cookie: { name: 'user', ttl: '3600s', path: '/' } });
    assert.deepEqual(hash({ httpCookie: { name: 'session', ttl: '0s' } }), { cookie: { name: 'session', ttl: '0s' } });
    assert.deepEqual(hash({ httpCookie: { name: 'read-only' } }), { cookie: { name: 'read-only' } });
  });

  it('has nothing to hash without a consistent hash', () => {
    assert.equal(hashPolicyFor(undefined), undefined);
    assert.equal(hashPolicyFor({ loadBalancer: { simple: 'ROUND_ROBIN' } }), undefined);
  });
});
