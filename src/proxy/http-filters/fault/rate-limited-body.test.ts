import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { Clock, TimerHandle, Timers } from '../../../core/index.ts';
import { RateLimitedBody } from './rate-limited-body.ts';

/** Timers and a clock that move together, by hand. */
class ManualTime implements Timers, Clock {
  #now = 0;
  #next = 0;
  readonly #pending = new Map<number, { at: number; callback: () => void }>();

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    this.#pending.set(++this.#next, { at: this.#now + ms, callback });
    return this.#next;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#pending.delete(handle as number);
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** Moves time on by `ms`, firing due timers in order, letting streams run between them. */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    for (;;) {
      await settle();
      const due = [...this.#pending].filter(([, t]) => t.at <= until).sort(([, a], [, b]) => a.at - b.at)[0];
      if (due === undefined) break;
      this.#pending.delete(due[0]);
      this.#now = due[1].at;
      due[1].callback();
    }
    this.#now = until;
    await settle();
  }
}

/** Lets queued stream callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Collects what the body lets out, with the time each piece came. */
function collect(body: RateLimitedBody, time: ManualTime): { pieces: [number, number][]; ended: () => boolean } {
  const pieces: [number, number][] = [];
  let ended = false;
  body.on('data', (chunk: Buffer) => pieces.push([time.now(), chunk.length]));
  body.on('end', () => (ended = true));
  return { pieces, ended: () => ended };
}

describe('RateLimitedBody', () => {
  it('lets one 50 ms slice out at once, then one slice every 50 ms, until the body is through', async () => {
    const time = new ManualTime();
    // 1 KiB/s: 51.2 bytes per 50 ms.
    const body = RateLimitedBody.wrap(Buffer.alloc(200, 1), 1024, time, time);
    const { pieces, ended } = collect(body, time);
    await time.advance(0);
    assert.deepEqual(pieces, [[0, 51]]);
    await time.advance(200);
    assert.deepEqual(pieces, [[0, 51], [50, 51], [100, 51], [150, 47]]);
    assert.equal(ended(), true);
    assert.equal(time.pending, 0);
  });

  it('lets bytes accumulated while the source was idle out at once, up to one second\'s worth', async () => {
    const time = new ManualTime();
    const source = new PassThrough();
    const body = RateLimitedBody.wrap(source, 1000, time, time);
    const { pieces } = collect(body, time);
    await time.advance(5000);
    source.write(Buffer.alloc(1500));
    await time.advance(0);
    assert.deepEqual(pieces, [[5000, 1000]]);
    await time.advance(500);
    assert.equal(pieces.reduce((sum, [, n]) => sum + n, 0), 1500);
    source.end();
    await time.advance(0);
  });

  it('stops its timer and destroys the source when destroyed mid-way', async () => {
    const time = new ManualTime();
    const source = new PassThrough();
    const body = RateLimitedBody.wrap(source, 1024, time, time);
    collect(body, time);
    source.write(Buffer.alloc(500));
    await time.advance(0);
    assert.equal(time.pending, 1);
    body.destroy();
    await time.advance(0);
    assert.equal(time.pending, 0);
    assert.equal(source.destroyed, true);
  });
});
