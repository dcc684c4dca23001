import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WorkloadTokens } from './workload-tokens.ts';

describe('WorkloadTokens', () => {
  it('issues 32 random bytes as base64url that authenticate as their workload', () => {
    const tokens = new WorkloadTokens();
    const reviews = tokens.issue('default', 'reviews');
    const ratings = tokens.issue('shop', 'ratings');
    assert.match(reviews, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(reviews, ratings);
    assert.deepEqual(tokens.authenticate(reviews), { namespace: 'default', serviceAccount: 'reviews' });
    assert.deepEqual(tokens.authenticate(ratings), { namespace: 'shop', serviceAccount: 'ratings' });
  });

  it('knows no token it did not issue, nor the empty one', () => {
    const tokens = new WorkloadTokens({ randomBytes: (size) => new Uint8Array(size).fill(7) });
    const issued = tokens.issue('default', 'reviews');
    assert.equal(tokens.authenticate(`${issued}x`), undefined);
    assert.equal(tokens.authenticate(''), undefined);
    assert.equal(new WorkloadTokens().authenticate(issued), undefined);
  });

  it('refuses to issue a token without a namespace or service account', () => {
    assert.throws(() => new WorkloadTokens().issue('', 'reviews'), /namespace/);
    assert.throws(() => new WorkloadTokens().issue('default', ''), /service account/);
  });
});
