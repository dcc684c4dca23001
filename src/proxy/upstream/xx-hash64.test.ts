import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { xxHash64 } from './xx-hash64.ts';

describe('xxHash64', () => {
  it('matches the values Envoy tests its hash against', () => {
    assert.equal(xxHash64('foo'), 3728699739546630719n);
    assert.equal(xxHash64('bar'), 5234164152756840025n);
    assert.equal(xxHash64('foo\nbar'), 8917841378505826757n);
    assert.equal(xxHash64('lyft'), 4400747396090729504n);
    assert.equal(xxHash64(''), 17241709254077376921n);
  });

  it('matches the reference XXH64 of an input long enough for the 32-byte stripe path', () => {
    // 43 bytes: one stripe, then 8-byte and 1-byte tail steps.
    const text = 'The quick brown fox jumps over the lazy dog';
    assert.equal(xxHash64(text), 0x0b242d361fda71bcn);
    assert.equal(xxHash64(text, 1), xxHash64(new TextEncoder().encode(text), 1));
  });

  it('chains a 64-bit seed, as Envoy hashes lists of strings', () => {
    assert.equal(xxHash64('bar', xxHash64('foo')), 17745830980996999794n);
  });

  it('hashes strings as their UTF-8 bytes', () => {
    assert.equal(xxHash64('héllo €'), xxHash64(new TextEncoder().encode('héllo €')));
  });
});
