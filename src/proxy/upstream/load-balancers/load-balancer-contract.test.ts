import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LoadBalancerContext, Picker, UpstreamHost } from '../cluster.ts';
import type { EndpointHost } from '../endpoint-host.ts';
import { xxHash64 } from '../xx-hash64.ts';
import { cycle, FakeTimers, hostSet, seededRandom, testHost } from '../upstream-test-support.ts';
import { ClusterProvidedBalancer } from './cluster-provided.ts';
import { LeastRequestBalancer } from './least-request.ts';
import { EMPTY_HOST_SET, type BalancerOptions, type LoadBalancer } from './load-balancer.ts';
import { MaglevBalancer } from './maglev.ts';
import { RandomBalancer } from './random.ts';
import { RingHashBalancer } from './ring-hash.ts';
import { RoundRobinBalancer } from './round-robin.ts';

interface Subject {
  readonly name: string;
  make(options?: BalancerOptions): LoadBalancer;
  /** Balances by the request's hash: tests give each request its own key. */
  readonly hashed: boolean;
  /** How far a host's share of traffic may stray from its weight's share (absolute). */
  readonly tolerance: number;
}

const subjects: readonly Subject[] = [
  { name: 'RoundRobinBalancer', make: (o) => new RoundRobinBalancer(o), hashed: false, tolerance: 0.001 },
  { name: 'LeastRequestBalancer', make: (o) => new LeastRequestBalancer({ ...o, random: seededRandom(1) }), hashed: false, tolerance: 0.02 },
  { name: 'RandomBalancer', make: (o) => new RandomBalancer({ ...o, random: seededRandom(2) }), hashed: false, tolerance: 0.02 },
  { name: 'RingHashBalancer', make: (o) => new RingHashBalancer({ ...o, random: seededRandom(3) }), hashed: true, tolerance: 0.04 },
  { name: 'MaglevBalancer', make: (o) => new MaglevBalancer({ ...o, random: seededRandom(4) }), hashed: true, tolerance: 0.02 },
];

const PICKS = 20_000;

/** The request context for the i-th request: its own hash key for hash balancers. */
function context(subject: Subject, i: number, extra: Partial<LoadBalancerContext> = {}): LoadBalancerContext {
  return subject.hashed ? { hash: xxHash64(`request-${i}`), ...extra } : extra;
}

/** Each host's share of `picks` requests. */
function shares(subject: Subject, picker: Picker, picks = PICKS, extra: Partial<LoadBalancerContext> = {}): Map<UpstreamHost | undefined, number> {
  const counts = new Map<UpstreamHost | undefined, number>();
  for (let i = 0; i < picks; i++) {
    const host = picker.pick(context(subject, i, extra));
    counts.set(host, (counts.get(host) ?? 0) + 1);
  }
  return new Map([...counts].map(([host, n]) => [host, n / picks]));
}

function assertShare(actual: number | undefined, expected: number, tolerance: number, what: string): void {
  const value = actual ?? 0;
  assert.ok(Math.abs(value - expected) <= tolerance, `${what}: share ${value.toFixed(4)}, expected ${expected} ± ${tolerance}`);
}

for (const subject of subjects) {
  describe(`${subject.name} (load balancer contract)`, () => {
    it('picks nothing before any update and from an empty host set', () => {
      const lb = subject.make();
      assert.equal(lb.picker().pick(context(subject, 0)), undefined);
      lb.update(EMPTY_HOST_SET);
      assert.equal(lb.picker().pick(context(subject, 0)), undefined);
    });

    it('balances over every host when all are unhealthy (panic), and counts it', () => {
      let panics = 0;
      const lb = subject.make({ onPanic: () => { panics++; } });
      const hosts = [1, 2, 3].map((n) => testHost(n, { healthy: false }));
      lb.update(hostSet(hosts));
      const seen = shares(subject, lb.picker(), 3000);
      for (const host of hosts) assert.ok((seen.get(host) ?? 0) > 0.2, `${host.id} takes part`);
      assert.equal(panics, 3000);
    });

    it('picks nothing when all hosts are unhealthy and the panic threshold is 0', () => {
      const lb = subject.make({ healthyPanicThreshold: 0 });
      lb.update(hostSet([1, 2].map((n) => testHost(n, { healthy: false }))));
      assert.equal(lb.picker().pick(context(subject, 0)), undefined);
    });

    it('skips unhealthy hosts while enough are healthy, and panics below the threshold', () => {
      const lb = subject.make();
      const hosts = [testHost(1), testHost(2), testHost(3), testHost(4, { healthStatus: 'DRAINING' })];
      lb.update(hostSet(hosts));
      assert.equal(shares(subject, lb.picker(), 2000).get(hosts[3]), undefined);

      // 1 of 4 healthy is 25%, under the default threshold of 50%.
      const few = [testHost(1), testHost(2, { healthy: false }), testHost(3, { healthy: false }), testHost(4, { healthy: false })];
      lb.update(hostSet(few));
      const seen = shares(subject, lb.picker(), 4000);
      for (const host of few) assert.ok((seen.get(host) ?? 0) > 0.1, `${host.id} takes part in panic`);

      const strict = subject.make({ healthyPanicThreshold: 20 });
      strict.update(hostSet(few));
      assert.deepEqual([...shares(subject, strict.picker(), 500).keys()], [few[0]]);
    });

    it('respects weights', () => {
      const lb = subject.make();
      const hosts = [1, 2, 3, 4].map((n) => testHost(n, { weight: n }));
      lb.update(hostSet(hosts));
      const seen = shares(subject, lb.picker());
      for (const host of hosts) assertShare(seen.get(host), host.weight / 10, subject.tolerance, host.id);
    });

    it('avoids the hosts a request already tried, unless it tried them all', () => {
      const lb = subject.make();
      const hosts = [1, 2, 3].map((n) => testHost(n));
      lb.update(hostSet(hosts));
      const picker = lb.picker();
      const avoid = new Set<UpstreamHost>([hosts[0]!, hosts[2]!]);
      for (let i = 0; i < 300; i++) assert.equal(picker.pick(context(subject, i, { avoid })), hosts[1]);
      const all = new Set<UpstreamHost>(hosts);
      for (let i = 0; i < 30; i++) assert.ok(hosts.includes(picker.pick(context(subject, i, { avoid: all })) as EndpointHost));
    });

    it('publishes a new picker on update while the old one keeps picking from the old hosts', () => {
      const lb = subject.make();
      const before = [testHost(1), testHost(2)];
      const after = [testHost(3), testHost(4)];
      lb.update(hostSet(before));
      const old = lb.picker();
      lb.update(hostSet(after));
      const current = lb.picker();
      assert.notEqual(old, current);
      for (let i = 0; i < 100; i++) {
        assert.ok(before.includes(old.pick(context(subject, i)) as EndpointHost));
        assert.ok(after.includes(current.pick(context(subject, i)) as EndpointHost));
      }
    });

    it('sends everything to priority 0 while it is healthy, and spills to priority 1 as its health drops', () => {
      const lb = subject.make();
      const p0 = [testHost(1), testHost(2)];
      const p1 = [testHost(3, { priority: 1 }), testHost(4, { priority: 1 })];
      lb.update(hostSet([...p0, ...p1]));
      const healthy = shares(subject, lb.picker(), 4000);
      assertShare((healthy.get(p0[0]) ?? 0) + (healthy.get(p0[1]) ?? 0), 1, 0, 'priority 0');

      // Half of priority 0 healthy: 1.4 x 50% = 70% stays, 30% spills over.
      const degraded = [testHost(1), testHost(2, { healthy: false })];
      lb.update(hostSet([...degraded, ...p1]));
      const seen = shares(subject, lb.picker());
      assertShare(seen.get(degraded[0]), 0.7, 0.02, 'healthy host of priority 0');
      assertShare(seen.get(degraded[1]), 0, 0, 'unhealthy host of priority 0');
      assertShare((seen.get(p1[0]) ?? 0) + (seen.get(p1[1]) ?? 0), 0.3, 0.02, 'priority 1');
    });

    it('sends a retry that already tried priority 0 to priority 1 (previous_priorities), and back to 0 when it tried both', () => {
      const lb = subject.make();
      const p0 = [testHost(1), testHost(2)];
      const p1 = [testHost(3, { priority: 1 }), testHost(4, { priority: 1 })];
      lb.update(hostSet([...p0, ...p1]));
      const picker = lb.picker();
      for (let i = 0; i < 100; i++) assert.ok(p1.includes(picker.pick(context(subject, i, { avoidPriorities: new Set([0]) })) as EndpointHost));
      for (let i = 0; i < 100; i++) assert.ok(p0.includes(picker.pick(context(subject, i, { avoidPriorities: new Set([0, 1]) })) as EndpointHost));
    });

    it('weighs localities when the cluster asks for it, and gives none to a locality without weight', () => {
      const lb = subject.make({ localityWeighted: true });
      const a = testHost(1, { locality: 'r/a' });
      const b = [testHost(2, { locality: 'r/b' }), testHost(3, { locality: 'r/b' })];
      const c = testHost(4, { locality: 'r/c' });
      lb.update(hostSet([a, ...b, c], [[0, 'r/a', 1], [0, 'r/b', 3]]));
      const seen = shares(subject, lb.picker());
      assertShare(seen.get(a), 0.25, subject.tolerance, 'locality a');
      assertShare((seen.get(b[0]) ?? 0) + (seen.get(b[1]) ?? 0), 0.75, subject.tolerance, 'locality b');
      assert.equal(seen.get(c), undefined);
    });
  });
}

describe('ClusterProvidedBalancer (load balancer contract)', () => {
  it('picks nothing without an original destination, or with one that is not an address and port', () => {
    const lb = new ClusterProvidedBalancer({ timers: new FakeTimers() });
    lb.update();
    assert.equal(lb.picker().pick({}), undefined);
    assert.equal(lb.picker().pick({ originalDestination: 'example.com:80' }), undefined);
    assert.equal(lb.picker().pick({ originalDestination: '10.0.0.1' }), undefined);
  });

  it('makes the host the client dialled on first use and shares it afterwards', () => {
    const lb = new ClusterProvidedBalancer({ timers: new FakeTimers() });
    const host = lb.picker().pick({ originalDestination: '10.1.2.3:8080' });
    assert.equal(host?.address, '10.1.2.3');
    assert.equal(host?.port, 8080);
    assert.equal(host?.id, '10.1.2.3:8080');
    assert.equal(host?.healthy, true);
    assert.equal(lb.picker().pick({ originalDestination: '10.1.2.3:8080' }), host);
    const v6 = lb.picker().pick({ originalDestination: '[fd00::1]:443' });
    assert.equal(v6?.address, 'fd00::1');
    assert.equal(v6?.id, '[fd00::1]:443');
    lb.close();
  });

  it('returns the only possible host even when the request already tried it', () => {
    const lb = new ClusterProvidedBalancer({ timers: new FakeTimers() });
    const host = lb.picker().pick({ originalDestination: '10.1.2.3:8080' })!;
    assert.equal(lb.picker().pick({ originalDestination: '10.1.2.3:8080', avoid: new Set([host]) }), host);
    lb.close();
  });

  it('drops hosts unused for a whole cleanup interval, keeping busy ones, and stops its timer when none are left', () => {
    const timers = new FakeTimers();
    const lb = new ClusterProvidedBalancer({ timers, cleanupIntervalMs: 1000 });
    const idle = lb.picker().pick({ originalDestination: '10.0.0.1:80' })!;
    const busy = lb.picker().pick({ originalDestination: '10.0.0.2:80' })!;
    busy.activeRequests = 1;
    timers.advance(1000);
    assert.equal(lb.hosts().length, 2, 'used since the last sweep');
    timers.advance(1000);
    assert.deepEqual(lb.hosts(), [busy]);
    assert.notEqual(lb.picker().pick({ originalDestination: '10.0.0.1:80' }), idle, 'made anew');
    busy.activeRequests = 0;
    timers.advance(2000);
    assert.deepEqual(lb.hosts(), []);
    assert.equal(timers.pending, 0);
  });
});

describe('RoundRobinBalancer', () => {
  const names = (picker: Picker, n: number): string[] => Array.from({ length: n }, () => picker.pick({})!.address.slice(-1));

  it('takes hosts in turn', () => {
    const lb = new RoundRobinBalancer();
    lb.update(hostSet([1, 2, 3].map((n) => testHost(n))));
    assert.deepEqual(names(lb.picker(), 7), ['1', '2', '3', '1', '2', '3', '1']);
  });

  it('spreads a heavy host smoothly: weights 5, 1, 1 go a a b a c a a', () => {
    const lb = new RoundRobinBalancer();
    lb.update(hostSet([testHost(1, { weight: 5 }), testHost(2), testHost(3)]));
    assert.deepEqual(names(lb.picker(), 14), ['1', '1', '2', '1', '3', '1', '1', '1', '1', '2', '1', '3', '1', '1']);
  });

  it('passes over avoided hosts without losing its place', () => {
    const lb = new RoundRobinBalancer();
    const hosts = [1, 2, 3].map((n) => testHost(n));
    lb.update(hostSet(hosts));
    const picker = lb.picker();
    assert.equal(picker.pick({})?.address, '10.0.0.1');
    assert.equal(picker.pick({ avoid: new Set([hosts[1]!]) })?.address, '10.0.0.3');
    assert.equal(picker.pick({})?.address, '10.0.0.1');
  });

  it('rotates priorities by load without randomness', () => {
    const lb = new RoundRobinBalancer();
    // Priority 0 at 50% healthy takes 70%, priority 1 the other 30%.
    lb.update(hostSet([testHost(1), testHost(2, { healthy: false }), testHost(3, { priority: 1 })]));
    const seen = names(lb.picker(), 10).sort();
    assert.deepEqual(seen, ['1', '1', '1', '1', '1', '1', '1', '3', '3', '3']);
  });
});

describe('LeastRequestBalancer', () => {
  it('prefers the host with fewer requests in flight of the two it samples', () => {
    const hosts = [testHost(1), testHost(2)];
    hosts[0]!.activeRequests = 5;
    // Samples host 1, then host 2.
    const lb = new LeastRequestBalancer({ random: cycle(0.1, 0.9) });
    lb.update(hostSet(hosts));
    assert.equal(lb.picker().pick({}), hosts[1]);
  });

  it('sends a busy host only the requests where both samples fall on it', () => {
    const hosts = [testHost(1), testHost(2)];
    hosts[0]!.activeRequests = 10;
    const lb = new LeastRequestBalancer({ random: seededRandom(7) });
    lb.update(hostSet(hosts));
    let busy = 0;
    for (let i = 0; i < 10_000; i++) if (lb.picker().pick({}) === hosts[0]) busy++;
    assertShare(busy / 10_000, 0.25, 0.02, 'busy host');
  });

  it('samples choiceCount hosts', () => {
    const hosts = [1, 2, 3, 4].map((n) => testHost(n));
    hosts.forEach((h, i) => { h.activeRequests = 10 - i; });
    const lb = new LeastRequestBalancer({ random: cycle(0, 0.3, 0.6, 0.9), choiceCount: 4 });
    lb.update(hostSet(hosts));
    assert.equal(lb.picker().pick({}), hosts[3]);
  });

  it('divides weights by requests in flight when weights differ', () => {
    const heavy = testHost(1, { weight: 2 });
    const light = testHost(2, { weight: 1 });
    heavy.activeRequests = 3;
    const lb = new LeastRequestBalancer({ random: seededRandom(1) });
    lb.update(hostSet([heavy, light]));
    // Effective weights: 2 / 4 = 0.5 against 1 / 1.
    const seen = shares({ name: 'lr', make: () => lb, hashed: false, tolerance: 0 }, lb.picker(), 3000);
    assertShare(seen.get(light), 2 / 3, 0.01, 'idle light host');
  });
});

describe('RandomBalancer', () => {
  it('draws hosts in proportion to weight from the injected source', () => {
    const lb = new RandomBalancer({ random: cycle(0.1, 0.3, 0.6, 0.9) });
    const hosts = [testHost(1, { weight: 1 }), testHost(2, { weight: 3 })];
    lb.update(hostSet(hosts));
    const picker = lb.picker();
    assert.deepEqual([0, 1, 2, 3].map(() => picker.pick({})), [hosts[0], hosts[1], hosts[1], hosts[1]]);
  });
});

describe('RingHashBalancer', () => {
  const keys = Array.from({ length: 10_000 }, (_, i) => xxHash64(`user-${i}`));

  it('sends the same key to the same host while the host set is stable, whatever order the hosts come in', () => {
    const hosts = Array.from({ length: 8 }, (_, i) => testHost(i + 1));
    const a = new RingHashBalancer({ random: seededRandom(1) });
    const b = new RingHashBalancer({ random: seededRandom(2) });
    a.update(hostSet(hosts));
    b.update(hostSet([...hosts].reverse()));
    for (const hash of keys.slice(0, 2000)) {
      const host = a.picker().pick({ hash });
      assert.equal(a.picker().pick({ hash }), host);
      assert.equal(b.picker().pick({ hash }), host);
    }
  });

  it('moves few keys when a host is added, most of them to the new host', () => {
    const hosts = Array.from({ length: 10 }, (_, i) => testHost(i + 1));
    const lb = new RingHashBalancer({ random: seededRandom(1) });
    lb.update(hostSet(hosts));
    const before = keys.map((hash) => lb.picker().pick({ hash }));
    const added = testHost(11);
    lb.update(hostSet([...hosts, added]));
    let toNew = 0;
    let between = 0;
    keys.forEach((hash, i) => {
      const now = lb.picker().pick({ hash });
      if (now === added) toNew++;
      else if (now !== before[i]) between++;
    });
    assertShare(toNew / keys.length, 1 / 11, 0.03, 'keys moved to the new host');
    // The ring is resized for 11 hosts, as Envoy does: each old host keeps 94 of its 103 entries, so the
    // keys on the 9 it loses (under 9%) may change old hosts.
    assert.ok(between / keys.length < 0.08, `keys moved between old hosts: ${between / keys.length}`);
  });

  it('builds at least minimumRingSize entries, capped by maximumRingSize', () => {
    const hosts = [testHost(1, { weight: 1000 }), testHost(2)];
    const capped = new RingHashBalancer({ random: seededRandom(1), minimumRingSize: 64, maximumRingSize: 128 });
    capped.update(hostSet(hosts));
    // Uncapped, the light host would get 64 entries and the heavy one 64,000; capped at 128 in all, the light one gets none.
    const seen = new Set(keys.slice(0, 2000).map((hash) => capped.picker().pick({ hash })));
    assert.deepEqual([...seen], [hosts[0]]);
    const uncapped = new RingHashBalancer({ random: seededRandom(1), minimumRingSize: 64 });
    uncapped.update(hostSet(hosts));
    assert.ok(keys.slice(0, 2000).some((hash) => uncapped.picker().pick({ hash }) === hosts[1]));
  });

  it('walks on along the ring for a retry that avoids the host it found', () => {
    const hosts = [1, 2, 3].map((n) => testHost(n));
    const lb = new RingHashBalancer({ random: seededRandom(1) });
    lb.update(hostSet(hosts));
    const hash = keys[0]!;
    const first = lb.picker().pick({ hash })!;
    const second = lb.picker().pick({ hash, avoid: new Set([first]) })!;
    assert.notEqual(second, first);
    assert.equal(lb.picker().pick({ hash, avoid: new Set([first]) }), second, 'deterministic');
  });
});

describe('MaglevBalancer', () => {
  const keys = Array.from({ length: 10_000 }, (_, i) => xxHash64(`user-${i}`));

  it('builds the same table from the same hosts, in any order', () => {
    const hosts = Array.from({ length: 7 }, (_, i) => testHost(i + 1));
    const a = new MaglevBalancer({ random: seededRandom(1) });
    const b = new MaglevBalancer({ random: seededRandom(2) });
    a.update(hostSet(hosts));
    b.update(hostSet([...hosts].reverse()));
    for (const hash of keys) assert.equal(a.picker().pick({ hash }), b.picker().pick({ hash }));
  });

  it('moves few keys when a host is removed, and only those of the removed host mostly', () => {
    const hosts = Array.from({ length: 10 }, (_, i) => testHost(i + 1));
    const lb = new MaglevBalancer({ random: seededRandom(1) });
    lb.update(hostSet(hosts));
    const before = keys.map((hash) => lb.picker().pick({ hash }));
    const removed = hosts[4]!;
    lb.update(hostSet(hosts.filter((h) => h !== removed)));
    let movedOthers = 0;
    keys.forEach((hash, i) => {
      const now = lb.picker().pick({ hash });
      assert.notEqual(now, removed);
      if (before[i] !== removed && now !== before[i]) movedOthers++;
    });
    assert.ok(movedOthers / keys.length < 0.05, `keys of remaining hosts moved: ${movedOthers / keys.length}`);
  });

  it('uses the configured table size, which decides the slot of a hash', () => {
    const hosts = [1, 2].map((n) => testHost(n));
    const lb = new MaglevBalancer({ random: seededRandom(1), tableSize: 7 });
    lb.update(hostSet(hosts));
    // Hashes equal modulo 7 share a slot.
    for (let h = 0n; h < 7n; h++) assert.equal(lb.picker().pick({ hash: h }), lb.picker().pick({ hash: h + 7n * 1_000_003n }));
  });
});
