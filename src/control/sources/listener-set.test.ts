import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ListenerSet } from './listener-set.ts';

describe('ListenerSet', () => {
  it('counts the same function subscribed twice as two subscriptions', () => {
    const set = new ListenerSet<number>();
    const seen: number[] = [];
    const listener = (n: number): void => void seen.push(n);
    const first = set.add(listener);
    set.add(listener);
    set.notify(1);
    first();
    set.notify(2);
    assert.deepEqual(seen, [1, 1, 2]);
  });

  it('calls a listener unsubscribed by an earlier one during the same notification', () => {
    const set = new ListenerSet<void>();
    const calls: string[] = [];
    let second = (): void => {};
    set.add(() => {
      calls.push('first');
      second();
    });
    second = set.add(() => void calls.push('second'));
    set.notify();
    set.notify();
    assert.deepEqual(calls, ['first', 'second', 'first']);
  });

  it('calls every listener, then throws all their errors together', () => {
    const set = new ListenerSet<void>();
    let reached = false;
    set.add(() => { throw new Error('one'); });
    set.add(() => { throw new Error('two'); });
    set.add(() => { reached = true; });
    assert.throws(() => set.notify(), (e: unknown) => e instanceof AggregateError && e.errors.length === 2 && e.message === '2 listeners failed');
    assert.ok(reached);
  });
});
