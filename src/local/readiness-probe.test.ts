import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ReadinessProbe } from './readiness-probe.ts';

const clock = { now: () => Date.now() };
const timers = { setTimeout: (f: () => void, ms: number) => setTimeout(f, ms), clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout) };
const timing = { initialDelayMs: 0, periodMs: 50, timeoutMs: 500, successThreshold: 1, failureThreshold: 2 };

function waitFor(check: () => boolean, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms;
  return new Promise((resolve) => {
    const tick = () => (check() ? resolve(true) : Date.now() > deadline ? resolve(false) : setTimeout(tick, 10));
    tick();
  });
}

describe('ReadinessProbe', () => {
  let server: Server;
  let port: number;
  let status = 503;
  before(async () => {
    server = createServer((req, res) => res.writeHead(req.url === '/health' ? status : 404).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => server.close());

  it('is ready once the HTTP check answers 2xx, and not ready after failureThreshold failures in a row', async () => {
    const changes: boolean[] = [];
    const probe = new ReadinessProbe({ action: { kind: 'http', host: '127.0.0.1', port, path: '/health', headers: {} }, timing, clock, timers, onChange: (ready) => changes.push(ready) });
    probe.start();
    try {
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(probe.ready, false);
      assert.match(probe.detail, /status 503/);
      status = 200;
      assert.ok(await waitFor(() => probe.ready));
      status = 500;
      assert.ok(await waitFor(() => !probe.ready));
      assert.deepEqual(changes, [true, false]);
    } finally {
      probe.stop();
      status = 503;
    }
  });

  it('checks TCP by connecting, and says why a refused port is not ready', async () => {
    const up = new ReadinessProbe({ action: { kind: 'tcp', host: '127.0.0.1', port }, timing, clock, timers, onChange: () => undefined });
    const closed = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const down = new ReadinessProbe({ action: { kind: 'tcp', host: '127.0.0.1', port: closed }, timing, clock, timers, onChange: () => undefined });
    up.start();
    down.start();
    try {
      assert.ok(await waitFor(() => up.ready));
      await waitFor(() => down.detail !== 'not probed yet');
      assert.equal(down.ready, false);
      assert.match(down.detail, /ECONNREFUSED/);
    } finally {
      up.stop();
      down.stop();
    }
  });
});
