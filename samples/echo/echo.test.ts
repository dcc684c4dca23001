import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startForwardProxy, startSample, type RunningSample } from '../shared/test-support.ts';
import { parseDurationMs } from './duration.ts';

const CLIENT = fileURLToPath(new URL('client.ts', import.meta.url));

/** Runs the client as a command; resolves with its exit code and output. */
function runClient(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLIENT, ...args], { timeout: 15_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

/** A loopback port that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Echoed {
  version: string;
  pod: string;
  status: number;
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  remoteAddress: string;
  forwardedClientCert: string | null;
  body: string;
}

describe('echo', () => {
  let echo: RunningSample;
  let failing: RunningSample;
  let client: RunningSample;

  before(async () => {
    [echo, failing, client] = await Promise.all([
      startSample('echo/echo.ts', { SERVICE_VERSION: 'v2', POD_NAME: 'echo-v2-0' }),
      startSample('echo/echo.ts', { SERVICE_VERSION: 'v9', DEFAULT_STATUS: '503' }),
      startSample('echo/client.ts'),
    ]);
  });

  after(async () => {
    await Promise.all([echo?.stop(), failing?.stop(), client?.stop()]);
  });

  it('reflects the request: version, replica, method, path, query, headers, caller and body', async () => {
    const xfcc = 'By=spiffe://cluster.local/ns/default/sa/echo;URI=spiffe://cluster.local/ns/default/sa/echo-client';
    const response = await fetch(`${echo.url}/some/path?a=1`, {
      method: 'POST',
      body: 'hello',
      headers: { 'end-user': 'jason', 'x-request-id': 'r-1', 'x-forwarded-client-cert': xfcc },
    });
    assert.equal(response.status, 200);
    const body = await response.json() as Echoed;
    assert.equal(body.version, 'v2');
    assert.equal(body.pod, 'echo-v2-0');
    assert.equal(body.method, 'POST');
    assert.equal(body.path, '/some/path');
    assert.deepEqual(body.query, { a: '1' });
    assert.equal(body.headers['end-user'], 'jason');
    assert.equal(body.headers['x-request-id'], 'r-1');
    assert.equal(body.forwardedClientCert, xfcc);
    assert.equal(body.remoteAddress, '127.0.0.1');
    assert.equal(body.body, 'hello');
  });

  it('says null when no client certificate was forwarded', async () => {
    const body = await (await fetch(`${echo.url}/`)).json() as Echoed;
    assert.equal(body.forwardedClientCert, null);
  });

  it('answers with the status asked for, and waits as long as asked', async () => {
    const unavailable = await fetch(`${echo.url}/?status=503`);
    assert.equal(unavailable.status, 503);
    assert.equal(((await unavailable.json()) as Echoed).status, 503);
    const started = performance.now();
    const delayed = await fetch(`${echo.url}/?delay=150ms`);
    await delayed.text();
    assert.ok(performance.now() - started >= 140);
  });

  it('refuses a status or delay it cannot honour', async () => {
    for (const query of ['status=99', 'status=abc', 'delay=2h', 'delay=-1s']) {
      const response = await fetch(`${echo.url}/?${query}`);
      assert.equal(response.status, 400, query);
      await response.text();
    }
  });

  it('answers every request with DEFAULT_STATUS, as a failing backend', async () => {
    const response = await fetch(`${failing.url}/`);
    assert.equal(response.status, 503);
    await response.text();
    const health = await fetch(`${failing.url}/health`);
    assert.equal(health.status, 200);
    await health.text();
  });

  it('fetches from inside the mesh with /fetch, both with fetch and node:http', async () => {
    for (const via of ['fetch', 'http']) {
      const query = new URLSearchParams({ url: `${echo.url}/hello`, via });
      query.append('header', 'end-user: jason');
      const response = await fetch(`${client.url}/fetch?${query}`);
      assert.equal(response.status, 200);
      const summary = await response.json() as { statuses: Record<string, number>; versions: Record<string, number>; results: { body: Echoed }[] };
      assert.deepEqual(summary.statuses, { 200: 1 });
      assert.deepEqual(summary.versions, { v2: 1 });
      assert.equal(summary.results[0]!.body.headers['end-user'], 'jason', via);
      assert.equal(summary.results[0]!.body.path, '/hello');
    }
  });

  it('counts versions and statuses over several requests, and reports failures', async () => {
    const response = await fetch(`${client.url}/fetch?${new URLSearchParams({ url: `${echo.url}/?status=201`, count: '3' })}`);
    const summary = await response.json() as { statuses: Record<string, number>; versions: Record<string, number>; results: unknown[] };
    assert.deepEqual(summary.statuses, { 201: 3 });
    assert.deepEqual(summary.versions, { v2: 3 });
    assert.equal(summary.results.length, 3);
    const down = await (await fetch(`${client.url}/fetch?url=${encodeURIComponent(`http://127.0.0.1:${await closedPort()}/`)}`)).json() as { errors: Record<string, number> };
    assert.deepEqual(down.errors, { ECONNREFUSED: 1 });
    const bad = await fetch(`${client.url}/fetch?url=ftp://x`);
    assert.equal(bad.status, 400);
    await bad.text();
  });

  it('prints a summary of the versions seen when run as a command', async () => {
    const result = await runClient([`${echo.url}/`, '--count', '4', '--header', 'end-user: jason']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `4 requests to ${echo.url}/ via fetch\n  status:  200 ×4 (100%)\n  version: v2 ×4 (100%)\n`);
  });

  it('prints JSON with --json and exits 1 when requests fail', async () => {
    const json = await runClient([`${echo.url}/`, '--json', '--via', 'http']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual((JSON.parse(json.stdout) as { versions: unknown }).versions, { v2: 1 });
    const failed = await runClient([`http://127.0.0.1:${await closedPort()}/`, '--count', '2']);
    assert.equal(failed.code, 1);
    assert.match(failed.stdout, /failed: {2}ECONNREFUSED ×2 \(100%\)/);
    const usage = await runClient([`${echo.url}/`, '--count', 'many']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /count must be a whole number/);
  });

  it('reads durations as the samples write them', () => {
    assert.equal(parseDurationMs('150ms'), 150);
    assert.equal(parseDurationMs('1.5s'), 1500);
    assert.equal(parseDurationMs('2m'), 120_000);
    assert.equal(parseDurationMs('20'), 20);
    assert.equal(parseDurationMs('soon'), undefined);
  });

  it('reaches a service by name through an explicit-mode sidecar: fetch by CONNECT, node:http by absolute URL', async () => {
    const proxy = await startForwardProxy({ echo: echo.port, 'echo:80': echo.port });
    const proxied = await startSample('echo/client.ts', { HTTP_PROXY: `http://127.0.0.1:${proxy.port}`, NODE_USE_ENV_PROXY: '1', NO_PROXY: 'localhost,127.0.0.1,::1,[::1]' });
    try {
      for (const via of ['fetch', 'http']) {
        const summary = await (await fetch(`${proxied.url}/fetch?${new URLSearchParams({ url: 'http://echo/hi', via })}`)).json() as { versions: Record<string, number>; errors: Record<string, number> };
        assert.deepEqual(summary.errors, {}, via);
        assert.deepEqual(summary.versions, { v2: 1 }, via);
      }
      assert.deepEqual(proxy.seen, ['CONNECT echo:80', 'ABSOLUTE echo']);
    } finally {
      await Promise.all([proxied.stop(), proxy.close()]);
    }
  });
});
