/**
 * Mutual TLS and the seeds' security policies in a local mesh (`weft up`, explicit mode), end to
 * end: every workload of fixtures/security is the echo sample under the name and service account a
 * seed names, with a real sidecar that holds a certificate from the control plane's CA.
 *
 * The test plays each client app: in explicit mode an app sends its requests to its sidecar as an
 * HTTP proxy (the HTTP_PROXY that `weft up` gives it, read here from the app's environment), so a
 * request sent there is the app's, with any method and headers. A plaintext client that bypasses
 * every sidecar connects straight to a server's endpoint, the server sidecar's inbound port.
 *
 * One mesh serves every test; each applies its seed, waits until the sidecars enforce it, and
 * deletes it afterwards.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { LocalMeshUnderTest, SEEDS, WEFT } from './local-mesh-support.ts';

const WORKLOADS = fileURLToPath(new URL('./fixtures/security/workloads.yaml', import.meta.url));
const SPIFFE = 'spiffe://cluster.local/ns/default/sa/';
const DENIED = 'RBAC: access denied';

/** What a request got: an HTTP answer, or the error of a connection that gave none. */
type Outcome = { readonly status: number; readonly body: string } | { readonly error: string };

interface Replica {
  readonly address: string;
  /** The sidecar's inbound endpoint of the app's port (`<address>:8080`). */
  readonly endpoint: string;
  /** Where the app's outbound requests go: its HTTP_PROXY. */
  readonly proxy: URL;
}

/** The echo sample's answer: what reached the server app. */
interface Echo {
  readonly workload: string;
  readonly method: string;
  readonly forwardedClientCert: string | null;
}

/** One HTTP/1.1 request to `host:port` with `path` (absolute form for a proxy); never rejects. */
function send(host: string, port: number, path: string, options: { method?: string; headers?: Record<string, string> } = {}, timeoutMs = 5_000): Promise<Outcome> {
  return new Promise((resolve) => {
    const request = httpRequest({ host, port, path, method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false, timeout: timeoutMs }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    });
    request.on('timeout', () => request.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    request.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    request.end();
  });
}

function statusOf(outcome: Outcome): number | string {
  return 'status' in outcome ? outcome.status : outcome.error;
}

/** The sha256 of the DER certificate the sidecar at `endpoint` presents (its workload certificate), and its URI SAN. */
function presentedCertificate(endpoint: string): Promise<{ sha256: string; san: string }> {
  const [host, port] = endpoint.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    // Under TLS 1.3 the server's certificate arrives before it checks (and refuses) the missing client certificate.
    const socket = tlsConnect({ host, port: Number(port), rejectUnauthorized: false, ALPNProtocols: ['istio-http/1.1', 'istio', 'http/1.1'] }, () => {
      const certificate = socket.getPeerCertificate();
      socket.destroy();
      resolve({ sha256: createHash('sha256').update(certificate.raw).digest('hex'), san: certificate.subjectaltname ?? '' });
    });
    socket.setTimeout(5_000, () => socket.destroy(new Error(`no TLS handshake with ${endpoint}`)));
    socket.on('error', reject);
  });
}

describe('weft up --mode explicit: mutual TLS between sidecars and the seeds\' security policies', { timeout: 120_000 }, () => {
  let mesh: LocalMeshUnderTest;
  const replicas = new Map<string, Replica>();

  const replica = (workload: string): Replica => {
    const found = replicas.get(workload);
    assert.ok(found !== undefined, `no replica of ${workload}`);
    return found;
  };
  /** A request from `client`'s app through its sidecar to `url`. */
  const call = (client: string, url: string, method = 'GET', headers: Record<string, string> = {}): Promise<Outcome> => {
    const proxy = replica(client).proxy;
    return send(proxy.hostname, Number(proxy.port), url, { method, headers: { host: new URL(url).host, ...headers } });
  };
  /** A request straight to `server`'s sidecar, as a client without one. */
  const plaintext = (server: string, headers: Record<string, string> = {}): Promise<Outcome> => {
    const [host, port] = replica(server).endpoint.split(':') as [string, string];
    return send(host, Number(port), '/plain', { headers });
  };
  const echoed = (outcome: Outcome): Echo => {
    assert.ok('status' in outcome && outcome.status === 200, `expected 200, got ${JSON.stringify(outcome)}`);
    return JSON.parse(outcome.body) as Echo;
  };
  const applied = async (...files: string[]): Promise<void> => {
    const result = await mesh.weft('apply', ...files.flatMap((f) => ['-f', f]));
    assert.equal(result.code, 0, `weft apply ${files.join(' ')} failed:\n${result.stderr}`);
  };
  const deleted = async (...files: string[]): Promise<void> => {
    const result = await mesh.weft('delete', ...files.flatMap((f) => ['-f', f]));
    assert.equal(result.code, 0, `weft delete ${files.join(' ')} failed:\n${result.stderr}`);
  };
  /** Waits until `client` → `url` answers `status`. */
  const until = async (what: string, client: string, url: string, status: number, method = 'GET', headers: Record<string, string> = {}): Promise<void> => {
    let last: Outcome | undefined;
    const held = await mesh.until(async () => statusOf((last = await call(client, url, method, headers))) === status, 15_000);
    assert.ok(held, `${what}: ${client} ${method} ${url} never answered ${status}; last ${JSON.stringify(last)}`);
  };
  /** Asserts that a plaintext connection to `server` gets no HTTP answer: the sidecar closes it. */
  const refusesPlaintext = async (server: string): Promise<void> => {
    const outcome = await plaintext(server);
    assert.ok('error' in outcome, `a plaintext client got an HTTP answer from ${server}: ${JSON.stringify(outcome)}`);
    assert.ok(['ECONNRESET', 'socket hang up', 'EPIPE'].includes(outcome.error), `${server} did not close the plaintext connection: ${outcome.error}`);
  };

  before(async () => {
    mesh = await LocalMeshUnderTest.start([WORKLOADS], 'explicit');
    for (const workload of (await mesh.status()).workloads) {
      const first = workload.replicas[0]!;
      const env = readFileSync(`/proc/${first.app.pid}/environ`, 'utf8').split('\0');
      const proxy = env.find((e) => e.startsWith('HTTP_PROXY='))?.slice('HTTP_PROXY='.length);
      assert.ok(proxy !== undefined, `${workload.name}'s app has no HTTP_PROXY`);
      replicas.set(workload.name, { address: first.address, endpoint: first.endpoints['8080']!, proxy: new URL(proxy) });
    }
  });
  after(async () => {
    await mesh?.stop();
  });

  it('auto mTLS: the server app sees the caller\'s SPIFFE identity in x-forwarded-client-cert, never one forged by the caller\'s app', async () => {
    const forged = `By=${SPIFFE}reviews;Hash=00;Subject="";URI=${SPIFFE}admin`;
    const reply = echoed(await call('productpage', 'http://reviews:9080/xfcc', 'GET', { 'x-forwarded-client-cert': forged }));
    assert.equal(reply.workload, 'reviews');
    // The client's sidecar drops the app's header (Envoy's default SANITIZE on the outbound side);
    // the server's sidecar appends the element of the peer certificate the mTLS handshake proved.
    const xfcc = reply.forwardedClientCert;
    assert.ok(xfcc !== null, 'no x-forwarded-client-cert reached reviews: the hop was not mutual TLS');
    assert.doesNotMatch(xfcc, /sa\/admin|Hash=00;/, 'the forged element reached the server app');
    const elements = xfcc.split(',');
    assert.equal(elements.length, 1, `one element, the peer's: ${xfcc}`);
    const fields = elements[0]!.split(';');
    assert.equal(fields[0], `By=${SPIFFE}reviews`);
    assert.ok(fields.includes(`URI=${SPIFFE}productpage`), `the caller's identity: ${xfcc}`);
    const hash = fields.find((f) => f.startsWith('Hash='))?.slice('Hash='.length);
    const presented = await presentedCertificate(replica('productpage').endpoint);
    assert.equal(presented.san, `URI:${SPIFFE}productpage`, 'productpage\'s sidecar presents its workload certificate');
    assert.equal(hash, presented.sha256, 'Hash is the sha256 of the certificate productpage\'s sidecar presented');

    // The handshake is counted where Envoy counts it, on the server sidecar's inbound listener.
    const [address] = replica('reviews').endpoint.split(':') as [string];
    const stats = await send(address, 15000, '/stats');
    assert.ok('status' in stats && /listener\.[\d.]+_8080\.ssl\.handshake: [1-9]/.test(stats.body), 'no ssl.handshake on reviews\' inbound listener');

    // PERMISSIVE by default: a plaintext client is served, and the header it forged is removed.
    const direct = echoed(await plaintext('reviews', { 'x-forwarded-client-cert': forged }));
    assert.equal(direct.forwardedClientCert, null, 'a plaintext peer\'s x-forwarded-client-cert reached the app');
  });

  it('weft proxy-config secret shows the certificate a sidecar holds, found by the workload\'s name', async () => {
    // As a user of the default local mesh would: no flags, the state directory from the environment.
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [WEFT, 'proxy-config', 'secret', 'reviews-0.default'], { timeout: 30_000, env: { ...process.env, WEFT_STATE_DIR: mesh.stateDir } }, (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
      });
    });
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.match(lines[0]!, /^RESOURCE NAME\s+TYPE\s+STATUS\s+VALID CERT\s+SERIAL NUMBER\s+NOT AFTER\s+NOT BEFORE$/);
    assert.match(lines[1]!, /^default\s+Cert Chain\s+ACTIVE\s+true\s+[0-9a-f]+\s+\S+\s+\S+$/);
    assert.match(lines[2]!, /^ROOTCA\s+CA\s+ACTIVE\s+true\s+[0-9a-f]+\s+\S+\s+\S+$/);
  });

  it('001-security: STRICT refuses plaintext; only productpage\'s GET reaches reviews', async () => {
    const seed = join(SEEDS, '001-security.yaml');
    await applied(seed);
    try {
      await until('the policy took effect', 'productpage', 'http://reviews:9080/', 403, 'POST');
      assert.ok(await mesh.until(async () => 'error' in (await plaintext('reviews')), 15_000), 'STRICT never took effect');
      await refusesPlaintext('reviews');
      const get = await call('productpage', 'http://reviews:9080/reviews/0');
      assert.equal(echoed(get).method, 'GET');
      assert.deepEqual(await call('productpage', 'http://reviews:9080/reviews/0', 'POST'), { status: 403, body: DENIED });
      assert.deepEqual(await call('ratings', 'http://reviews:9080/reviews/0'), { status: 403, body: DENIED });
      // The policy selects reviews only: ratings' own GET to productpage is still served (over mTLS).
      assert.equal(statusOf(await call('ratings', 'http://productpage:9080/')), 200);
    } finally {
      await deleted(seed);
    }
  });

  it('a DestinationRule with tls turns auto mTLS off for its host: DISABLE is plaintext, ISTIO_MUTUAL mutual TLS (which STRICT takes)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-dr-tls-'));
    const rule = (mode: string): string => {
      const file = join(dir, `dr-${mode}.yaml`);
      writeFileSync(file, `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews-tls, namespace: default}
spec:
  host: reviews
  trafficPolicy: {tls: {mode: ${mode}}}
`);
      return file;
    };
    const strict = join(dir, 'strict.yaml');
    writeFileSync(strict, `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: reviews-strict, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  mtls: {mode: STRICT}
`);
    const disable = rule('DISABLE');
    const mutual = rule('ISTIO_MUTUAL');
    const xfcc = async (): Promise<string | null> => echoed(await call('productpage', 'http://reviews:9080/xfcc')).forwardedClientCert;
    try {
      // Plaintext by the rule: the hop carries no client certificate, so reviews' app sees no XFCC.
      await applied(disable);
      assert.ok(await mesh.until(async () => (await xfcc()) === null, 15_000), 'the DISABLE rule never made the hop plaintext');
      // ISTIO_MUTUAL by the rule: mutual TLS again, and STRICT can be applied.
      await applied(mutual);
      assert.ok(await mesh.until(async () => (await xfcc())?.includes(`URI=${SPIFFE}productpage`) === true, 15_000), 'ISTIO_MUTUAL never made the hop mutual TLS');
      await applied(strict);
      await until('ISTIO_MUTUAL toward STRICT reviews works', 'productpage', 'http://reviews:9080/', 200);
      await deleted(strict);
    } finally {
      await deleted(mutual);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('on a TCP port, a DENY policy closes the connections it matches, and an ALLOW rule with HTTP-only fields matches nothing', async () => {
    /** A tunnel through `client`'s sidecar to db's TCP port (CONNECT), then a request inside it: its status, or the error when the connection was closed. */
    const throughTunnel = (client: string): Promise<number | string> => {
      const proxy = replica(client).proxy;
      return new Promise((resolve) => {
        const connect = httpRequest({ host: proxy.hostname, port: Number(proxy.port), method: 'CONNECT', path: 'db:9000', agent: false, timeout: 5_000 });
        connect.on('connect', (response, socket) => {
          if (response.statusCode !== 200) {
            socket.destroy();
            resolve(`CONNECT ${response.statusCode}`);
            return;
          }
          let data = '';
          socket.setTimeout(5_000, () => socket.destroy());
          socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
          socket.on('close', () => resolve(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1] !== undefined ? Number(/^HTTP\/1\.1 (\d+)/.exec(data)![1]) : 'closed'));
          socket.on('error', () => undefined);
          socket.write('GET /tcp HTTP/1.1\r\nhost: db\r\nconnection: close\r\n\r\n');
        });
        connect.on('timeout', () => connect.destroy(new Error('timeout')));
        connect.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
        connect.end();
      });
    };
    const dir = mkdtempSync(join(tmpdir(), 'weft-tcp-authz-'));
    const policy = (name: string, body: string): string => {
      const file = join(dir, `${name}.yaml`);
      writeFileSync(file, `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: default}
spec:
  selector: {matchLabels: {app: db}}
${body}`);
      return file;
    };
    const deny = policy('db-deny-productpage', `  action: DENY
  rules:
  - from: [{source: {principals: ["cluster.local/ns/default/sa/productpage"]}}]
`);
    const httpOnly = policy('db-allow-get', `  action: ALLOW
  rules:
  - to: [{operation: {methods: ["GET"]}}]
`);
    try {
      assert.equal(await throughTunnel('productpage'), 200);
      await applied(deny);
      assert.ok(await mesh.until(async () => (await throughTunnel('productpage')) === 'closed', 15_000), 'the DENY policy never closed productpage\'s connection');
      assert.equal(await throughTunnel('ratings'), 200, 'the DENY policy names productpage only');
      await deleted(deny);
      await applied(httpOnly);
      // methods is HTTP-only: on a TCP port the ALLOW rule matches nothing, so nothing is allowed.
      assert.ok(await mesh.until(async () => (await throughTunnel('ratings')) === 'closed', 15_000), 'the ALLOW rule with methods still let a TCP connection through');
      await deleted(httpOnly);
      assert.ok(await mesh.until(async () => (await throughTunnel('ratings')) === 200, 15_000), 'removing the policy never reopened db');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('003-security: STRICT, allow-nothing in default, and only frontend-service-account\'s GET and POST reach my-api-service', async () => {
    const seed = join(SEEDS, '003-security.yaml');
    await applied(seed);
    try {
      await until('allow-nothing took effect', 'productpage', 'http://frontend/', 403);
      await until('the allow policy took effect', 'frontend', 'http://my-api-service/', 200, 'POST');
      await refusesPlaintext('my-api-service');
      await refusesPlaintext('frontend');
      assert.equal(echoed(await call('frontend', 'http://my-api-service/items')).method, 'GET');
      assert.equal(echoed(await call('frontend', 'http://my-api-service/items', 'POST')).method, 'POST');
      assert.deepEqual(await call('frontend', 'http://my-api-service/items/1', 'DELETE'), { status: 403, body: DENIED });
      assert.deepEqual(await call('ratings', 'http://my-api-service/items'), { status: 403, body: DENIED });
      // deny-all (spec: {}) is an ALLOW policy with no rules for every workload of default.
      assert.deepEqual(await call('my-api-service', 'http://frontend/'), { status: 403, body: DENIED });
      assert.deepEqual(await call('frontend', 'http://reviews:9080/'), { status: 403, body: DENIED });
    } finally {
      await deleted(seed);
    }
  });

  it('002-security: mesh-wide STRICT from istio-system; booking-service takes only a valid JWT of testing@secure.istio.io', async () => {
    const seed = join(SEEDS, '002-security.yaml');
    const issuer = 'testing@secure.istio.io';
    const trusted = await generateKeyPair('RS256', { extractable: true });
    const other = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(trusted.publicKey)), kid: 'weft-test', alg: 'RS256', use: 'sig' };
    const token = (key: Parameters<SignJWT['sign']>[0]) => new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'weft-test' }).setIssuer(issuer).setSubject(issuer).setIssuedAt().setExpirationTime('1h').sign(key);
    const good = await token(trusted.privateKey);
    const forged = await token(other.privateKey);
    const requestAuthentication = join(mesh.stateDir, 'booking-jwt.yaml');
    writeFileSync(requestAuthentication, [
      'apiVersion: security.istio.io/v1',
      'kind: RequestAuthentication',
      'metadata: {name: booking-jwt, namespace: default}',
      'spec:',
      '  selector: {matchLabels: {app: booking-service}}',
      '  jwtRules:',
      `  - issuer: ${issuer}`,
      `    jwks: '${JSON.stringify({ keys: [jwk] })}'`,
      '',
    ].join('\n'));
    const booking = 'http://booking-service:8080/api/v1/booking/items';
    await applied(seed);
    try {
      await until('require-jwt took effect', 'ratings', booking, 403);
      assert.ok(await mesh.until(async () => 'error' in (await plaintext('booking-service')), 15_000), 'mesh-wide STRICT never took effect');
      await refusesPlaintext('booking-service');
      await refusesPlaintext('ratings');
      assert.deepEqual(await call('ratings', booking), { status: 403, body: DENIED }, 'no token, no request principal');
      await applied(requestAuthentication);
      await until('the RequestAuthentication took effect', 'ratings', booking, 200, 'GET', { authorization: `Bearer ${good}` });
      const other = await call('ratings', booking, 'GET', { authorization: `Bearer ${forged}` });
      assert.equal(statusOf(other), 401, `a token signed by another key: ${JSON.stringify(other)}`);
      assert.deepEqual(await call('ratings', booking), { status: 403, body: DENIED }, 'still no token, no request principal');
    } finally {
      await deleted(seed);
      await mesh.weft('delete', '-f', requestAuthentication);
    }
  });
});
