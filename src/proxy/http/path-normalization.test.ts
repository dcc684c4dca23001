import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeRequestPath, type PathNormalization } from './path-normalization.ts';

const NONE: PathNormalization = { normalizePath: false, mergeSlashes: false, escapedSlashes: 'KEEP_UNCHANGED' };
const RFC: PathNormalization = { ...NONE, normalizePath: true };

describe('request path normalization', () => {
  it('leaves the path alone when nothing is configured', () => {
    assert.deepEqual(normalizeRequestPath('/a/../b//c%2F?x=/../', NONE), { kind: 'ok', path: '/a/../b//c%2F?x=/../' });
  });

  it('removes dot segments and decodes unreserved characters, leaving the query alone', () => {
    assert.deepEqual(normalizeRequestPath('/a/./b/../c?q=/../x', RFC), { kind: 'ok', path: '/a/c?q=/../x' });
    assert.deepEqual(normalizeRequestPath('/%7euser/%41%2f%3a', RFC), { kind: 'ok', path: '/~user/A%2F%3A' });
    assert.deepEqual(normalizeRequestPath('/../../etc/passwd', RFC), { kind: 'ok', path: '/etc/passwd' });
    assert.deepEqual(normalizeRequestPath('/a/b/..', RFC), { kind: 'ok', path: '/a/' });
    assert.deepEqual(normalizeRequestPath('/a\\b', RFC), { kind: 'ok', path: '/a/b' });
  });

  it('refuses a path that cannot be normalized', () => {
    assert.deepEqual(normalizeRequestPath('relative/path', RFC), { kind: 'reject' });
    assert.deepEqual(normalizeRequestPath('/bad%zzescape', RFC), { kind: 'reject' });
  });

  it('merges slashes when asked', () => {
    assert.deepEqual(normalizeRequestPath('//a///b/?x=//', { ...NONE, mergeSlashes: true }), { kind: 'ok', path: '/a/b/?x=//' });
  });

  it('applies the escaped-slash action before normalization', () => {
    assert.deepEqual(normalizeRequestPath('/a%2Fb', { ...NONE, escapedSlashes: 'REJECT_REQUEST' }), { kind: 'reject' });
    assert.deepEqual(normalizeRequestPath('/a%2f..%2Fb', { ...RFC, escapedSlashes: 'UNESCAPE_AND_FORWARD' }), { kind: 'ok', path: '/b' });
    assert.deepEqual(normalizeRequestPath('/a%5Cb', { ...RFC, escapedSlashes: 'UNESCAPE_AND_FORWARD' }), { kind: 'ok', path: '/a/b' });
    assert.deepEqual(normalizeRequestPath('/a%2F%2Fb?x', { ...NONE, mergeSlashes: true, escapedSlashes: 'UNESCAPE_AND_REDIRECT' }), { kind: 'redirect', path: '/a/b?x' });
    assert.deepEqual(normalizeRequestPath('/plain', { ...NONE, escapedSlashes: 'UNESCAPE_AND_REDIRECT' }), { kind: 'ok', path: '/plain' });
  });
});
