import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { allocateVirtualIps } from './virtual-ip.ts';

describe('allocateVirtualIps', () => {
  it('gives each hostname an address in 240.240.0.0/16', () => {
    const ips = allocateVirtualIps(['api.example.com', 'db.example.com'], new Set());
    assert.equal(ips.size, 2);
    for (const ip of ips.values()) assert.match(ip, /^240\.240\.\d{1,3}\.\d{1,3}$/);
    assert.notEqual(ips.get('api.example.com'), ips.get('db.example.com'));
  });

  it('gives the same addresses whatever the order of the hostnames', () => {
    const hosts = Array.from({ length: 50 }, (_, i) => `svc-${i}.example.com`);
    const forward = allocateVirtualIps(hosts, new Set());
    const backward = allocateVirtualIps([...hosts].reverse(), new Set());
    assert.deepEqual([...forward.entries()].sort(), [...backward.entries()].sort());
  });

  it('keeps a hostname at its address when unrelated hostnames are added', () => {
    const alone = allocateVirtualIps(['api.example.com'], new Set());
    const among = allocateVirtualIps(['api.example.com', 'other.example.org'], new Set());
    assert.equal(among.get('api.example.com'), alone.get('api.example.com'));
  });

  it('never hands out an address that is taken, nor a .0 or .255 host part', () => {
    const first = allocateVirtualIps(['api.example.com'], new Set()).get('api.example.com')!;
    const next = allocateVirtualIps(['api.example.com'], new Set([first])).get('api.example.com')!;
    assert.notEqual(next, first);
    const many = allocateVirtualIps(Array.from({ length: 2000 }, (_, i) => `h${i}.test`), new Set());
    assert.equal(new Set(many.values()).size, 2000);
    for (const ip of many.values()) assert.doesNotMatch(ip, /\.(0|255)$/);
  });
});
