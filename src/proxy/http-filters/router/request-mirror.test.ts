import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { shadowAuthority } from './request-mirror.ts';

describe('shadowAuthority', () => {
  it('appends -shadow to the host name, before the port when there is one', () => {
    assert.equal(shadowAuthority('reviews'), 'reviews-shadow');
    assert.equal(shadowAuthority('reviews.default.svc.cluster.local:9080'), 'reviews.default.svc.cluster.local-shadow:9080');
    assert.equal(shadowAuthority('[::1]:8080'), '[::1]-shadow:8080');
    assert.equal(shadowAuthority('[::1]'), '[::1]-shadow');
  });
});
