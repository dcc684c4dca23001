import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { labelsKey } from './labels-key.ts';

describe('labelsKey', () => {
  it('is the same for the same labels in any order, and differs otherwise', () => {
    assert.equal(labelsKey({ app: 'a', version: 'v1' }), labelsKey({ version: 'v1', app: 'a' }));
    assert.notEqual(labelsKey({ app: 'a' }), labelsKey({ app: 'b' }));
    assert.notEqual(labelsKey({ 'a,b': 'c' }), labelsKey({ a: 'b,c' }));
  });
});
