/**
 * Local mode end to end, in both modes: `weft up` runs the samples as real processes, each
 * replica with a real `weft proxy` sidecar (explicit mode: on a loopback address of its own, the
 * app calling through HTTP_PROXY; transparent mode: in a network namespace with iptables capture,
 * the app calling services by name), and the ingress gateway; the seed examples are applied with
 * `weft apply` and must behave as their comments say. Transparent mode runs where the tests run as
 * root on Linux (as in CI) and is skipped elsewhere, saying why.
 *
 * Weight splits are checked with a tolerance of 4.5 standard deviations of the binomial count
 * (n requests, share p: |count - np| <= 4.5 * sqrt(np(1-p))), so a correct split fails about
 * once in 150,000 runs, while a split that ignores the weights (0 or 50%) fails every time.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FIXTURES, get, LocalMeshUnderTest, SAMPLES, SEEDS, transparentModeUnavailable, WEFT, type Mode } from './local-mesh-support.ts';

const SPLIT_REQUESTS = 200;

/** Asserts that `count` of `n` is a share `p` within the tolerance above. */
function assertShare(count: number, n: number, p: number, what: string): void {
  const expected = n * p;
  const tolerance = 4.5 * Math.sqrt(n * p * (1 - p));
  assert.ok(Math.abs(count - expected) <= tolerance, `${what}: ${count} of ${n}, expected ${expected} ± ${tolerance.toFixed(1)}`);
}

/** The versions that answered `n` requests, counted. */
async function versions(n: number, send: () => Promise<{ status: number; body: string }>): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const reply = await send();
    const version = reply.status === 200 ? String((JSON.parse(reply.body) as { version?: string }).version) : `status ${reply.status}`;
    counts[version] = (counts[version] ?? 0) + 1;
  }
  return counts;
}

/**
 * Whether every request went to `version`. The rule in effect before a change may send some there
 * too (round robin over all versions sends a third), so a check that the change took effect asks
 * this of ten requests in a row: by chance that would hold once in 59,000.
 */
function onlyVersion(counts: Record<string, number>, version: string): boolean {
  return Object.keys(counts).length === 1 && counts[version] !== undefined;
}

async function applied(mesh: LocalMeshUnderTest, ...files: string[]): Promise<void> {
  const result = await mesh.weft('apply', ...files.flatMap((f) => ['-f', f]));
  assert.equal(result.code, 0, `weft apply ${files.join(' ')} failed:\n${result.stderr}`);
}

async function deleted(mesh: LocalMeshUnderTest, ...files: string[]): Promise<void> {
  const result = await mesh.weft('delete', ...files.flatMap((f) => ['-f', f]));
  assert.equal(result.code, 0, `weft delete ${files.join(' ')} failed:\n${result.stderr}`);
}

const unavailable = transparentModeUnavailable();

for (const mode of ['explicit', 'transparent', 'explicit --shared-loopback'] as const satisfies readonly Mode[]) {
  const skip = mode === 'transparent' ? unavailable ?? false : false;

  describe(`weft up --mode ${mode}: bookinfo and the echo client`, { timeout: 400_000, skip }, () => {
    let mesh: LocalMeshUnderTest;
    const reviews = (headers: Record<string, string> = {}) => get(`${mesh.gateway}/api/v1/products/0/reviews`, headers);

    before(async () => {
      mesh = await LocalMeshUnderTest.start([join(SAMPLES, 'bookinfo'), join(SAMPLES, 'echo')], mode);
      await applied(mesh, ...['bookinfo-gateway.yaml', 'destination-rule-all.yaml', 'virtual-service-all-v1.yaml'].map((f) => join(SAMPLES, 'bookinfo/networking', f)));
    });
    after(async () => {
      await mesh?.stop();
    });

    it('serves the product page through the gateway, with details and reviews from their sidecars', async () => {
      assert.ok(await mesh.until(async () => (await get(`${mesh.gateway}/productpage`)).body.includes('Reviews served by: reviews-v1-0')), 'the page never showed reviews v1');
      const page = await get(`${mesh.gateway}/productpage`);
      assert.equal(page.status, 200);
      assert.match(page.body, /William Shakespeare/);
      assert.match(page.body, /Reviews served by: reviews-v1-0/);
    });

    it('shows the workloads ready and synced in weft status, and logs of apps and sidecars', async () => {
      const table = await mesh.weft('status');
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^reviews-v2\s+default\s+1\/1\s+1\/1\s+v2\s+0/m);
      assert.match(table.stdout, /ingress gateway: http:\/\/127\.0\.0\.1:\d+ \(running, SYNCED\)/);
      const app = await mesh.weft('logs', 'reviews-v1');
      assert.match(app.stdout, /listening on \d+/);
      assert.match(app.stdout, /GET \/reviews\/0 200/);
      const sidecar = await mesh.weft('logs', 'productpage-v1', '-c', 'istio-proxy');
      assert.match(sidecar.stdout, /"GET \/reviews\/0 HTTP\/1\.1" 200 .* outbound\|9080\|v1\|reviews\.default\.svc\.cluster\.local/);
      const vs = await mesh.weft('get', 'vs');
      assert.match(vs.stdout, /VirtualService\s+default\s+reviews\s/);
      const yaml = await mesh.weft('get', 'virtualservice', 'reviews', '-o', 'yaml');
      assert.match(yaml.stdout, /kind: VirtualService[\s\S]*subset: v1/);
    });

    it('follows a log with weft logs -f', async () => {
      const follow = spawn(process.execPath, [WEFT, 'logs', '--state-dir', mesh.stateDir, '-f', 'details-v1'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let output = '';
      follow.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      try {
        assert.ok(await mesh.until(async () => output.includes('listening on'), 5_000), 'the log so far was not printed');
        const before = output.split('GET /details/7 ').length;
        await get(`${mesh.gateway}/api/v1/products/7`);
        assert.ok(await mesh.until(async () => output.split('GET /details/7 ').length > before, 5_000), 'the new line was not followed');
      } finally {
        follow.kill('SIGINT');
      }
    });

    it('000-reviews-routing: end-user beta-tester gets v2; everyone else 90% v1, 10% v2', async () => {
      const v1 = join(SAMPLES, 'bookinfo/networking/virtual-service-all-v1.yaml');
      await deleted(mesh, v1);
      await applied(mesh, join(SEEDS, '000-reviews-routing.yaml'));
      try {
        assert.ok(await mesh.until(async () => onlyVersion(await versions(10, () => reviews({ 'end-user': 'beta-tester' })), 'v2')), 'beta-tester never reached only v2');
        assert.deepEqual(await versions(20, () => reviews({ 'end-user': 'beta-tester' })), { v2: 20 });
        const split = await versions(SPLIT_REQUESTS, () => reviews());
        assert.deepEqual(Object.keys(split).sort(), ['v1', 'v2']);
        assertShare(split['v2']!, SPLIT_REQUESTS, 0.1, 'share of v2');
      } finally {
        await deleted(mesh, join(SEEDS, '000-reviews-routing.yaml'));
      }
    });

    it('001-reviews: jason always gets v2; everyone else 90% v1, 10% v3', async () => {
      await applied(mesh, join(SEEDS, '001-reviews.yaml'));
      assert.ok(await mesh.until(async () => onlyVersion(await versions(10, () => reviews({ 'end-user': 'jason' })), 'v2')), 'jason never reached only v2');
      assert.deepEqual(await versions(20, () => reviews({ 'end-user': 'jason' })), { v2: 20 });
      const split = await versions(SPLIT_REQUESTS, () => reviews());
      assert.deepEqual(Object.keys(split).sort(), ['v1', 'v3']);
      assertShare(split['v3']!, SPLIT_REQUESTS, 0.1, 'share of v3');
    });

    it('001-reviews: a reviews host that answers 5 consecutive 5xx is ejected, and traffic goes to the others (retried meanwhile, so no client sees an error)', async () => {
      const run = await mesh.weft('run', '--name', 'reviews-broken', '--port', '9080', '--label', 'app=reviews', '--label', 'version=v1', '--env', 'DEFAULT_STATUS=503', '--', process.execPath, join(SAMPLES, 'echo/echo.ts'));
      assert.equal(run.code, 0, run.stderr);
      try {
        const brokenRequests = async (): Promise<number> => (await mesh.weft('logs', 'reviews-broken', '-c', 'istio-proxy')).stdout.split('\n').filter((l) => l.includes('"GET /reviews/0 ')).length;
        // The product page's sidecar round-robins v1 over reviews-v1-0 and the new replica once it has its endpoint.
        assert.ok(await mesh.until(async () => {
          await reviews();
          return (await brokenRequests()) > 0;
        }, 30_000), 'the broken replica never got a request');
        const statuses = new Set<number>();
        for (let i = 0; i < 40; i++) statuses.add((await reviews()).status);
        assert.deepEqual([...statuses], [200], 'the 503s were retried on another host');
        // Access log lines are flushed in batches: wait for the fifth, then make sure there is no sixth.
        await mesh.until(async () => (await brokenRequests()) >= 5, 5_000);
        assert.equal(await brokenRequests(), 5, 'ejected after its fifth 503, for 60 s: no request since');
      } finally {
        const removed = await mesh.weft('delete', 'localworkload', 'reviews-broken');
        assert.equal(removed.code, 0, removed.stderr);
      }
    });

    it('LocalRateLimit: the details sidecar refuses requests beyond its bucket with 429 local_rate_limited; other services are not limited', async () => {
      const limit = join(mesh.stateDir, 'details-limit.yaml');
      writeFileSync(limit, [
        'apiVersion: policy.weft.dev/v1alpha1',
        'kind: LocalRateLimit',
        'metadata: {name: details-limit, namespace: default}',
        'spec:',
        '  selector: {matchLabels: {app: details}}',
        '  tokenBucket: {maxTokens: 2, tokensPerFill: 2, fillInterval: 1h}',
        '',
      ].join('\n'));
      const client = (await mesh.status()).workloads.find((w) => w.name === 'echo-client')!.replicas[0]!;
      const probe = async (url: string, count: number): Promise<{ statuses: Record<string, number>; results: { body?: unknown }[] }> =>
        JSON.parse((await get(`http://${client.endpoints['8080']}/fetch?url=${encodeURIComponent(url)}&count=${count}&via=http`)).body) as { statuses: Record<string, number>; results: { body?: unknown }[] };
      await applied(mesh, limit);
      try {
        // Whatever else calls details spends the same two tokens: wait until they are gone.
        assert.ok(await mesh.until(async () => (await probe('http://details:9080/details/0', 1)).statuses['429'] === 1, 15_000), 'details never refused a request');
        const refused = await probe('http://details:9080/details/0', 5);
        assert.deepEqual(refused.statuses, { 429: 5 }, 'an empty bucket of 2 an hour refuses every request');
        assert.equal((await probe('http://details:9080/details/0', 1)).results[0]!.body, 'local_rate_limited');
        assert.deepEqual((await probe('http://ratings:9080/ratings/0', 5)).statuses, { 200: 5 });
      } finally {
        await deleted(mesh, limit);
      }
      assert.ok(await mesh.until(async () => (await probe('http://details:9080/details/0', 1)).statuses['200'] === 1, 15_000), 'details still limited after the limit was deleted');
    });

    it('injects faults as Istio\'s task shows: a 7 s delay for jason makes the page give up on reviews after two 3 s tries; an abort fails ratings', async () => {
      const networking = join(SAMPLES, 'bookinfo/networking');
      const page = (user?: string) => get(`${mesh.gateway}/productpage`, user === undefined ? {} : { 'end-user': user }, 20_000);
      await applied(mesh, join(networking, 'virtual-service-ratings-test-delay.yaml'));
      try {
        assert.ok(await mesh.until(async () => (await page('jason')).body.includes('Sorry, product reviews are currently unavailable for this book.'), 30_000), 'the delay never showed');
        const started = Date.now();
        const delayed = await page('jason');
        assert.match(delayed.body, /Sorry, product reviews are currently unavailable for this book\./);
        assert.ok(Date.now() - started >= 5_500, `the page gave up after ${Date.now() - started} ms, before two 3 s tries`);
        assert.match((await page()).body, /Reviews served by: reviews-v[13]-0/);
        await applied(mesh, join(networking, 'virtual-service-ratings-test-abort.yaml'));
        assert.ok(await mesh.until(async () => (await page('jason')).body.includes('Ratings service is currently unavailable'), 15_000), 'the abort never showed');
        assert.doesNotMatch((await page()).body, /Ratings service is currently unavailable/);
      } finally {
        await deleted(mesh, join(networking, 'virtual-service-ratings-test-abort.yaml'));
      }
    });

    it('refuses a bad resource with its file, line and field, and keeps serving the last good config', async () => {
      const bad = join(mesh.stateDir, 'bad-reviews.yaml');
      writeFileSync(bad, [
        'apiVersion: networking.istio.io/v1',
        'kind: VirtualService',
        'metadata: {name: reviews}',
        'spec:',
        '  hosts: [reviews]',
        '  http:',
        '  - route:',
        '    - destination: {host: reviews, subset: v2}',
        '      weight: 250',
        '',
      ].join('\n'));
      const result = await mesh.weft('apply', '-f', bad);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /bad-reviews\.yaml:9/);
      assert.match(result.stderr, /weight/);
      assert.deepEqual(await versions(10, () => reviews({ 'end-user': 'jason' })), { v2: 10 });
    });

    it('lets an app call through its sidecar with node:http and with fetch (explicit: absolute form and CONNECT; transparent: captured)', async () => {
      const status = await mesh.status();
      const client = status.workloads.find((w) => w.name === 'echo-client')!.replicas[0]!;
      for (const via of ['http', 'fetch']) {
        const reply = await get(`http://${client.endpoints['8080']}/fetch?url=${encodeURIComponent('http://echo/')}&via=${via}&count=4`);
        assert.equal(reply.status, 200, reply.body);
        const summary = JSON.parse(reply.body) as { statuses: Record<string, number> };
        assert.deepEqual(summary.statuses, { 200: 4 }, `via ${via}: ${reply.body}`);
      }
      if (mode !== 'transparent') {
        const outside = await get(`http://${client.endpoints['8080']}/fetch?url=${encodeURIComponent('http://example.invalid/')}&via=http`);
        assert.match(outside.body, /"502"/);
      }
    });

    it('gives an app that does not use a proxy a port per service in WEFT_SERVICE_* (explicit mode)', { skip: mode === 'transparent' ? 'transparent mode captures instead' : false }, async () => {
      const client = (await mesh.status()).workloads.find((w) => w.name === 'echo-client')!.replicas[0]!;
      const env = readFileSync(`/proc/${client.app.pid}/environ`, 'utf8').split('\0');
      const echo = env.find((e) => e.startsWith('WEFT_SERVICE_ECHO_80='))?.split('=')[1];
      assert.ok(echo !== undefined, `no WEFT_SERVICE_ECHO_80 in ${env.filter((e) => e.startsWith('WEFT_')).join(' ')}`);
      assert.ok(echo.startsWith(`${client.address}:`));
      const viaLocalPort = await get(`http://${echo}/`);
      assert.equal(viaLocalPort.status, 200);
      assert.match(JSON.parse(viaLocalPort.body).version, /^v[12]$/);
      const fromApp = await get(`http://${client.endpoints['8080']}/fetch?url=${encodeURIComponent(`http://${echo}/`)}&via=fetch`);
      assert.deepEqual((JSON.parse(fromApp.body) as { statuses: Record<string, number> }).statuses, { 200: 1 });
    });

    it('restarts an app that crashes, and it takes traffic again', async () => {
      const before = (await mesh.status()).workloads.find((w) => w.name === 'details-v1')!.replicas[0]!;
      process.kill(before.app.pid!, 'SIGKILL');
      assert.ok(await mesh.until(async () => {
        const now = (await mesh.status()).workloads.find((w) => w.name === 'details-v1')!.replicas[0]!;
        return now.app.restarts === 1 && now.ready && now.app.state === 'running';
      }, 20_000), 'details was not restarted');
      assert.ok(await mesh.until(async () => (await get(`${mesh.gateway}/api/v1/products/0`)).status === 200, 10_000));
    });

    it('weft run adds a workload with its sidecar, and --expose makes it a service', async () => {
      const result = await mesh.weft('run', '--name', 'hello', '--port', '9000', '--expose', '--env', 'SERVICE_VERSION=hello', '--', process.execPath, join(SAMPLES, 'echo/echo.ts'));
      assert.equal(result.code, 0, result.stderr);
      const client = (await mesh.status()).workloads.find((w) => w.name === 'echo-client')!.replicas[0]!;
      assert.ok(await mesh.until(async () => {
        const reply = await get(`http://${client.endpoints['8080']}/fetch?url=${encodeURIComponent('http://hello:9000/')}&via=http`);
        return reply.status === 200 && /"hello"/.test(reply.body);
      }, 30_000), 'hello never answered through the mesh');
    });
    it('serves a Gateway on port 80 beside bookinfo\'s on 8080 on the one gateway port, as Istio\'s gateway Service maps them', async () => {
      const run = await mesh.weft('run', '--name', 'my-blog-service', '--port', '8080', '--expose', '--service-port', '80', '--env', 'SERVICE_VERSION=blog', '--', process.execPath, join(SAMPLES, 'echo/echo.ts'));
      assert.equal(run.code, 0, run.stderr);
      await applied(mesh, join(SEEDS, '003-gateway-blog.yaml'));
      assert.ok(await mesh.until(async () => (await get(mesh.gateway, { host: 'codewithmsmaxpro.me' })).status === 200, 30_000), 'the blog never answered through the gateway');
      assert.equal(JSON.parse((await get(mesh.gateway, { host: 'codewithmsmaxpro.me' })).body).version, 'blog');
      assert.equal((await get(`${mesh.gateway}/productpage`)).status, 200);
    });
  });

  describe(`weft up --mode ${mode}: the booking app and the seed gateways, resumed after a stop`, { timeout: 400_000, skip }, () => {
    let mesh: LocalMeshUnderTest;

    before(async () => {
      mesh = await LocalMeshUnderTest.start([join(SAMPLES, 'booking'), FIXTURES], mode);
    });
    after(async () => {
      await mesh?.stop();
    });

    it('002-booking-gateway: /api/v1/booking reaches booking-service through the gateway; other paths 404', async () => {
      await applied(mesh, join(SEEDS, '002-booking-gateway.yaml'));
      assert.ok(await mesh.until(async () => (await get(`${mesh.gateway}/api/v1/booking/items`)).status === 200), 'the booking API never answered');
      const items = await get(`${mesh.gateway}/api/v1/booking/items`, { host: 'shop.example.com' });
      assert.equal(items.status, 200);
      assert.match(items.body, /booking-service/);
      assert.equal((await get(`${mesh.gateway}/api/v2/other`)).status, 404);
    });

    it('003-gateway-blog: only host codewithmsmaxpro.me reaches my-blog-service; other hosts 404', async () => {
      await deleted(mesh, join(SEEDS, '002-booking-gateway.yaml'));
      await applied(mesh, join(SEEDS, '003-gateway-blog.yaml'));
      assert.ok(await mesh.until(async () => (await get(mesh.gateway, { host: 'codewithmsmaxpro.me' })).status === 200), 'the blog never answered');
      const blog = await get(`${mesh.gateway}/posts/1`, { host: 'codewithmsmaxpro.me' });
      assert.equal(JSON.parse(blog.body).version, 'blog');
      assert.equal((await get(mesh.gateway, { host: 'other.example.com' })).status, 404);
    });

    it('003-canary: my-app.example.com goes 90% to v1 and 10% to v2', async () => {
      await applied(mesh, join(FIXTURES, 'my-app-gateway.yaml'), join(SEEDS, '003-canary.yaml'));
      const app = () => get(mesh.gateway, { host: 'my-app.example.com' });
      assert.ok(await mesh.until(async () => (await app()).status === 200), 'my-app never answered');
      const split = await versions(SPLIT_REQUESTS, app);
      assert.deepEqual(Object.keys(split).sort(), ['v1', 'v2']);
      assertShare(split['v2']!, SPLIT_REQUESTS, 0.1, 'share of v2');
    });

    it('resumes where it left off: weft up after weft down serves what was applied', async () => {
      const stateDir = mesh.stateDir;
      const down = await mesh.weft('down');
      assert.equal(down.code, 0, down.stderr);
      assert.match(down.stdout, /stopped/);
      mesh = await LocalMeshUnderTest.restart(stateDir, mode);
      assert.ok(await mesh.until(async () => (await get(mesh.gateway, { host: 'codewithmsmaxpro.me' })).status === 200, 30_000), 'the blog route did not come back');
    });
  });
}
