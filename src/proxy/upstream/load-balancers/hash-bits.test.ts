import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { xxHash64 } from '../xx-hash64.ts';
import { hashModulo, high32, low32 } from './hash-bits.ts';

describe('hash bits', () => {
  const hashes = [0n, 1n, 0xffffffffn, 0x100000000n, (1n << 64n) - 1n, ...Array.from({ length: 200 }, (_, i) => xxHash64(`k${i}`))];

  it('splits a hash into its high and low 32 bits', () => {
    for (const h of hashes) {
      assert.equal(high32(h), Number(h >> 32n));
      assert.equal(low32(h), Number(h & 0xffffffffn));
    }
  });

  it('computes hash mod m exactly, up to the largest maglev table', () => {
    for (const m of [7, 100, 65537, 5_000_011]) for (const h of hashes) assert.equal(hashModulo(h, m), Number(h % BigInt(m)));
  });
});
