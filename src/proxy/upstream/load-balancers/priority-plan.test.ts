import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostSet, testHost } from '../upstream-test-support.ts';
import type { EndpointHost } from '../endpoint-host.ts';
import { hostShares, planPriorities } from './priority-plan.ts';

/** `total` hosts at `priority`, the first `healthy` of them healthy. */
function hosts(priority: number, total: number, healthy: number, first = priority * 100 + 1): EndpointHost[] {
  return Array.from({ length: total }, (_, i) => testHost(first + i, { priority, healthy: i < healthy }));
}

describe('planPriorities', () => {
  it('gives priority 0 all the load while 1.4 x its healthy share reaches 100%', () => {
    const plan = planPriorities(hostSet([...hosts(0, 10, 8), ...hosts(1, 10, 10)]), {});
    assert.deepEqual(plan.loads, [100, 0]);
    assert.deepEqual(plan.levels.map((l) => [l.priority, l.panic, l.hosts.length]), [[0, false, 8], [1, false, 10]]);
  });

  it('spills the rest to the next priorities in order', () => {
    assert.deepEqual(planPriorities(hostSet([...hosts(0, 10, 3), ...hosts(1, 10, 5)]), {}).loads, [42, 58]);
    assert.deepEqual(planPriorities(hostSet([...hosts(0, 10, 0), ...hosts(1, 10, 10)]), {}).loads, [0, 100]);
  });

  it('scales loads to the total availability when it is under 100%, rounding leftovers to the first', () => {
    // Health 56 and 28 (84 in all); not in panic with a threshold of 20%.
    const plan = planPriorities(hostSet([...hosts(0, 10, 4), ...hosts(1, 10, 2)]), { healthyPanicThreshold: 20 });
    assert.deepEqual(plan.loads, [67, 33]);
    assert.deepEqual(plan.levels.map((l) => l.panic), [false, false]);
  });

  it('shares load by host count over all hosts when every priority is in panic', () => {
    const plan = planPriorities(hostSet([...hosts(0, 10, 4), ...hosts(1, 5, 1)]), {});
    assert.deepEqual(plan.loads, [67, 33]);
    assert.deepEqual(plan.levels.map((l) => [l.panic, l.hosts.length]), [[true, 10], [true, 5]]);
  });

  it('leaves a priority out of panic while all priorities together are fully available', () => {
    const plan = planPriorities(hostSet([...hosts(0, 10, 3), ...hosts(1, 10, 8)]), {});
    assert.deepEqual(plan.levels.map((l) => l.panic), [false, false]);
  });

  it('chooses nothing when no host is healthy and panic is off', () => {
    const plan = planPriorities(hostSet(hosts(0, 3, 0)), { healthyPanicThreshold: 0 });
    assert.deepEqual(plan.loads, [100]);
    assert.deepEqual(plan.levels[0]?.hosts, []);
  });

  it('weighs each locality by its weight times its availability', () => {
    const a = [testHost(1, { locality: 'a' }), testHost(2, { locality: 'a' })];
    const b = [testHost(3, { locality: 'b' }), testHost(4, { locality: 'b', healthy: false })];
    const plan = planPriorities(hostSet([...a, ...b], [[0, 'a', 2], [0, 'b', 2]]), { localityWeighted: true });
    assert.deepEqual(plan.levels[0]?.localities?.map((l) => [l.locality, l.weight, l.effectiveWeight, l.hosts.length]), [['a', 2, 2, 2], ['b', 2, 1.4, 1]]);
  });
});

describe('hostShares', () => {
  it('splits a level by host weight, or by locality weight then host weight', () => {
    const flat = planPriorities(hostSet([testHost(1, { weight: 1 }), testHost(2, { weight: 3 })]), {});
    assert.deepEqual(hostShares(flat.levels[0]!).map((s) => s.share), [0.25, 0.75]);
    const local = planPriorities(
      hostSet([testHost(1, { locality: 'a' }), testHost(2, { locality: 'b', weight: 3 }), testHost(3, { locality: 'b' })], [[0, 'a', 1], [0, 'b', 1]]),
      { localityWeighted: true },
    );
    assert.deepEqual(hostShares(local.levels[0]!).map((s) => s.share), [0.5, 0.375, 0.125]);
  });
});
