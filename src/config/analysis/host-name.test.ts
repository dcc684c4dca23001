import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hostCoveredBy, hostsOverlap, resolveHost, serviceHost, serviceHostNamespace } from './host-name.ts';

describe('resolveHost', () => {
  it('expands a short name to the Service of that name in the resource namespace', () => {
    assert.equal(resolveHost('reviews', 'default'), 'reviews.default.svc.cluster.local');
    assert.equal(resolveHost('reviews', 'shop'), 'reviews.shop.svc.cluster.local');
  });

  it('takes a name with a dot as written, even a partial one as Istio does', () => {
    assert.equal(resolveHost('reviews.default.svc.cluster.local', 'shop'), 'reviews.default.svc.cluster.local');
    assert.equal(resolveHost('reviews.default', 'shop'), 'reviews.default');
    assert.equal(resolveHost('api.example.com', 'default'), 'api.example.com');
  });

  it('keeps wildcards and compares case-insensitively', () => {
    assert.equal(resolveHost('*', 'default'), '*');
    assert.equal(resolveHost('*.Example.COM', 'default'), '*.example.com');
    assert.equal(resolveHost('Reviews', 'default'), 'reviews.default.svc.cluster.local');
  });
});

describe('serviceHost and serviceHostNamespace', () => {
  it('names a Service by its FQDN and finds the namespace back', () => {
    assert.equal(serviceHost('ratings', 'prod'), 'ratings.prod.svc.cluster.local');
    assert.equal(serviceHostNamespace('ratings.prod.svc.cluster.local'), 'prod');
  });

  it('gives no namespace for hosts outside the cluster domain or wildcards', () => {
    assert.equal(serviceHostNamespace('api.example.com'), undefined);
    assert.equal(serviceHostNamespace('*.prod.svc.cluster.local'), undefined);
    assert.equal(serviceHostNamespace('a.b.prod.svc.cluster.local'), undefined);
  });
});

describe('hostsOverlap', () => {
  it('matches equal names only when neither is a wildcard', () => {
    assert.equal(hostsOverlap('api.example.com', 'api.example.com'), true);
    assert.equal(hostsOverlap('api.example.com', 'www.example.com'), false);
  });

  it('matches a wildcard by suffix on either side', () => {
    assert.equal(hostsOverlap('*.example.com', 'api.example.com'), true);
    assert.equal(hostsOverlap('api.example.com', '*.example.com'), true);
    assert.equal(hostsOverlap('*.example.com', 'example.com'), false);
    assert.equal(hostsOverlap('*.example.com', 'api.example.org'), false);
  });

  it('matches two wildcards when one is within the other, and * with everything', () => {
    assert.equal(hostsOverlap('*.com', '*.example.com'), true);
    assert.equal(hostsOverlap('*.example.com', '*.com'), true);
    assert.equal(hostsOverlap('*.example.com', '*.example.org'), false);
    assert.equal(hostsOverlap('*', 'reviews.default.svc.cluster.local'), true);
  });
});

describe('hostCoveredBy', () => {
  it('covers a name by itself and by a wildcard ending like it', () => {
    assert.equal(hostCoveredBy('api.example.com', 'api.example.com'), true);
    assert.equal(hostCoveredBy('api.example.com', '*.example.com'), true);
    assert.equal(hostCoveredBy('api.example.com', '*'), true);
  });

  it('does not cover a wildcard by a name or by a narrower wildcard', () => {
    assert.equal(hostCoveredBy('*.example.com', 'api.example.com'), false);
    assert.equal(hostCoveredBy('*.com', '*.example.com'), false);
    assert.equal(hostCoveredBy('*.example.com', '*.com'), true);
  });
});
