import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PeerCertificate } from '../../http/exchange.ts';
import type { Headers } from '../../http/headers.ts';
import { parseRbac, type RbacEngine } from './rbac-engine.ts';
import type { RbacConnection, RbacInput } from './rbac-input.ts';

type Json = Record<string, unknown>;

const ANY = { any: true };

function compile(rules: Json): RbacEngine {
  const parsed = parseRbac(rules);
  if (!parsed.ok) assert.fail(parsed.error);
  return parsed.value;
}

function problems(rules: Json): string {
  const parsed = parseRbac(rules);
  assert.equal(parsed.ok, false, 'expected the config to be refused');
  return parsed.ok ? '' : parsed.error;
}

const CONNECTION: RbacConnection = { remoteAddress: '10.1.2.3', localAddress: '10.0.0.5', localPort: 8080, serverName: '', peerCertificate: undefined };

const CERT: PeerCertificate = {
  uriSans: ['spiffe://cluster.local/ns/shop/sa/orders'],
  dnsSans: ['orders.shop.svc'],
  subject: 'CN=orders,O=shop',
  sha256: 'ab',
  pem: '',
};

interface RequestSpec {
  readonly method?: string;
  readonly path?: string;
  readonly authority?: string;
  readonly headers?: Headers;
  readonly metadata?: ReadonlyMap<string, Record<string, unknown>>;
  readonly connection?: Partial<RbacConnection>;
}

function http(spec: RequestSpec = {}): RbacInput {
  return {
    connection: { ...CONNECTION, ...spec.connection },
    request: {
      head: { method: spec.method ?? 'GET', path: spec.path ?? '/', authority: spec.authority ?? 'shop.example', scheme: 'http', headers: spec.headers ?? {} },
      metadata: spec.metadata ?? new Map(),
    },
  };
}

function tcp(connection: Partial<RbacConnection> = {}): RbacInput {
  return { connection: { ...CONNECTION, ...connection } };
}

/** Whether a permission matches, as the only permission of an ALLOW policy whose principal is any. */
function permits(permission: Json, input: RbacInput): boolean {
  return compile({ action: 'ALLOW', policies: { p: { permissions: [permission], principals: [ANY] } } }).evaluate(input).allowed;
}

/** Whether a principal matches, as the only principal of an ALLOW policy whose permission is any. */
function identifies(principal: Json, input: RbacInput): boolean {
  return compile({ action: 'ALLOW', policies: { p: { permissions: [ANY], principals: [principal] } } }).evaluate(input).allowed;
}

describe('RbacEngine', () => {
  describe('actions', () => {
    const policies = {
      'b-get': { permissions: [{ header: { name: ':method', exactMatch: 'GET' } }], principals: [ANY] },
      'a-admin': { permissions: [{ urlPath: { path: { prefix: '/admin' } } }], principals: [ANY] },
      'c-any': { permissions: [{ urlPath: { path: { prefix: '/admin' } } }], principals: [ANY] },
    };

    it('ALLOW allows exactly what a policy matches, naming the first matching policy by name', () => {
      const engine = compile({ action: 'ALLOW', policies });
      assert.deepEqual(engine.evaluate(http({ path: '/admin/x' })), { allowed: true, matchedPolicy: 'a-admin' });
      assert.deepEqual(engine.evaluate(http({ path: '/x' })), { allowed: true, matchedPolicy: 'b-get' });
      assert.deepEqual(engine.evaluate(http({ method: 'POST', path: '/x' })), { allowed: false, matchedPolicy: undefined });
    });

    it('DENY denies exactly what a policy matches', () => {
      const engine = compile({ action: 'DENY', policies });
      assert.deepEqual(engine.evaluate(http({ method: 'POST', path: '/admin' })), { allowed: false, matchedPolicy: 'a-admin' });
      assert.deepEqual(engine.evaluate(http({ method: 'POST', path: '/x' })), { allowed: true, matchedPolicy: undefined });
    });

    it('LOG allows everything and reports the policy that matched', () => {
      const engine = compile({ action: 'LOG', policies });
      assert.deepEqual(engine.evaluate(http({ method: 'PUT', path: '/admin' })), { allowed: true, matchedPolicy: 'a-admin' });
      assert.deepEqual(engine.evaluate(http({ method: 'PUT', path: '/x' })), { allowed: true, matchedPolicy: undefined });
    });

    it('takes the action by its number too, ALLOW when unset; no policies allow nothing under ALLOW and everything under DENY', () => {
      assert.equal(compile({ action: 1, policies }).action, 'DENY');
      assert.equal(compile({}).action, 'ALLOW');
      assert.equal(compile({}).evaluate(http()).allowed, false);
      assert.equal(compile({ action: 'DENY' }).evaluate(http()).allowed, true);
    });

    it('needs some permission and some principal of one policy to match', () => {
      const engine = compile({ policies: { p: {
        permissions: [{ destinationPort: 1 }, { destinationPort: 8080 }],
        principals: [{ sourceIp: { addressPrefix: '192.168.0.0', prefixLen: 16 } }, { sourceIp: { addressPrefix: '10.0.0.0', prefixLen: 8 } }],
      } } });
      assert.equal(engine.evaluate(tcp()).allowed, true);
      assert.equal(engine.evaluate(tcp({ localPort: 9090 })).allowed, false, 'no permission matches');
      assert.equal(engine.evaluate(tcp({ remoteAddress: '172.16.0.1' })).allowed, false, 'no principal matches');
    });
  });

  describe('combinators', () => {
    it('nests andRules, orRules and notRule', () => {
      const permission = { andRules: { rules: [
        { orRules: { rules: [{ destinationPort: 80 }, { destinationPort: 8080 }] } },
        { notRule: { urlPath: { path: { prefix: '/private' } } } },
      ] } };
      assert.equal(permits(permission, http({ path: '/public' })), true);
      assert.equal(permits(permission, http({ path: '/private/x' })), false);
      assert.equal(permits(permission, http({ path: '/public', connection: { localPort: 9000 } })), false);
    });

    it('nests andIds, orIds and notId', () => {
      const principal = { orIds: { ids: [
        { andIds: { ids: [{ authenticated: {} }, { notId: { remoteIp: { addressPrefix: '10.1.0.0', prefixLen: 16 } } }] } },
        { directRemoteIp: { addressPrefix: '127.0.0.1', prefixLen: 32 } },
      ] } };
      assert.equal(identifies(principal, tcp({ peerCertificate: CERT, remoteAddress: '10.9.0.1' })), true);
      assert.equal(identifies(principal, tcp({ peerCertificate: CERT })), false, 'in the excluded range');
      assert.equal(identifies(principal, tcp({ remoteAddress: '10.9.0.1' })), false, 'not authenticated');
      assert.equal(identifies(principal, tcp({ remoteAddress: '127.0.0.1' })), true);
    });
  });

  describe('header', () => {
    const headers: Headers = { 'x-team': 'Payments', 'x-version': '42', accept: ['text/html', 'application/json'] };
    const cases: [string, Json, boolean][] = [
      ['exactMatch', { name: 'x-team', exactMatch: 'Payments' }, true],
      ['exactMatch of another value', { name: 'x-team', exactMatch: 'payments' }, false],
      ['header names in any case', { name: 'X-Team', exactMatch: 'Payments' }, true],
      ['safeRegexMatch, a full match', { name: 'x-team', safeRegexMatch: { regex: 'Pay.*' } }, true],
      ['safeRegexMatch, not a partial one', { name: 'x-team', safeRegexMatch: { regex: 'Pay' } }, false],
      ['rangeMatch inside', { name: 'x-version', rangeMatch: { start: 40, end: 43 } }, true],
      ['rangeMatch with an exclusive end', { name: 'x-version', rangeMatch: { start: 0, end: '42' } }, false],
      ['presentMatch', { name: 'x-team', presentMatch: true }, true],
      ['presentMatch on a missing header', { name: 'x-missing', presentMatch: true }, false],
      ['presentMatch false on a missing header', { name: 'x-missing', presentMatch: false }, true],
      ['no specifier: present', { name: 'x-version' }, true],
      ['prefixMatch', { name: 'x-team', prefixMatch: 'Pay' }, true],
      ['suffixMatch', { name: 'x-team', suffixMatch: 'ments' }, true],
      ['containsMatch', { name: 'x-team', containsMatch: 'yme' }, true],
      ['stringMatch ignoreCase', { name: 'x-team', stringMatch: { exact: 'PAYMENTS', ignoreCase: true } }, true],
      ['stringMatch without ignoreCase', { name: 'x-team', stringMatch: { exact: 'PAYMENTS' } }, false],
      ['invertMatch', { name: 'x-team', exactMatch: 'Payments', invertMatch: true }, false],
      ['invertMatch of a mismatch', { name: 'x-team', exactMatch: 'Ops', invertMatch: true }, true],
      ['a missing header, even inverted', { name: 'x-missing', exactMatch: 'a', invertMatch: true }, false],
      ['a missing header taken as empty', { name: 'x-missing', exactMatch: '', treatMissingHeaderAsEmpty: true }, true],
      ['several values joined with ","', { name: 'accept', exactMatch: 'text/html,application/json' }, true],
      [':path with its query', { name: ':path', exactMatch: '/orders?id=7' }, true],
      [':method', { name: ':method', exactMatch: 'DELETE' }, true],
      [':authority', { name: ':authority', suffixMatch: '.example' }, true],
      ['host as :authority', { name: 'host', exactMatch: 'shop.example' }, true],
    ];
    for (const [name, matcher, expected] of cases) {
      it(`${name} ${expected ? 'matches' : 'does not match'}`, () => {
        assert.equal(permits({ header: matcher }, http({ method: 'DELETE', path: '/orders?id=7', headers })), expected);
        assert.equal(identifies({ header: matcher }, http({ method: 'DELETE', path: '/orders?id=7', headers })), expected, 'as a principal too');
      });
    }
  });

  describe('urlPath', () => {
    it('matches the path without its query string or fragment', () => {
      const permission = { urlPath: { path: { exact: '/orders' } } };
      assert.equal(permits(permission, http({ path: '/orders?id=7' })), true);
      assert.equal(permits(permission, http({ path: '/orders#top' })), true);
      assert.equal(permits(permission, http({ path: '/orders/7' })), false);
      assert.equal(identifies(permission, http({ path: '/orders?x' })), true, 'as a principal too');
    });

    it('folds case with ignoreCase and matches regexes whole', () => {
      assert.equal(permits({ urlPath: { path: { prefix: '/API/', ignoreCase: true } } }, http({ path: '/api/v1' })), true);
      assert.equal(permits({ urlPath: { path: { prefix: '/API/' } } }, http({ path: '/api/v1' })), false);
      assert.equal(permits({ urlPath: { path: { safeRegex: { regex: '/v[0-9]+/.*' } } } }, http({ path: '/v2/items?q' })), true);
      assert.equal(permits({ urlPath: { path: { contains: 'item' } } }, http({ path: '/v2/items' })), true);
      assert.equal(permits({ urlPath: { path: { suffix: 'items' } } }, http({ path: '/v2/items?x=items2' })), true);
    });
  });

  describe('addresses and ports', () => {
    it('matches destinationIp against IPv4 CIDRs', () => {
      const at = (addressPrefix: string, prefixLen?: number): Json => ({ destinationIp: prefixLen === undefined ? { addressPrefix } : { addressPrefix, prefixLen } });
      assert.equal(permits(at('10.0.0.0', 8), tcp()), true);
      assert.equal(permits(at('10.0.0.5', 32), tcp()), true);
      assert.equal(permits(at('10.0.0.4', 32), tcp()), false);
      assert.equal(permits(at('10.0.0.0', 30), tcp({ localAddress: '10.0.0.4' })), false);
      assert.equal(permits(at('10.0.0.7', 29), tcp()), true, 'host bits beyond the prefix are ignored');
      assert.equal(permits(at('0.0.0.0'), tcp()), true, 'prefixLen 0 when unset');
      assert.equal(permits(at('10.0.0.0', 8), tcp({ localAddress: '::ffff:10.0.0.5' })), true, 'an IPv4-mapped address is IPv4');
      assert.equal(permits(at('::', 0), tcp()), false, 'an IPv6 range never matches IPv4');
      assert.equal(permits(at('fd00::', 8), tcp({ localAddress: 'fd00::1' })), true);
    });

    it('matches destinationPort and destinationPortRange with its end exclusive', () => {
      assert.equal(permits({ destinationPort: 8080 }, tcp()), true);
      assert.equal(permits({ destinationPort: 80 }, tcp()), false);
      assert.equal(permits({ destinationPortRange: { start: 8000, end: 8081 } }, tcp()), true);
      assert.equal(permits({ destinationPortRange: { start: 8000, end: 8080 } }, tcp()), false);
      assert.equal(permits({ destinationPortRange: { start: 8080, end: 8081 } }, tcp()), true);
    });

    it('matches sourceIp, directRemoteIp and remoteIp against the downstream peer', () => {
      for (const kind of ['sourceIp', 'directRemoteIp', 'remoteIp']) {
        assert.equal(identifies({ [kind]: { addressPrefix: '10.1.0.0', prefixLen: 16 } }, http()), true, kind);
        assert.equal(identifies({ [kind]: { addressPrefix: '10.2.0.0', prefixLen: 16 } }, http()), false, kind);
      }
    });

    it('matches requestedServerName on the SNI, or on "" without one', () => {
      const permission = { requestedServerName: { suffix: '.shop.svc', ignoreCase: true } };
      assert.equal(permits(permission, tcp({ serverName: 'Orders.SHOP.svc' })), true);
      assert.equal(permits(permission, tcp()), false);
      assert.equal(permits({ requestedServerName: { exact: '' } }, tcp()), true);
    });
  });

  describe('metadata', () => {
    const metadata = new Map<string, Record<string, unknown>>([
      ['istio_authn', { 'request.auth.claims': { groups: ['dev', 'ops'], iss: 'https://issuer', admin: false, level: 3, none: null } }],
    ]);
    const claim = (key: string, value: Json, invert?: boolean): Json => ({
      metadata: { filter: 'istio_authn', path: [{ key: 'request.auth.claims' }, { key }], value, ...(invert === undefined ? {} : { invert }) },
    });
    const cases: [string, Json, boolean][] = [
      ['listMatch oneOf a string', claim('groups', { listMatch: { oneOf: { stringMatch: { exact: 'ops' } } } }), true],
      ['listMatch oneOf, none equal', claim('groups', { listMatch: { oneOf: { stringMatch: { exact: 'qa' } } } }), false],
      ['listMatch on a string', claim('iss', { listMatch: { oneOf: { stringMatch: { prefix: 'https' } } } }), false],
      ['stringMatch', claim('iss', { stringMatch: { prefix: 'https://' } }), true],
      ['stringMatch on a list', claim('groups', { stringMatch: { exact: 'dev' } }), false],
      ['boolMatch', claim('admin', { boolMatch: false }), true],
      ['boolMatch, the other value', claim('admin', { boolMatch: true }), false],
      ['doubleMatch exact', claim('level', { doubleMatch: { exact: 3 } }), true],
      ['doubleMatch range, end exclusive', claim('level', { doubleMatch: { range: { start: 1, end: 3 } } }), false],
      ['doubleMatch range', claim('level', { doubleMatch: { range: { start: 2.5, end: 3.5 } } }), true],
      ['nullMatch', claim('none', { nullMatch: {} }), true],
      ['nullMatch on a missing value', claim('missing', { nullMatch: {} }), false],
      ['presentMatch', claim('iss', { presentMatch: true }), true],
      ['presentMatch on a missing value', claim('missing', { presentMatch: true }), false],
      ['presentMatch inverted on a missing value', claim('missing', { presentMatch: true }, true), true],
      ['invert', claim('iss', { stringMatch: { prefix: 'https://' } }, true), false],
      ['orMatch', claim('level', { orMatch: { valueMatchers: [{ boolMatch: true }, { doubleMatch: { exact: 3 } }] } }), true],
    ];
    for (const [name, permission, expected] of cases) {
      it(`${name} ${expected ? 'matches' : 'does not match'}`, () => {
        assert.equal(permits(permission, http({ metadata })), expected);
        assert.equal(identifies(permission, http({ metadata })), expected, 'as a principal too');
      });
    }

    it('finds nothing in a namespace the request has not got', () => {
      const permission = { metadata: { filter: 'envoy.filters.http.jwt_authn', path: [{ key: 'sub' }], value: { presentMatch: true } } };
      assert.equal(permits(permission, http({ metadata })), false);
    });
  });

  describe('authenticated', () => {
    it('matches no connection without a verified peer certificate', () => {
      assert.equal(identifies({ authenticated: {} }, http()), false);
      assert.equal(identifies({ authenticated: { principalName: { safeRegex: { regex: '.*' } } } }, http()), false);
    });

    it('matches any verified peer certificate without principalName', () => {
      assert.equal(identifies({ authenticated: {} }, tcp({ peerCertificate: CERT })), true);
    });

    it('matches principalName against the URI SANs, the DNS SANs, then the subject', () => {
      const named = (principalName: Json, cert: PeerCertificate = CERT): boolean => identifies({ authenticated: { principalName } }, tcp({ peerCertificate: cert }));
      assert.equal(named({ exact: 'spiffe://cluster.local/ns/shop/sa/orders' }), true);
      assert.equal(named({ exact: 'spiffe://cluster.local/ns/shop/sa/billing' }), false);
      assert.equal(named({ prefix: 'spiffe://cluster.local/ns/shop/' }), true);
      assert.equal(named({ exact: 'orders.shop.svc' }), true);
      assert.equal(named({ exact: 'CN=orders,O=shop' }), true);
      assert.equal(named({ exact: 'SPIFFE://CLUSTER.LOCAL/NS/SHOP/SA/ORDERS', ignoreCase: true }), true);
      const second: PeerCertificate = { ...CERT, uriSans: ['spiffe://a/first', 'spiffe://a/second'] };
      assert.equal(named({ exact: 'spiffe://a/second' }, second), true, 'every URI SAN counts');
    });
  });

  describe('on a TCP connection', () => {
    it('matches no header, urlPath or metadata rule, whatever it says', () => {
      assert.equal(permits({ header: { name: 'x-missing', presentMatch: false } }, tcp()), false);
      assert.equal(permits({ urlPath: { path: { prefix: '/' } } }, tcp()), false);
      assert.equal(identifies({ metadata: { filter: 'f', path: [{ key: 'k' }], value: { presentMatch: true }, invert: true } }, tcp()), false);
      assert.equal(permits({ notRule: { header: { name: ':method', exactMatch: 'GET' } } }, tcp()), true, 'so its negation matches');
    });

    it('still matches connection rules', () => {
      assert.equal(permits({ destinationPort: 8080 }, tcp()), true);
      assert.equal(identifies({ sourceIp: { addressPrefix: '10.0.0.0', prefixLen: 8 } }, tcp()), true);
    });
  });

  describe('config problems', () => {
    const policy = (permission: unknown, principal: unknown = ANY): Json => ({ policies: { p: { permissions: [permission], principals: [principal] } } });

    it('refuses CEL conditions', () => {
      const error = problems({ policies: { p: { permissions: [ANY], principals: [ANY], condition: { constExpr: { boolValue: true } } } } });
      assert.match(error, /^policies\["p"\]\.condition: CEL conditions are not supported by Weft/);
      assert.match(problems({ policies: { p: { permissions: [ANY], principals: [ANY], checkedCondition: {} } } }), /policies\["p"\]\.checkedCondition: CEL/);
    });

    it('names the field path of an unknown kind, with a guess', () => {
      assert.equal(
        problems(policy({ andRules: { rules: [ANY, { orRules: { rules: [{ destinationPorts: 80 }] } }] } })),
        'policies["p"].permissions[0].andRules.rules[1].orRules.rules[0].destinationPorts: is not a kind of Permission '
          + '(any, andRules, orRules, notRule, header, urlPath, destinationIp, destinationPort, destinationPortRange, metadata, requestedServerName); did you mean destinationPort?',
      );
      assert.match(problems(policy(ANY, { notId: { sourceIP: {} } })), /^policies\["p"\]\.principals\[0\]\.notId\.sourceIP: is not a kind of Principal/);
    });

    it('refuses a rule with no kind or two kinds, and kinds Weft does not implement', () => {
      assert.match(problems(policy({})), /permissions\[0\]: needs one of any, andRules/);
      assert.match(problems(policy({ any: true, destinationPort: 80 })), /permissions\[0\]: sets any and destinationPort; a Permission is exactly one of them/);
      assert.match(problems(policy({ uriTemplate: {} })), /permissions\[0\]\.uriTemplate: is not supported by Weft/);
      assert.match(problems(policy(ANY, { filterState: {} })), /principals\[0\]\.filterState: is not supported by Weft/);
      assert.match(problems(policy({ any: false })), /permissions\[0\]\.any: must be true/);
    });

    it('reports every problem of the matchers at once, with its path', () => {
      const error = problems({ action: 'PERMIT', policies: {
        a: { permissions: [{ urlPath: { path: { safeRegex: { regex: '(' } } } }], principals: [{ authenticated: { principalName: { safeRegex: { regex: '.*' }, ignoreCase: true } } }] },
        b: { permissions: [{ destinationIp: { addressPrefix: '10.0.0.300', prefixLen: 8 } }, { destinationPortRange: { start: 90, end: 80 } }], principals: [] },
        c: { permissions: [{ header: { name: '', exactMatch: 1 } }], principals: [{ metadata: { filter: 'f', path: [], value: { listMatch: {} } } }] },
      } });
      const lines = error.split('\n');
      for (const expected of [
        /^action: "PERMIT" is not one of ALLOW, DENY, LOG$/,
        /^policies\["a"\]\.permissions\[0\]\.urlPath\.path\.safeRegex\.regex: "\(" is not an RE2 regular expression/,
        /^policies\["a"\]\.principals\[0\]\.authenticated\.principalName\.ignoreCase: has no effect on safeRegex/,
        /^policies\["b"\]\.permissions\[0\]\.destinationIp\.addressPrefix: "10\.0\.0\.300" is not an IP address$/,
        /^policies\["b"\]\.permissions\[1\]\.destinationPortRange: start 90 must be below end 80/,
        /^policies\["b"\]\.principals: needs at least 1 entry$/,
        /^policies\["c"\]\.permissions\[0\]\.header\.exactMatch: 1 is not a string$/,
        /^policies\["c"\]\.permissions\[0\]\.header\.name: is required/,
        /^policies\["c"\]\.principals\[0\]\.metadata\.path: needs at least 1 entry$/,
        /^policies\["c"\]\.principals\[0\]\.metadata\.value\.listMatch\.oneOf: is required/,
      ]) {
        assert.ok(lines.some((line) => expected.test(line)), `no line matches ${expected}:\n${error}`);
      }
    });

    it('refuses unknown fields and audit logging', () => {
      assert.match(problems({ action: 'ALLOW', polices: {} }), /^polices: is not a field of RBAC; did you mean policies\?$/);
      assert.match(problems({ auditLoggingOptions: {} }), /^auditLoggingOptions: is not supported by Weft/);
      assert.match(problems(policy({ header: { name: 'a', exact_match: 'b' } })), /header\.exact_match: is not a field of HeaderMatcher; did you mean exactMatch\?/);
    });
  });
});
