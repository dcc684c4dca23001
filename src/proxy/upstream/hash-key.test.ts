import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HashPolicy } from '../../xds/envoy/index.ts';
import type { RequestHead } from '../http/exchange.ts';
import { generatedCookie, requestHash, type HashDownstream } from './hash-key.ts';
import { xxHash64 } from './xx-hash64.ts';

const downstream: HashDownstream = { remoteAddress: '10.1.1.1', remotePort: 40000, localAddress: '10.2.2.2', localPort: 8080 };

function head(partial: Partial<RequestHead> = {}): RequestHead {
  return { method: 'GET', path: '/', authority: 'shop.example', scheme: 'http', headers: {}, protocol: 'HTTP/1.1', ...partial };
}

const rotl1 = (h: bigint): bigint => ((h << 1n) | (h >> 63n)) & ((1n << 64n) - 1n);

describe('requestHash', () => {
  it('has no hash without policies', () => {
    assert.deepEqual(requestHash([], head(), downstream), { hash: undefined, setCookies: [] });
  });

  it('hashes a header value with xxHash64, as Envoy does', () => {
    const result = requestHash([{ header: { headerName: 'X-User' } }], head({ headers: { 'x-user': 'foo' } }), downstream);
    assert.equal(result.hash, 3728699739546630719n);
  });

  it('adds nothing for an absent header', () => {
    assert.equal(requestHash([{ header: { headerName: 'x-user' } }], head(), downstream).hash, undefined);
  });

  it('hashes several values of a header the same in any order', () => {
    const policies: HashPolicy[] = [{ header: { headerName: 'x-tag' } }];
    const ab = requestHash(policies, head({ headers: { 'x-tag': ['foo', 'bar'] } }), downstream).hash;
    const ba = requestHash(policies, head({ headers: { 'x-tag': ['bar', 'foo'] } }), downstream).hash;
    assert.equal(ab, ba);
    // Sorted, each value's hash seeds the next (Envoy's hash of a list: 17745830980996999794 for "foo", "bar").
    assert.equal(ab, xxHash64('foo', xxHash64('bar')));
  });

  it('reads pseudo-headers from the request head', () => {
    assert.equal(requestHash([{ header: { headerName: ':authority' } }], head(), downstream).hash, xxHash64('shop.example'));
    assert.equal(requestHash([{ header: { headerName: ':path' } }], head({ path: '/cart' }), downstream).hash, xxHash64('/cart'));
  });

  it('hashes a cookie by value, without its quotes', () => {
    const policies: HashPolicy[] = [{ cookie: { name: 'session', ttl: '3600s' } }];
    const result = requestHash(policies, head({ headers: { cookie: 'theme=dark; session="abc123"' } }), downstream);
    assert.deepEqual(result, { hash: xxHash64('abc123'), setCookies: [] });
    const split = requestHash(policies, head({ headers: { cookie: ['theme=dark', 'session=abc123'] } }), downstream);
    assert.equal(split.hash, xxHash64('abc123'));
  });

  it('adds nothing for an absent cookie without a ttl', () => {
    assert.deepEqual(requestHash([{ cookie: { name: 'session' } }], head(), downstream), { hash: undefined, setCookies: [] });
  });

  it('generates an absent cookie that has a ttl, hashes it, and asks for it to be set', () => {
    const result = requestHash([{ cookie: { name: 'session', ttl: '3600s', path: '/' } }], head(), downstream);
    const value = xxHash64('10.1.1.1:40000' + '10.2.2.2:8080').toString(16).padStart(16, '0');
    assert.deepEqual(result, { hash: xxHash64(value), setCookies: [`session="${value}"; Max-Age=3600; Path=/; HttpOnly`] });
    // The next request, carrying the cookie, hashes the same.
    assert.equal(requestHash([{ cookie: { name: 'session', ttl: '3600s', path: '/' } }], head({ headers: { cookie: `session="${value}"` } }), downstream).hash, result.hash);
  });

  it('generates a session cookie for a ttl of 0s', () => {
    assert.deepEqual(requestHash([{ cookie: { name: 'sticky', ttl: '0s' } }], head(), downstream).setCookies, [
      `sticky="${generatedCookie('sticky', '', 0, downstream).value}"; HttpOnly`,
    ]);
  });

  it('hashes the source IP without its port', () => {
    assert.equal(requestHash([{ connectionProperties: { sourceIp: true } }], head(), downstream).hash, xxHash64('10.1.1.1'));
  });

  it('hashes the first value of a query parameter as written', () => {
    const policies: HashPolicy[] = [{ queryParameter: { name: 'user' } }];
    assert.equal(requestHash(policies, head({ path: '/a?x=1&user=a%20b&user=c' }), downstream).hash, xxHash64('a%20b'));
    assert.equal(requestHash(policies, head({ path: '/a?user' }), downstream).hash, xxHash64(''));
    assert.equal(requestHash(policies, head({ path: '/a?username=x' }), downstream).hash, undefined);
  });

  it('combines policies in order, rotating the previous value', () => {
    const policies: HashPolicy[] = [{ header: { headerName: 'x-a' } }, { header: { headerName: 'x-b' } }];
    const result = requestHash(policies, head({ headers: { 'x-a': 'one', 'x-b': 'two' } }), downstream);
    assert.equal(result.hash, rotl1(xxHash64('one')) ^ xxHash64('two'));
  });

  it('stops at a terminal policy that produced a value, and goes on past one that did not', () => {
    const policies: HashPolicy[] = [{ header: { headerName: 'x-a' }, terminal: true }, { header: { headerName: 'x-b' } }];
    assert.equal(requestHash(policies, head({ headers: { 'x-a': 'one', 'x-b': 'two' } }), downstream).hash, xxHash64('one'));
    assert.equal(requestHash(policies, head({ headers: { 'x-b': 'two' } }), downstream).hash, xxHash64('two'));
  });

  it('ignores filter state, which the proxy does not keep', () => {
    assert.equal(requestHash([{ filterState: { key: 'k' } }], head(), downstream).hash, undefined);
  });
});

describe('generatedCookie', () => {
  it('brackets IPv6 addresses as Envoy writes them', () => {
    const v6 = generatedCookie('s', '/app', 60, { remoteAddress: 'fd00::1', remotePort: 1, localAddress: 'fd00::2', localPort: 2 });
    assert.equal(v6.value, xxHash64('[fd00::1]:1[fd00::2]:2').toString(16).padStart(16, '0'));
    assert.equal(v6.setCookie, `s="${v6.value}"; Max-Age=60; Path=/app; HttpOnly`);
  });
});
