import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { TimerHandle, Timers } from '../../core/index.ts';
import { JwksResolver } from './jwks-resolver.ts';

/** Timers that fire only when told, recording each delay. */
class ManualTimers implements Timers {
  readonly pending = new Map<number, { callback: () => void; ms: number }>();
  #next = 0;
  setTimeout(callback: () => void, ms: number): TimerHandle {
    this.#next += 1;
    this.pending.set(this.#next, { callback, ms });
    return this.#next;
  }
  clearTimeout(handle: TimerHandle): void {
    this.pending.delete(handle as number);
  }
  /** The delays of the pending timers. */
  delays(): number[] {
    return [...this.pending.values()].map((t) => t.ms);
  }
  fireAll(): void {
    const due = [...this.pending.entries()];
    this.pending.clear();
    for (const [, timer] of due) timer.callback();
  }
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const KEYS_A = '{"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB"}]}';
const KEYS_B = '{"keys":[{"kty":"RSA","kid":"b","n":"AQAB","e":"AQAB"}]}';

describe('JwksResolver', () => {
  /** What the server answers next, by path: a status and a body, or 'hang' to never answer. */
  const answers = new Map<string, { status: number; body: string } | 'hang'>();
  const requests: string[] = [];
  const hanging: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push(req.url ?? '');
    const answer = answers.get(req.url ?? '') ?? { status: 404, body: 'not found' };
    if (answer === 'hang') {
      hanging.push(res);
      return;
    }
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
  });
  let base = '';

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const res of hanging) res.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('answers undefined for a new URI, fetches it in the background, then says so through onChange', async () => {
    answers.set('/first', { status: 200, body: KEYS_A });
    let changes = 0;
    const timers = new ManualTimers();
    const resolver = new JwksResolver({ onChange: () => { changes += 1; }, timers });
    assert.equal(resolver.get(`${base}/first`), undefined);
    assert.equal(resolver.get(`${base}/first`), undefined, 'one fetch at a time');
    await waitFor(() => changes === 1, 'the first change');
    assert.equal(resolver.get(`${base}/first`), KEYS_A);
    assert.equal(requests.filter((r) => r === '/first').length, 1);
    assert.deepEqual(timers.delays(), [20 * 60_000], 'refreshed every 20 minutes');
    resolver.close();
  });

  it('refreshes, telling onChange only when the key set changed', async () => {
    answers.set('/refresh', { status: 200, body: KEYS_A });
    let changes = 0;
    const timers = new ManualTimers();
    const resolver = new JwksResolver({ onChange: () => { changes += 1; }, timers });
    resolver.get(`${base}/refresh`);
    await waitFor(() => changes === 1, 'the first fetch');
    timers.fireAll();
    await waitFor(() => timers.pending.size === 1, 'the refresh');
    assert.equal(changes, 1, 'the same keys are no change');
    answers.set('/refresh', { status: 200, body: KEYS_B });
    timers.fireAll();
    await waitFor(() => changes === 2, 'the rotated keys');
    assert.equal(resolver.get(`${base}/refresh`), KEYS_B);
    resolver.close();
  });

  it('retries a failed fetch with doubling delays, keeping the last good key set, and refuses what is not a key set or is over 1 MiB', async () => {
    answers.set('/flaky', { status: 200, body: KEYS_A });
    let changes = 0;
    const timers = new ManualTimers();
    const resolver = new JwksResolver({ onChange: () => { changes += 1; }, timers, retryInitialMs: 100, retryMaxMs: 250 });
    resolver.get(`${base}/flaky`);
    await waitFor(() => changes === 1, 'the first fetch');
    answers.set('/flaky', { status: 503, body: 'down' });
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      timers.fireAll();
      await waitFor(() => timers.pending.size === 1, `retry ${i + 1}`);
      delays.push(...timers.delays());
    }
    assert.deepEqual(delays, [100, 200, 250]);
    assert.equal(resolver.get(`${base}/flaky`), KEYS_A);
    answers.set('/flaky', { status: 200, body: '{"not":"a key set"}' });
    timers.fireAll();
    await waitFor(() => timers.pending.size === 1, 'the refused answer');
    assert.deepEqual(timers.delays(), [250]);
    assert.equal(resolver.get(`${base}/flaky`), KEYS_A);
    answers.set('/flaky', { status: 200, body: `{"keys":[],"padding":"${'x'.repeat(1 << 20)}"}` });
    timers.fireAll();
    await waitFor(() => timers.pending.size === 1, 'the oversized answer');
    assert.equal(resolver.get(`${base}/flaky`), KEYS_A);
    answers.set('/flaky', { status: 200, body: KEYS_B });
    timers.fireAll();
    await waitFor(() => changes === 2, 'the recovery');
    assert.deepEqual(timers.delays(), [20 * 60_000], 'back to the refresh interval');
    resolver.close();
  });

  it('gives up on a fetch that takes longer than the timeout, and retries it', async () => {
    answers.set('/slow', 'hang');
    const timers = new ManualTimers();
    const resolver = new JwksResolver({ onChange: () => assert.fail('no keys arrived'), timers, timeoutMs: 50 });
    assert.equal(resolver.get(`${base}/slow`), undefined);
    await waitFor(() => timers.pending.size === 1, 'the retry after the timeout');
    assert.deepEqual(timers.delays(), [1_000]);
    resolver.close();
  });

  it('stops its timers and fetches on close', async () => {
    answers.set('/closing', { status: 200, body: KEYS_A });
    answers.set('/closing-slow', 'hang');
    let changes = 0;
    const timers = new ManualTimers();
    const resolver = new JwksResolver({ onChange: () => { changes += 1; }, timers });
    resolver.get(`${base}/closing`);
    await waitFor(() => changes === 1, 'the fetch');
    resolver.get(`${base}/closing-slow`);
    await waitFor(() => requests.includes('/closing-slow'), 'the slow request');
    resolver.close();
    assert.equal(timers.pending.size, 0);
    assert.equal(resolver.get(`${base}/never`), undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(timers.pending.size, 0, 'the aborted fetch schedules no retry');
    assert.ok(!requests.includes('/never'));
    assert.equal(resolver.get(`${base}/closing`), KEYS_A, 'what was fetched is still answered');
  });
});
