import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChangedKinds } from './ads-server-options.ts';
import { PushDebouncer } from './push-debouncer.ts';
import { FakeTime } from './test-support.ts';

function debouncer(quietMs = 100, maxMs = 1000): { time: FakeTime; flushed: ChangedKinds[]; debouncer: PushDebouncer } {
  const time = new FakeTime();
  const flushed: ChangedKinds[] = [];
  return { time, flushed, debouncer: new PushDebouncer({ settings: { debounceQuietMs: quietMs, debounceMaxMs: maxMs }, clock: time, timers: time, flush: (changed) => flushed.push(changed) }) };
}

describe('PushDebouncer', () => {
  it('flushes once the quiet period passes with no further change', () => {
    const { time, flushed, debouncer: d } = debouncer();
    d.notify(new Set(['VirtualService']));
    time.advance(99);
    assert.deepEqual(flushed, []);
    time.advance(1);
    assert.deepEqual(flushed, [new Set(['VirtualService'])]);
    time.advance(5000);
    assert.equal(flushed.length, 1);
  });

  it('merges the kinds of a burst into one flush', () => {
    const { time, flushed, debouncer: d } = debouncer();
    d.notify(new Set(['VirtualService']));
    time.advance(50);
    d.notify(new Set(['DestinationRule', 'VirtualService']));
    time.advance(50);
    d.notify(new Set(['Workload']));
    time.advance(100);
    assert.deepEqual(flushed, [new Set(['VirtualService', 'DestinationRule', 'Workload'])]);
  });

  it("lets 'all' stand for the whole burst", () => {
    const { time, flushed, debouncer: d } = debouncer();
    d.notify(new Set(['VirtualService']));
    d.notify('all');
    d.notify(new Set(['Workload']));
    time.advance(100);
    assert.deepEqual(flushed, ['all']);
  });

  it('flushes a steady stream of changes at the maximum delay after its first change', () => {
    const { time, flushed, debouncer: d } = debouncer(100, 300);
    for (let i = 0; i < 5; i += 1) {
      d.notify(new Set(['Workload']));
      time.advance(80);
    }
    // Changes at 0, 80, 160, 240 (flushed at 300) and 320; the last one starts a new burst.
    assert.equal(flushed.length, 1);
    time.advance(100);
    assert.equal(flushed.length, 2);
  });

  it('drops a pending flush on close', () => {
    const { time, flushed, debouncer: d } = debouncer();
    d.notify('all');
    d.close();
    time.advance(1000);
    assert.deepEqual(flushed, []);
    assert.equal(time.pendingTimers, 0);
  });
});
