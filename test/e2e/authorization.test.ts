import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { GATEWAY, Mesh, eventually, serviceYaml, type RawReply, type SeenRequest, type Upstream } from './mesh-harness.ts';

/**
 * Issue 7 end to end: AuthorizationPolicy, RequestAuthentication and meshConfig.pathNormalization
 * proven over real sockets at the ingress gateway, from the YAML a user writes to what the client
 * and the app see. Policies select the gateway (namespace istio-system, label
 * istio=ingressgateway) the way Istio's docs do.
 */

const APP_HOST = 'app.test';
const ISSUER = 'testing@secure.istio.io';
const AUTHZ_PROVIDER = 'test-authz';

let gateway: Mesh;
let app: Upstream;
let authorizer: Upstream;
let jwksServer: Upstream;

const ROUTE_YAML = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: app, namespace: default}
spec:
  hosts: [${APP_HOST}]
  gateways: [${GATEWAY}]
  http:
  - route: [{destination: {host: app, port: {number: 8000}}}]
`;

/** An AuthorizationPolicy selecting the gateway; `body` is the YAML under `spec:` after the selector, indented two spaces. */
function policy(name: string, body: string): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
${body}`;
}

/** The RBAC policy name Istio gives rule `i` of a policy in istio-system. */
function ruleName(name: string, i = 0): string {
  return `ns[istio-system]-policy[${name}]-rule[${i}]`;
}

const marker = (name: string): string => `policy[${name}]`;

/** The requests the app saw carrying `x-probe: <id>`. */
function seenBy(upstream: Upstream, id: string): SeenRequest[] {
  return upstream.seen.filter((s) => s.headers['x-probe'] === id);
}

let probes = 0;
/** A request through the gateway, tagged so that what the app saw of it can be found. */
async function probe(target: string, headers: Readonly<Record<string, string>> = {}, method = 'GET'): Promise<RawReply & { readonly seen: SeenRequest[] }> {
  const id = `p${++probes}`;
  const reply = await gateway.sendRaw(target, { host: APP_HOST, method, headers: { ...headers, 'x-probe': id } });
  return { ...reply, seen: seenBy(app, id) };
}

function assertDenied(reply: RawReply & { readonly seen: SeenRequest[] }, rule: string, what: string): void {
  assert.equal(reply.status, 403, `${what}: ${reply.status} ${reply.body}`);
  assert.equal(reply.body, 'RBAC: access denied', what);
  assert.equal(reply.headers['x-weft-rbac-policy'], rule, what);
  assert.equal(reply.seen.length, 0, `${what} reached the app`);
}

function assertServed(reply: RawReply & { readonly seen: SeenRequest[] }, what: string): SeenRequest {
  assert.equal(reply.status, 200, `${what}: ${reply.status} ${reply.body}`);
  assert.equal(reply.seen.length, 1, `${what}: the app saw it ${reply.seen.length} times`);
  return reply.seen[0]!;
}

before(async () => {
  gateway = await Mesh.start({
    mesh: {
      extensionProviders: [{
        name: AUTHZ_PROVIDER,
        envoyExtAuthzHttp: {
          service: 'ext-authz.default.svc.cluster.local', port: 8000, timeout: '5s',
          includeRequestHeadersInCheck: ['x-allow', 'x-probe'],
          headersToUpstreamOnAllow: ['x-ext-authz-check-result'],
          headersToDownstreamOnDeny: ['x-ext-authz-check-result'],
        },
      }],
    },
  });
  app = await gateway.upstream('app');
  authorizer = await gateway.upstream('ext-authz');
  jwksServer = await gateway.upstream('jwks');
  // The external authorizer: allows a request with x-allow: yes, refuses any other with its own 403.
  authorizer.answer = (check) => (check.headers['x-allow'] === 'yes'
    ? { status: 200, headers: { 'x-ext-authz-check-result': 'allowed' } }
    : { status: 403, headers: { 'x-ext-authz-check-result': 'denied' }, body: 'denied by ext_authz for a missing x-allow: yes' });
  gateway.apply('app-service', serviceYaml('app', { name: 'http', number: 8000 }, [{ upstream: app }]));
  gateway.apply('authz-service', serviceYaml('ext-authz', { name: 'http', number: 8000 }, [{ upstream: authorizer }]));
  await gateway.configure('route', ROUTE_YAML);
  await gateway.waitForHosts('outbound|8000||app.default.svc.cluster.local', 1);
  await eventually(async () => (await probe('/ready-check')).status === 200, 'the route to the app');
});

after(async () => {
  await gateway?.close();
  await Promise.all([app?.close(), authorizer?.close(), jwksServer?.close()]);
});

describe('AuthorizationPolicy at the ingress gateway: ALLOW, DENY and their empty forms', () => {
  after(async () => {
    for (const file of ['deny-admin', 'allow-nothing', 'allow-all', 'alice-get']) gateway.remove(file);
    await gateway.waitForListeners([], [marker('deny-admin'), marker('allow-all'), marker('alice-get')]);
    await eventually(async () => (await probe('/after-allow')).status === 200, 'no ALLOW policy left');
  });

  it('DENY on /admin* answers 403 "RBAC: access denied" naming the rule in x-weft-rbac-policy; other paths reach the app', async () => {
    gateway.apply('deny-admin', policy('deny-admin', `  action: DENY
  rules:
  - to: [{operation: {paths: ["/admin*"]}}]
`));
    await gateway.waitForListeners([marker('deny-admin')]);
    for (const path of ['/admin', '/admin/users', '/administrator', '/admin?debug=1']) assertDenied(await probe(path), ruleName('deny-admin'), path);
    for (const path of ['/', '/public', '/x/admin', '/Admin']) assertServed(await probe(path), path);
  });

  it('spec: {} (allow-nothing) denies every request, matching no rule', async () => {
    gateway.apply('allow-nothing', policy('allow-nothing', ''));
    await eventually(async () => (await probe('/public')).status === 403, 'allow-nothing to take effect');
    for (const path of ['/', '/public', '/anything/at/all']) {
      for (const method of ['GET', 'POST']) assertDenied(await probe(path, {}, method), 'none', `${method} ${path}`);
    }
  });

  it('rules: [{}] allows everything even beside allow-nothing (ALLOW policies are ORed); DENY still wins over it', async () => {
    gateway.apply('allow-all', policy('allow-all', `  action: ALLOW
  rules: [{}]
`));
    await gateway.waitForListeners([marker('allow-all'), marker('deny-admin')]);
    for (const path of ['/', '/public', '/anything/at/all']) assertServed(await probe(path, {}, 'DELETE'), `DELETE ${path}`);
    assertDenied(await probe('/admin/users'), ruleName('deny-admin'), 'DENY over an ALLOW that matches everything');
  });

  it('matches methods, notPaths and a request.headers condition (values ORed, fields ANDed); what no ALLOW rule matches is denied', async () => {
    gateway.remove('allow-all');
    gateway.apply('alice-get', policy('alice-get', `  action: ALLOW
  rules:
  - to: [{operation: {methods: [GET, HEAD], notPaths: ["/private*"]}}]
    when:
    - key: request.headers[x-user]
      values: [alice, "bob*"]
`));
    await gateway.waitForListeners([marker('alice-get')], [marker('allow-all')]);
    assertServed(await probe('/data', { 'x-user': 'alice' }), 'GET /data as alice');
    assertServed(await probe('/data', { 'x-user': 'bobby' }), 'GET /data as bobby (prefix bob*)');
    assertDenied(await probe('/data', { 'x-user': 'carol' }), 'none', 'GET /data as carol');
    assertDenied(await probe('/data'), 'none', 'GET /data without x-user');
    assertDenied(await probe('/data', { 'x-user': 'alice' }, 'POST'), 'none', 'POST /data as alice');
    assertDenied(await probe('/private/key', { 'x-user': 'alice' }), 'none', 'GET /private/key as alice (notPaths)');
    assertDenied(await probe('/admin', { 'x-user': 'alice' }), ruleName('deny-admin'), 'DENY before ALLOW');
  });
});

/**
 * What a plain app makes of the path it receives: the query cut off, percent-decoded once,
 * backslashes taken as slashes, dot segments resolved and slashes merged (RFC 3986, as most
 * frameworks route).
 */
function appView(received: string): string {
  const query = received.search(/[?#]/);
  const raw = query < 0 ? received : received.slice(0, query);
  const decoded = raw.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  return resolve(decoded.replaceAll('\\', '/'));
}

/**
 * A laxer app's view (Tomcat/Spring style): `;` path parameters dropped from each segment, and the
 * decoded path cut at NUL, `?` or `#` and trimmed. Istio and Envoy do not defend against these;
 * they are recorded, not asserted.
 */
function laxAppView(received: string): string {
  const query = received.search(/[?#]/);
  const raw = (query < 0 ? received : received.slice(0, query)).split('/').map((s) => s.replace(/;.*$/, '')).join('/');
  const decoded = raw.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  const cut = decoded.search(/[\0?#]/);
  return resolve((cut < 0 ? decoded : decoded.slice(0, cut)).replaceAll('\\', '/').trim());
}

function resolve(path: string): string {
  const out: string[] = [];
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i]!;
    const last = i === segments.length - 1;
    if (segment === '.' || segment === '..') {
      if (segment === '..') out.pop();
      if (last) out.push('');
    } else if (segment !== '' || last) {
      out.push(segment);
    }
  }
  return `/${out.join('/')}`;
}

function underAdmin(path: string): boolean {
  return path === '/admin' || path.startsWith('/admin/');
}

/** What a crafted request must come to: denied, rejected, either, or forwarded with exactly this path. */
type Outcome = 403 | 400 | 'blocked' | { readonly forwarded: string } | 'safe';

interface Crafted {
  /** The request target, byte for byte (or for `h2`, the :path). */
  readonly target: string;
  readonly expect: Outcome;
  readonly h2?: boolean;
}

/** Requests that a client could use to reach /admin past a DENY on ["/admin", "/admin/*"]. */
const CORPUS: readonly Crafted[] = [
  { target: '/admin', expect: 403 },
  { target: '/admin/', expect: 403 },
  { target: '/admin/x', expect: 403 },
  { target: '//admin', expect: 403 },
  { target: '///admin/x', expect: 403 },
  { target: '/./admin', expect: 403 },
  { target: '/x/../admin', expect: 403 },
  { target: '/x/../../admin', expect: 403 },
  { target: '/admin/.', expect: 403 },
  { target: '/admin/../admin', expect: 403 },
  { target: '/admin/..;/x', expect: 403 },
  { target: '/%2e/admin', expect: 403 },
  { target: '/%2E%2E/admin', expect: 403 },
  { target: '/x/%2e%2e/admin', expect: 403 },
  { target: '/%2e%2e%2fadmin', expect: 403 },
  { target: '/%2Fadmin', expect: 403 },
  { target: '/%2fadmin', expect: 403 },
  { target: '/%2F%2Fadmin', expect: 403 },
  { target: '/admin%2F', expect: 403 },
  { target: '/admin%2Fx', expect: 403 },
  { target: '/public/..%2Fadmin', expect: 403 },
  { target: '/public%2F..%2Fadmin', expect: 403 },
  { target: '/public%2F%2E%2E%2Fadmin', expect: 403 },
  { target: '/./%2F/./admin', expect: 403 },
  { target: '/admin/%2e%2e/%2e%2e/admin', expect: 403 },
  { target: '/%5Cadmin', expect: 403 },
  { target: '/%5cadmin%5cx', expect: 403 },
  { target: '/admin%5C', expect: 403 },
  { target: '/public/..%5Cadmin', expect: 403 },
  { target: '/\\admin', expect: 'blocked' },
  { target: '\\admin', expect: 'blocked' },
  { target: '/%61dmin', expect: 403 },
  { target: '/%61%64%6D%69%6E/x', expect: 403 },
  { target: '/admin?x=1', expect: 403 },
  { target: '/admin/?next=/../public', expect: 403 },
  { target: '/admin#frag', expect: 'blocked' },
  { target: '/admin/#/../../public', expect: 'safe' },
  { target: 'http://app.test/admin', expect: 'blocked' },
  { target: 'http://app.test/public/..%2Fadmin', expect: 'blocked' },
  // Case: the app gets the case the client sent, which a case-sensitive app does not route to /admin.
  { target: '/ADMIN', expect: { forwarded: '/ADMIN' } },
  { target: '/Admin/x', expect: { forwarded: '/Admin/x' } },
  { target: '/%41DMIN', expect: { forwarded: '/ADMIN' } },
  // Reserved characters stay encoded: the app decodes them into a segment that is not `admin`.
  { target: '/admin%3Fx', expect: { forwarded: '/admin%3Fx' } },
  { target: '/admin%23x', expect: { forwarded: '/admin%23x' } },
  { target: '/admin%00', expect: { forwarded: '/admin%00' } },
  { target: '/admin%20', expect: { forwarded: '/admin%20' } },
  { target: '/admin%09', expect: { forwarded: '/admin%09' } },
  // Double encoding: the proxy decodes once (and %25 not at all), so the app sees %2F, not a slash.
  { target: '/%252Fadmin', expect: { forwarded: '/%252Fadmin' } },
  { target: '/admin%252F', expect: { forwarded: '/admin%252F' } },
  { target: '/%2561dmin', expect: { forwarded: '/%2561dmin' } },
  { target: '/admin;x', expect: { forwarded: '/admin;x' } },
  { target: '/x/..;/admin', expect: { forwarded: '/x/..;/admin' } },
  { target: '/admin/..', expect: { forwarded: '/' } },
  { target: '/public?/admin', expect: { forwarded: '/public?/admin' } },
  // Malformed: refused before any filter.
  { target: '/admin%', expect: 400 },
  { target: '/adm%in', expect: 400 },
  { target: '/%u0061dmin', expect: 400 },
  { target: '/ admin', expect: 'blocked' },
  { target: '/admin\t', expect: 'safe' },
  { target: '/adm\x00in', expect: 'blocked' },
  // HTTP/2: the same normalization on :path.
  { target: '//admin', expect: 403, h2: true },
  { target: '/%2Fadmin', expect: 403, h2: true },
  { target: '/x/../admin', expect: 403, h2: true },
  { target: '/%61dmin/x', expect: 403, h2: true },
  { target: '/%5C%2E%2E%5Cadmin', expect: 403, h2: true },
];

interface Outcome2 {
  readonly target: string;
  readonly h2: boolean;
  readonly status: number | undefined;
  /** The path the app received, when it received the request. */
  readonly received: string | undefined;
}

async function runCrafted(via: Mesh, crafted: Crafted): Promise<Outcome2> {
  const id = `c${++probes}`;
  const options = { host: APP_HOST, method: 'GET', headers: { 'x-probe': id }, timeoutMs: 5000 };
  // A stream the gateway resets counts as refused, as a raw request it closes without an answer does.
  const status = crafted.h2 === true
    ? await via.sendHttp2(crafted.target, options).then((reply) => reply.status, () => undefined)
    : (await via.sendRaw(crafted.target, options)).status;
  const seen = seenBy(app, id);
  assert.ok(seen.length <= 1, `${crafted.target} reached the app ${seen.length} times`);
  return { target: crafted.target, h2: crafted.h2 === true, status, received: seen[0]?.path };
}

function describeOutcome(o: Outcome2): string {
  return `${o.h2 ? 'h2 ' : ''}${JSON.stringify(o.target)} -> ${o.status ?? 'no answer'}${o.received !== undefined ? ` app got ${JSON.stringify(o.received)}` : ''}`;
}

describe('path normalization (default DECODE_AND_MERGE_SLASHES): no crafted path reaches /admin past a DENY', () => {
  const DENY = 'deny-admin-paths';

  before(async () => {
    gateway.apply(DENY, policy(DENY, `  action: DENY
  rules:
  - to: [{operation: {paths: ["/admin", "/admin/*"]}}]
`));
    await gateway.waitForListeners([marker(DENY)]);
  });

  after(async () => {
    gateway.remove(DENY);
    await gateway.waitForListeners([], [marker(DENY)]);
  });

  it(`denies, rejects or forwards each of ${CORPUS.length} crafted requests with a path the app does not resolve under /admin`, async (t) => {
    assert.ok(CORPUS.length >= 30, `the corpus has ${CORPUS.length} entries`);
    const outcomes: Outcome2[] = [];
    for (const crafted of CORPUS) outcomes.push(await runCrafted(gateway, crafted));
    t.diagnostic(`\n${outcomes.map(describeOutcome).join('\n')}`);

    const bypasses = outcomes.filter((o) => o.received !== undefined && underAdmin(appView(o.received)));
    assert.deepEqual(bypasses.map(describeOutcome), [], 'requests that reached the app under /admin');
    const lax = outcomes.filter((o) => o.received !== undefined && underAdmin(laxAppView(o.received)));
    t.diagnostic(`reach /admin only for an app that strips ;params, NUL or trailing blanks (as with Istio): ${lax.map((o) => o.target).join(' ')}`);

    const wrong: string[] = [];
    CORPUS.forEach((crafted, i) => {
      const o = outcomes[i]!;
      const { expect } = crafted;
      const reached = o.received !== undefined;
      if (o.status === 403 && reached) wrong.push(`${describeOutcome(o)}: a 403 that reached the app`);
      const ok = expect === 'safe' ? (reached ? o.status === 200 : o.status === 400 || o.status === 403 || o.status === undefined)
        : expect === 'blocked' ? !reached && (o.status === 400 || o.status === 403 || o.status === undefined)
          : typeof expect === 'number' ? !reached && o.status === expect
            : reached && o.status === 200 && o.received === expect.forwarded;
      if (!ok) wrong.push(`${describeOutcome(o)}: expected ${JSON.stringify(expect)}`);
    });
    assert.deepEqual(wrong, []);
  });
});

describe('path normalization BASE (meshConfig.pathNormalization, Istio\'s default) leaves //admin and %2F to the app', () => {
  let base: Mesh;
  const DENY = 'deny-admin-base';

  before(async () => {
    base = await Mesh.start({
      mesh: { pathNormalization: 'BASE' },
      files: {
        route: ROUTE_YAML,
        'app-service': serviceYaml('app', { name: 'http', number: 8000 }, [{ upstream: app }]),
        deny: policy(DENY, `  action: DENY
  rules:
  - to: [{operation: {paths: ["/admin", "/admin/*"]}}]
`),
      },
    });
    await base.waitForListeners([marker(DENY)]);
    await base.waitForHosts('outbound|8000||app.default.svc.cluster.local', 1);
  });

  after(async () => {
    await base?.close();
  });

  it('still resolves dot segments and unreserved escapes, but forwards //admin and /%2Fadmin as received', async () => {
    const run = async (target: string): Promise<Outcome2> => runCrafted(base, { target, expect: 'safe' });
    for (const target of ['/admin', '/./admin', '/x/../admin', '/%61dmin']) {
      const o = await run(target);
      assert.ok(o.status === 403 && o.received === undefined, describeOutcome(o));
    }
    for (const target of ['//admin', '/%2Fadmin', '/public/..%2Fadmin']) {
      const o = await run(target);
      assert.equal(o.status, 200, describeOutcome(o));
      assert.equal(o.received, target, describeOutcome(o));
      assert.ok(underAdmin(appView(o.received)), `${describeOutcome(o)}: under BASE the app resolves it to /admin (why Weft's default differs)`);
    }
  });
});

/** A signing key with its public JWK (with `kid`) for a key set. */
interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

async function signingKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

function jwks(...keys: readonly SigningKey[]): string {
  return JSON.stringify({ keys: keys.map((k) => k.jwk) });
}

interface TokenOptions {
  readonly iss?: string;
  readonly sub?: string;
  readonly expiresIn?: number;
  readonly claims?: Readonly<Record<string, unknown>>;
  /** Signs with this key but names `kid` in the header (a forged signature). */
  readonly kid?: string;
}

async function token(key: SigningKey, options: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ ...options.claims })
    .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? key.kid, typ: 'JWT' })
    .setIssuer(options.iss ?? ISSUER)
    .setSubject(options.sub ?? ISSUER)
    .setIssuedAt(now - 60)
    .setExpirationTime(now + (options.expiresIn ?? 3600))
    .sign(key.privateKey);
}

function requestAuthentication(name: string, rule: string): string {
  return `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: ${name}, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  jwtRules:
  - issuer: ${ISSUER}
${rule}`;
}

const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` });

describe('RequestAuthentication at the ingress gateway (issuer testing@secure.istio.io)', () => {
  let key: SigningKey;
  let forwardingKey: SigningKey;
  let remoteKey: SigningKey;
  let stranger: SigningKey;

  before(async () => {
    [key, forwardingKey, remoteKey, stranger] = await Promise.all([
      signingKey('inline-key-1'), signingKey('inline-key-forwarding'), signingKey('remote-key-1'), signingKey('inline-key-1'),
    ]);
    gateway.apply('jwt', requestAuthentication('jwt-inline', `    jwks: '${jwks(key)}'
    outputClaimToHeaders:
    - {header: x-jwt-team, claim: team}
`));
    await gateway.waitForListeners([key.kid]);
  });

  after(async () => {
    for (const file of ['jwt', 'require-jwt', 'admins-only']) gateway.remove(file);
    await gateway.waitForListeners([], [ISSUER, marker('require-jwt'), marker('admins-only')]);
  });

  it('passes a valid token without the Authorization header (forwardOriginalToken false), with outputClaimToHeaders', async () => {
    const seen = assertServed(await probe('/me', bearer(await token(key, { claims: { team: 'payments' } }))), 'a valid token');
    assert.equal(seen.headers.authorization, undefined, 'the app saw the token');
    assert.equal(seen.headers['x-jwt-team'], 'payments');
  });

  it('answers 401 to a bad signature, an expired token and another issuer, and lets a request without a token through', async () => {
    const cases: [string, string][] = [
      ['a forged signature', await token(stranger)],
      ['an expired token', await token(key, { expiresIn: -120 })],
      ['another issuer', await token(key, { iss: 'someone@else.example' })],
      ['not a JWT', 'abc.def.ghi'],
    ];
    for (const [what, t] of cases) {
      const reply = await probe('/me', bearer(t));
      assert.equal(reply.status, 401, `${what}: ${reply.status} ${reply.body}`);
      assert.equal(reply.seen.length, 0, `${what} reached the app`);
      assert.match(reply.headers['www-authenticate'] ?? '', /^Bearer realm=/, what);
    }
    const anonymous = assertServed(await probe('/me'), 'no token');
    assert.equal(anonymous.headers['x-jwt-team'], undefined);
  });

  it('forwards the token when forwardOriginalToken is true', async () => {
    gateway.apply('jwt', requestAuthentication('jwt-forwarding', `    jwks: '${jwks(forwardingKey)}'
    forwardOriginalToken: true
`));
    await gateway.waitForListeners([forwardingKey.kid], [key.kid]);
    const t = await token(forwardingKey);
    const seen = assertServed(await probe('/me', bearer(t)), 'a valid token, forwarded');
    assert.equal(seen.headers.authorization, `Bearer ${t}`);
    assert.equal((await probe('/me', bearer(await token(key)))).status, 401, 'the replaced key no longer verifies');
  });

  it('with requestPrincipals (seed 002\'s require-jwt) a request without a token gets 403 and the right principal passes', async () => {
    gateway.apply('require-jwt', policy('require-jwt', `  action: ALLOW
  rules:
  - from:
    - source:
        requestPrincipals: ["${ISSUER}/${ISSUER}"]
`));
    await gateway.waitForListeners([marker('require-jwt')]);
    assertDenied(await probe('/orders'), 'none', 'no token');
    assertServed(await probe('/orders', bearer(await token(forwardingKey))), 'the right principal');
    assertDenied(await probe('/orders', bearer(await token(forwardingKey, { sub: 'mallory' }))), 'none', 'another subject');
    assert.equal((await probe('/orders', bearer(await token(stranger)))).status, 401, 'a bad token is refused before RBAC');
  });

  it('matches a list claim with when: request.auth.claims[groups]', async () => {
    gateway.remove('require-jwt');
    gateway.apply('admins-only', policy('admins-only', `  action: ALLOW
  rules:
  - when:
    - key: request.auth.claims[groups]
      values: [admins]
`));
    await gateway.waitForListeners([marker('admins-only')], [marker('require-jwt')]);
    assertServed(await probe('/ops', bearer(await token(forwardingKey, { claims: { groups: ['dev', 'admins'] } }))), 'groups [dev, admins]');
    assertServed(await probe('/ops', bearer(await token(forwardingKey, { claims: { groups: 'admins' } }))), 'groups "admins"');
    assertDenied(await probe('/ops', bearer(await token(forwardingKey, { claims: { groups: ['dev'] } }))), 'none', 'groups [dev]');
    assertDenied(await probe('/ops', bearer(await token(forwardingKey))), 'none', 'no groups claim');
    assertDenied(await probe('/ops'), 'none', 'no token');
    gateway.remove('admins-only');
    await gateway.waitForListeners([], [marker('admins-only')]);
  });

  it('verifies with keys from a jwksUri that the control plane fetches and pushes inline', async () => {
    jwksServer.answer = () => ({ headers: { 'content-type': 'application/json' }, body: jwks(remoteKey) });
    gateway.apply('jwt', requestAuthentication('jwt-remote', `    jwksUri: http://${jwksServer.address}:${jwksServer.port}/jwks.json
`));
    await gateway.waitForListeners([remoteKey.kid], [forwardingKey.kid], 15_000);
    assert.ok(jwksServer.seen.some((s) => s.path === '/jwks.json'), 'the key set was fetched');
    assertServed(await probe('/me', bearer(await token(remoteKey))), 'a token signed with the remote key');
    assert.equal((await probe('/me', bearer(await token(forwardingKey)))).status, 401, 'a key not in the remote set');
  });
});

describe('CUSTOM AuthorizationPolicy with a meshConfig extensionProviders envoyExtAuthzHttp authorizer', () => {
  before(async () => {
    await gateway.waitForHosts('outbound|8000||ext-authz.default.svc.cluster.local', 1);
    gateway.apply('custom', policy('ext-authz-guarded', `  action: CUSTOM
  provider: {name: ${AUTHZ_PROVIDER}}
  rules:
  - to: [{operation: {paths: ["/guarded*"]}}]
`));
    await gateway.waitForListeners([marker('ext-authz-guarded')]);
  });

  after(async () => {
    gateway.remove('custom');
    await gateway.waitForListeners([], [marker('ext-authz-guarded')]);
  });

  it('lets through what the authorizer allows, with the headers it adds for the app', async () => {
    const before = authorizer.seen.length;
    const seen = assertServed(await probe('/guarded/report?q=1', { 'x-allow': 'yes' }), 'x-allow: yes');
    assert.equal(seen.headers['x-ext-authz-check-result'], 'allowed');
    const checks = authorizer.seen.slice(before);
    assert.equal(checks.length, 1);
    assert.equal(checks[0]!.path, '/guarded/report?q=1');
    assert.equal(checks[0]!.method, 'GET');
  });

  it('answers the authorizer\'s own 403 when it refuses; the app never sees the request', async () => {
    for (const headers of [{}, { 'x-allow': 'no' }] as Record<string, string>[]) {
      const reply = await probe('/guarded', headers);
      assert.equal(reply.status, 403, reply.body);
      assert.equal(reply.body, 'denied by ext_authz for a missing x-allow: yes');
      assert.equal(reply.headers['x-ext-authz-check-result'], 'denied');
      assert.equal(reply.seen.length, 0);
    }
  });

  it('does not call the authorizer for requests no CUSTOM rule matches', async () => {
    const before = authorizer.seen.length;
    assertServed(await probe('/open'), 'a path outside /guarded');
    assert.equal(authorizer.seen.length, before);
  });
});
