import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hostCoveredBy } from '../../config/analysis/index.ts';
import { HostIndex } from './host-index.ts';

function indexOf(...hosts: string[]): HostIndex<string> {
  const index = new HostIndex<string>();
  for (const host of hosts) index.set(host, host);
  return index;
}

describe('HostIndex.mostSpecific', () => {
  it('prefers the exact host over any wildcard', () => {
    const index = indexOf('*', '*.example.com', 'api.example.com');
    assert.equal(index.mostSpecific('api.example.com')?.host, 'api.example.com');
  });

  it('takes the longest covering wildcard', () => {
    const index = indexOf('*', '*.com', '*.example.com');
    assert.equal(index.mostSpecific('api.example.com')?.host, '*.example.com');
    assert.equal(index.mostSpecific('api.example.org')?.host, '*');
    assert.equal(index.mostSpecific('x.org')?.host, '*');
  });

  it('does not let "*.example.com" cover "example.com"', () => {
    assert.equal(indexOf('*.example.com').mostSpecific('example.com'), undefined);
  });

  it('covers a wildcard host only by a broader wildcard', () => {
    const index = indexOf('*.com', 'api.example.com');
    assert.equal(index.mostSpecific('*.example.com')?.host, '*.com');
    assert.equal(indexOf('*.example.com').mostSpecific('*.example.com')?.host, '*.example.com');
  });

  it('agrees with hostCoveredBy on every pair', () => {
    const patterns = ['*', '*.com', '*.example.com', '*ample.com', '*.api.example.com'];
    const hosts = ['api.example.com', 'example.com', 'x.api.example.com', 'sample.com', '*.example.com', 'a.org'];
    for (const host of hosts) {
      const expected = patterns.filter((p) => hostCoveredBy(host, p)).sort((a, b) => b.length - a.length)[0];
      assert.equal(indexOf(...patterns).mostSpecific(host)?.host, expected, host);
    }
  });

  it('compares case-insensitively', () => {
    assert.equal(indexOf('api.example.com').mostSpecific('API.Example.com')?.value, 'api.example.com');
  });
});
