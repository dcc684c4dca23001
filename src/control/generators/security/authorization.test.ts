import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { RE2JS } from 're2js';
import { builtinKinds, formatDiagnostic, ofKind, parseSources, type AnyResource, type Resource } from '../../../config/index.ts';
import type { Filter, HttpFilter } from '../../../xds/envoy/index.ts';
import type { ExtensionProvider } from '../../model/mesh-config.ts';
import { buildSecurityPolicyIndex } from '../../snapshot/security-policy-index.ts';
import { authorizationHttpFilters, authorizationNetworkFilters, type AuthorizationInput } from './authorization.ts';
import type { HttpRbac, NetworkRbac, Permission, Principal, RbacPolicy } from './rbac-config.ts';

function parse(yaml: string): AnyResource[] {
  const parsed = parseSources([{ name: 'test.yaml', text: yaml }], { kinds: builtinKinds() });
  const errors = parsed.diagnostics.filter((d) => d.level === 'Error');
  if (errors.length > 0) throw new Error(errors.map(formatDiagnostic).join('\n'));
  return parsed.resources;
}

function policies(yaml: string): Resource<'AuthorizationPolicy'>[] {
  return ofKind(parse(yaml), 'AuthorizationPolicy');
}

/** An AuthorizationPolicy in `default` named `p` with the given spec (YAML flow form) and annotations. */
function ap(spec: string, name = 'p', annotations = ''): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: default${annotations === '' ? '' : `, annotations: ${annotations}`} }
spec: ${spec}
---
`;
}

function input(yaml: string, extensionProviders: readonly ExtensionProvider[] = []): AuthorizationInput {
  return { policies: policies(yaml), trustDomain: 'cluster.local', extensionProviders };
}

function http(yaml: string, providers: readonly ExtensionProvider[] = []): HttpRbac[] {
  return authorizationHttpFilters(input(yaml, providers)).rbac.map(rbacOf);
}

function rbacOf(filter: HttpFilter): HttpRbac {
  assert.equal(filter.name, 'envoy.filters.http.rbac');
  return filter.typedConfig as HttpRbac;
}

function tcp(yaml: string, providers: readonly ExtensionProvider[] = []): NetworkRbac[] {
  return authorizationNetworkFilters(input(yaml, providers)).map((f: Filter) => {
    assert.equal(f.name, 'envoy.filters.network.rbac');
    return f.typedConfig as NetworkRbac;
  });
}

/** The RBAC policy of rule 0 of policy `p` in the only filter made. */
function onlyPolicy(yaml: string): RbacPolicy {
  const [filter, ...rest] = http(yaml);
  assert.equal(rest.length, 0);
  const policy = filter?.rules?.policies['ns[default]-policy[p]-rule[0]'];
  assert.ok(policy !== undefined, 'no policy for rule 0');
  return policy;
}

const principal = (source: string): Principal => onlyPolicy(ap(`{ rules: [{ from: [{ source: ${source} }] }] }`)).principals[0]!;
const permission = (operation: string): Permission => onlyPolicy(ap(`{ rules: [{ to: [{ operation: ${operation} }] }] }`)).permissions[0]!;
const whenPrincipal = (condition: string): Principal => onlyPolicy(ap(`{ rules: [{ when: [${condition}] }] }`)).principals[0]!;
const whenPermission = (condition: string): Permission => onlyPolicy(ap(`{ rules: [{ when: [${condition}] }] }`)).permissions[0]!;

const seed = (n: string): string => readFileSync(new URL(`../../../../../shared/seed-examples/${n}-security.yaml`, import.meta.url), 'utf8');

const EXT_AUTHZ: ExtensionProvider = { name: 'my-authz', envoyExtAuthzHttp: { service: 'foo/authz.foo.svc.cluster.local', port: 8000 } };

describe('authorizationHttpFilters', () => {
  describe('the seed tutorials', () => {
    it('001: reviews admits only productpage\'s identity, only with GET', () => {
      const applied = buildSecurityPolicyIndex(parse(seed('001')), 'istio-system').authorizationPolicies('default', { app: 'reviews' });
      const filters = authorizationHttpFilters({ policies: applied, trustDomain: 'cluster.local', extensionProviders: [] });
      assert.deepEqual(filters.custom, []);
      assert.deepEqual(filters.rbac, [{
        name: 'envoy.filters.http.rbac',
        typedConfig: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
          rules: {
            action: 'ALLOW',
            policies: {
              'ns[default]-policy[reviews-policy]-rule[0]': {
                permissions: [{ header: { name: ':method', stringMatch: { exact: 'GET' } } }],
                principals: [{ authenticated: { principalName: { exact: 'spiffe://cluster.local/ns/default/sa/productpage' } } }],
              },
            },
          },
        },
      }]);
    });

    it('002: booking-service admits only requests whose JWT principal is testing@secure.istio.io/testing@secure.istio.io', () => {
      const applied = buildSecurityPolicyIndex(parse(seed('002')), 'istio-system').authorizationPolicies('default', { app: 'booking-service' });
      const [allow, ...rest] = authorizationHttpFilters({ policies: applied, trustDomain: 'cluster.local', extensionProviders: [] }).rbac.map(rbacOf);
      assert.equal(rest.length, 0);
      assert.deepEqual(allow?.rules, {
        action: 'ALLOW',
        policies: {
          'ns[default]-policy[require-jwt]-rule[0]': {
            permissions: [{ any: true }],
            principals: [{
              metadata: { filter: 'istio_authn', path: [{ key: 'request.auth.principal' }], value: { stringMatch: { exact: 'testing@secure.istio.io/testing@secure.istio.io' } } },
            }],
          },
        },
      });
    });

    it('003: the namespace allows nothing but frontend\'s GET and POST to my-api-service', () => {
      const index = buildSecurityPolicyIndex(parse(seed('003')), 'istio-system');
      const build = (labels: Record<string, string>): HttpRbac[] =>
        authorizationHttpFilters({ policies: index.authorizationPolicies('default', labels), trustDomain: 'cluster.local', extensionProviders: [] }).rbac.map(rbacOf);
      assert.deepEqual(build({ app: 'other' }), [{ '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC', rules: { action: 'ALLOW', policies: {} } }]);
      assert.deepEqual(build({ app: 'my-api-service' }).map((f) => f.rules), [{
        action: 'ALLOW',
        policies: {
          'ns[default]-policy[allow-frontend-to-api]-rule[0]': {
            permissions: [{ orRules: { rules: [{ header: { name: ':method', stringMatch: { exact: 'GET' } } }, { header: { name: ':method', stringMatch: { exact: 'POST' } } }] } }],
            principals: [{ authenticated: { principalName: { exact: 'spiffe://cluster.local/ns/default/sa/frontend-service-account' } } }],
          },
        },
      }]);
    });
  });

  describe('empty specs', () => {
    it('makes spec: {} an ALLOW filter without policies, which denies every request', () => {
      assert.deepEqual(http(ap('{}')).map((f) => f.rules), [{ action: 'ALLOW', policies: {} }]);
    });

    it('makes rules: [{}] a policy matching every request', () => {
      assert.deepEqual(onlyPolicy(ap('{ rules: [{}] }')), { permissions: [{ any: true }], principals: [{ any: true }] });
    });

    it('makes nothing for DENY, AUDIT or CUSTOM policies without rules, which never match', () => {
      const [deny, audit, custom] = policies(ap('{ action: DENY, rules: [{}] }', 'deny') + ap('{ action: AUDIT, rules: [{}] }', 'audit') + ap('{ action: CUSTOM, provider: { name: my-authz }, rules: [{}] }', 'custom'));
      const withoutRules = [deny!, audit!, custom!].map((p) => ({ ...p, object: { ...p.object, spec: { ...p.object.spec, rules: [] } } }));
      const filters = authorizationHttpFilters({ policies: withoutRules, trustDomain: 'cluster.local', extensionProviders: [] });
      assert.deepEqual(filters, { custom: [], rbac: [] });
      assert.deepEqual(authorizationNetworkFilters({ policies: withoutRules, trustDomain: 'cluster.local', extensionProviders: [] }), []);
    });
  });

  it('orders the filters AUDIT, DENY, ALLOW, each holding its action\'s policies by rule', () => {
    const yaml = ap('{ action: ALLOW, rules: [{ to: [{ operation: { methods: [GET] } }] }, {}] }', 'a')
      + ap('{ action: DENY, rules: [{ to: [{ operation: { paths: [/admin] } }] }] }', 'd')
      + ap('{ action: AUDIT, rules: [{}] }', 'l');
    const filters = http(yaml);
    assert.deepEqual(filters.map((f) => f.rules?.action), ['LOG', 'DENY', 'ALLOW']);
    assert.deepEqual(filters.map((f) => Object.keys(f.rules?.policies ?? {})), [
      ['ns[default]-policy[l]-rule[0]'],
      ['ns[default]-policy[d]-rule[0]'],
      ['ns[default]-policy[a]-rule[0]', 'ns[default]-policy[a]-rule[1]'],
    ]);
  });

  it('ANDs the fields of a source and of an operation, ORs their values, and negates the not* fields', () => {
    const policy = onlyPolicy(ap(`{ rules: [{
      from: [{ source: { principals: [a, b], notNamespaces: [test] } }, { source: { ipBlocks: [10.0.0.0/8] } }],
      to: [{ operation: { methods: [GET], notPaths: [/admin*] } }],
      when: [{ key: "request.headers[x-team]", values: [blue] }, { key: destination.port, values: ["8080"] }] }] }`));
    assert.deepEqual(policy.principals, [
      {
        andIds: {
          ids: [
            { orIds: { ids: [{ authenticated: { principalName: { exact: 'spiffe://a' } } }, { authenticated: { principalName: { exact: 'spiffe://b' } } }] } },
            { notId: { authenticated: { principalName: { safeRegex: { regex: '.*/ns/test/.*' } } } } },
            { header: { name: 'x-team', stringMatch: { exact: 'blue' } } },
          ],
        },
      },
      { andIds: { ids: [{ directRemoteIp: { addressPrefix: '10.0.0.0', prefixLen: 8 } }, { header: { name: 'x-team', stringMatch: { exact: 'blue' } } }] } },
    ]);
    assert.deepEqual(policy.permissions, [{
      andRules: {
        rules: [
          { header: { name: ':method', stringMatch: { exact: 'GET' } } },
          { notRule: { urlPath: { path: { prefix: '/admin' } } } },
          { destinationPort: 8080 },
        ],
      },
    }]);
  });

  describe('sources', () => {
    it('matches principals by the peer identity with Istio\'s string rules, spiffe:// added', () => {
      assert.deepEqual(principal('{ principals: [cluster.local/ns/a/sa/b, "cluster.local/ns/a/*", "*/sa/b", "*"] }'), {
        orIds: {
          ids: [
            { authenticated: { principalName: { exact: 'spiffe://cluster.local/ns/a/sa/b' } } },
            { authenticated: { principalName: { prefix: 'spiffe://cluster.local/ns/a/' } } },
            { authenticated: { principalName: { safeRegex: { regex: 'spiffe://.*/sa/b' } } } },
            { authenticated: { principalName: { safeRegex: { regex: '.+' } } } },
          ],
        },
      });
    });

    it('matches namespaces as the /ns/<ns>/ part of the identity', () => {
      assert.deepEqual(principal('{ namespaces: [prod, "team-*"] }'), {
        orIds: { ids: [{ authenticated: { principalName: { safeRegex: { regex: '.*/ns/prod/.*' } } } }, { authenticated: { principalName: { safeRegex: { regex: '.*/ns/team-.*/.*' } } } }] },
      });
    });

    it('matches serviceAccounts as exact identities in the mesh trust domain, the policy\'s namespace by default', () => {
      assert.deepEqual(principal('{ notServiceAccounts: [shop/cart, reviewer] }'), {
        notId: {
          orIds: {
            ids: [
              { authenticated: { principalName: { exact: 'spiffe://cluster.local/ns/shop/sa/cart' } } },
              { authenticated: { principalName: { exact: 'spiffe://cluster.local/ns/default/sa/reviewer' } } },
            ],
          },
        },
      });
    });

    it('matches trustDomains as the start of the identity', () => {
      assert.deepEqual(principal('{ trustDomains: [example.org, "*.corp", "*"] }'), {
        orIds: {
          ids: [
            { authenticated: { principalName: { prefix: 'spiffe://example.org/' } } },
            { authenticated: { principalName: { safeRegex: { regex: 'spiffe://[^/]*\\.corp/.*' } } } },
            { authenticated: { principalName: { prefix: 'spiffe://' } } },
          ],
        },
      });
    });

    it('matches ipBlocks on the connection\'s peer and remoteIpBlocks on the original client', () => {
      assert.deepEqual(principal('{ ipBlocks: [1.2.3.4], remoteIpBlocks: ["2001:db8::/32"] }'), {
        andIds: { ids: [{ remoteIp: { addressPrefix: '2001:db8::', prefixLen: 32 } }, { directRemoteIp: { addressPrefix: '1.2.3.4', prefixLen: 32 } }] },
      });
    });

    it('matches requestPrincipals on the JWT principal the authn filter recorded; notRequestPrincipals: ["*"] means no valid JWT', () => {
      assert.deepEqual(principal('{ notRequestPrincipals: ["*"] }'), {
        notId: { metadata: { filter: 'istio_authn', path: [{ key: 'request.auth.principal' }], value: { stringMatch: { safeRegex: { regex: '.+' } } } } },
      });
    });
  });

  describe('operations', () => {
    it('matches hosts ignoring case, with and without a port', () => {
      assert.deepEqual(permission('{ hosts: [example.com, "*.example.com", "api.*", "*"] }'), {
        orRules: {
          rules: [
            { header: { name: ':authority', stringMatch: { exact: 'example.com', ignoreCase: true } } },
            { header: { name: ':authority', stringMatch: { safeRegex: { regex: '(?i)example\\.com:[0-9]+' } } } },
            { header: { name: ':authority', stringMatch: { suffix: '.example.com', ignoreCase: true } } },
            { header: { name: ':authority', stringMatch: { safeRegex: { regex: '(?i).*\\.example\\.com:[0-9]+' } } } },
            { header: { name: ':authority', stringMatch: { prefix: 'api.', ignoreCase: true } } },
            { header: { name: ':authority', presentMatch: true } },
          ],
        },
      });
      const withPort = RE2JS.compile('(?i).*\\.example\\.com:[0-9]+');
      assert.ok(withPort.matches('API.Example.com:8080'));
      assert.ok(!withPort.matches('api.example.com.evil:80'));
    });

    it('matches methods on :method and ports on the destination port', () => {
      assert.deepEqual(permission('{ methods: ["GET", "*"], notPorts: ["9000"] }'), {
        andRules: {
          rules: [
            { orRules: { rules: [{ header: { name: ':method', stringMatch: { exact: 'GET' } } }, { header: { name: ':method', presentMatch: true } }] } },
            { notRule: { destinationPort: 9000 } },
          ],
        },
      });
    });

    it('matches paths with Istio\'s string rules and {*} / {**} templates', () => {
      const seg = "[A-Za-z0-9._~%!$&'()+,;:@=-]";
      assert.deepEqual(permission('{ paths: [/exact, "/prefix/*", "*.js", "*", "/users/{*}/cart", "/static/{**}"] }'), {
        orRules: {
          rules: [
            { urlPath: { path: { exact: '/exact' } } },
            { urlPath: { path: { prefix: '/prefix/' } } },
            { urlPath: { path: { suffix: '.js' } } },
            { urlPath: { path: { safeRegex: { regex: '.+' } } } },
            { urlPath: { path: { safeRegex: { regex: `/users/${seg}+/cart` } } } },
            { urlPath: { path: { safeRegex: { regex: `/static/[A-Za-z0-9._~%!$&'()+,;:@=/-]*` } } } },
          ],
        },
      });
      // Envoy's safe_regex is RE2 and matches the whole value.
      const one = RE2JS.compile(`/users/${seg}+/cart`);
      assert.ok(one.matches('/users/42/cart'));
      assert.ok(!one.matches('/users/4/2/cart'));
      assert.ok(RE2JS.compile(`/static/[A-Za-z0-9._~%!$&'()+,;:@=/-]*`).matches('/static/css/site.css'));
    });
  });

  describe('conditions', () => {
    it('puts peer and request conditions with the principals', () => {
      const claims = (value: string) => ({ orMatch: { valueMatchers: [{ listMatch: { oneOf: { stringMatch: { exact: value } } } }, { stringMatch: { exact: value } }] } });
      const cases: [string, Principal][] = [
        ['{ key: source.ip, values: [10.1.0.0/16] }', { directRemoteIp: { addressPrefix: '10.1.0.0', prefixLen: 16 } }],
        ['{ key: remote.ip, values: [1.2.3.4] }', { remoteIp: { addressPrefix: '1.2.3.4', prefixLen: 32 } }],
        ['{ key: source.namespace, values: [prod] }', { authenticated: { principalName: { safeRegex: { regex: '.*/ns/prod/.*' } } } }],
        ['{ key: source.principal, values: [cluster.local/ns/a/sa/b] }', { authenticated: { principalName: { exact: 'spiffe://cluster.local/ns/a/sa/b' } } }],
        ['{ key: source.trustDomain, values: [example.org] }', { authenticated: { principalName: { prefix: 'spiffe://example.org/' } } }],
        ['{ key: source.serviceAccount, values: [a/b] }', { authenticated: { principalName: { exact: 'spiffe://cluster.local/ns/a/sa/b' } } }],
        ['{ key: "request.headers[User-Agent]", values: ["curl/*"] }', { header: { name: 'User-Agent', stringMatch: { prefix: 'curl/' } } }],
        ['{ key: request.auth.principal, values: [iss/sub] }', { metadata: { filter: 'istio_authn', path: [{ key: 'request.auth.principal' }], value: { stringMatch: { exact: 'iss/sub' } } } }],
        ['{ key: request.auth.presenter, values: [app] }', { metadata: { filter: 'istio_authn', path: [{ key: 'request.auth.presenter' }], value: { stringMatch: { exact: 'app' } } } }],
        ['{ key: request.auth.audiences, values: [shop] }', { metadata: { filter: 'istio_authn', path: [{ key: 'request.auth.audiences' }], value: claims('shop') } }],
        ['{ key: "request.auth.claims[groups]", values: [admin] }', { metadata: { filter: 'istio_authn', path: [{ key: 'request.auth.claims' }, { key: 'groups' }], value: claims('admin') } }],
        ['{ key: "request.auth.claims[realm][role]", values: [ops] }', { metadata: { filter: 'istio_authn', path: [{ key: 'request.auth.claims' }, { key: 'realm' }, { key: 'role' }], value: claims('ops') } }],
      ];
      for (const [condition, expected] of cases) assert.deepEqual(whenPrincipal(condition), expected, condition);
    });

    it('puts destination conditions with the permissions', () => {
      const cases: [string, Permission][] = [
        ['{ key: destination.ip, values: [10.0.0.1] }', { destinationIp: { addressPrefix: '10.0.0.1', prefixLen: 32 } }],
        ['{ key: destination.port, values: ["8443"] }', { destinationPort: 8443 }],
        ['{ key: connection.sni, values: ["*.example.com"] }', { requestedServerName: { suffix: '.example.com' } }],
        ['{ key: "experimental.envoy.filters.network.mysql_proxy[db.table]", values: ["[update]"] }', {
          metadata: { filter: 'envoy.filters.network.mysql_proxy', path: [{ key: 'db.table' }], value: { listMatch: { oneOf: { stringMatch: { exact: 'update' } } } } },
        }],
      ];
      for (const [condition, expected] of cases) assert.deepEqual(whenPermission(condition), expected, condition);
    });

    it('fails closed on a key it does not know (validation refuses them): an ALLOW rule never matches, a DENY rule loses the condition', () => {
      const withUnknownKey = (action: string): Resource<'AuthorizationPolicy'>[] => policies(ap(`{ action: ${action}, rules: [{ when: [{ key: source.ip, values: [10.0.0.1] }] }] }`))
        .map((p) => ({ ...p, object: { ...p.object, spec: { ...p.object.spec, rules: [{ when: [{ key: 'source.color', values: ['blue'] }] }] } } }));
      const build = (action: string) => authorizationHttpFilters({ policies: withUnknownKey(action), trustDomain: 'cluster.local', extensionProviders: [] }).rbac.map(rbacOf);
      assert.deepEqual(build('ALLOW').map((f) => f.rules), [{ action: 'ALLOW', policies: {} }]);
      assert.deepEqual(build('DENY').map((f) => f.rules), [{ action: 'DENY', policies: { 'ns[default]-policy[p]-rule[0]': { permissions: [{ any: true }], principals: [{ any: true }] } } }]);
    });

    it('negates notValues', () => {
      assert.deepEqual(whenPrincipal('{ key: source.ip, notValues: [10.0.0.1, 10.0.0.2] }'), {
        notId: { orIds: { ids: [{ directRemoteIp: { addressPrefix: '10.0.0.1', prefixLen: 32 } }, { directRemoteIp: { addressPrefix: '10.0.0.2', prefixLen: 32 } }] } },
      });
    });
  });

  it('puts dry-run policies in shadow rules, which are evaluated but not enforced', () => {
    const yaml = ap('{ rules: [{ to: [{ operation: { methods: [GET] } }] }] }', 'dry', '{ "istio.io/dry-run": "true" }')
      + ap('{ action: DENY, rules: [{}] }', 'dry-deny', '{ "istio.io/dry-run": "true" }')
      + ap('{ action: DENY, rules: [{ to: [{ operation: { paths: [/admin] } }] }] }', 'real-deny')
      + ap('{ rules: [{}] }', 'off', '{ "istio.io/dry-run": "false" }');
    const [deny, allow] = http(yaml);
    assert.deepEqual(Object.keys(deny?.rules?.policies ?? {}), ['ns[default]-policy[real-deny]-rule[0]']);
    assert.deepEqual(Object.keys(deny?.shadowRules?.policies ?? {}), ['ns[default]-policy[dry-deny]-rule[0]']);
    assert.equal(deny?.shadowRulesStatPrefix, 'istio_dry_run_deny_');
    assert.deepEqual(Object.keys(allow?.rules?.policies ?? {}), ['ns[default]-policy[off]-rule[0]']);
    assert.deepEqual(Object.keys(allow?.shadowRules?.policies ?? {}), ['ns[default]-policy[dry]-rule[0]']);
    assert.equal(allow?.shadowRulesStatPrefix, 'istio_dry_run_allow_');
    const [onlyDry] = http(ap('{ rules: [{}] }', 'dry', '{ "istio.io/dry-run": "true" }'));
    assert.equal(onlyDry?.rules, undefined, 'a dry-run ALLOW alone enforces nothing');
  });

  describe('CUSTOM', () => {
    const custom = ap('{ action: CUSTOM, provider: { name: my-authz }, rules: [{ to: [{ operation: { paths: ["/admin/*"] } }] }] }', 'ext');

    it('records which CUSTOM rule matched in a shadow RBAC, then checks those requests with ext_authz', () => {
      const provider: ExtensionProvider = {
        name: 'my-authz',
        envoyExtAuthzHttp: {
          service: 'foo/authz.foo.svc.cluster.local', port: 8000, timeout: '2s', pathPrefix: '/check', failOpen: true, statusOnError: '503',
          includeRequestHeadersInCheck: ['x-user', 'x-ext-*'], includeAdditionalHeadersInCheck: { 'x-b': '2', 'x-a': '1' },
          headersToUpstreamOnAllow: ['x-user-id'], headersToDownstreamOnDeny: ['*-reason'], includeRequestBodyInCheck: { maxRequestBytes: 1024 },
        },
      };
      const filters = authorizationHttpFilters(input(custom + ap('{ action: DENY, rules: [{}] }', 'deny'), [provider]));
      assert.deepEqual(filters.custom, [
        {
          name: 'envoy.filters.http.rbac',
          typedConfig: {
            '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
            shadowRules: {
              action: 'DENY',
              policies: { 'istio-ext-authz-ns[default]-policy[ext]-rule[0]': { permissions: [{ urlPath: { path: { prefix: '/admin/' } } }], principals: [{ any: true }] } },
            },
            shadowRulesStatPrefix: 'istio_ext_authz_',
          },
        },
        {
          name: 'envoy.filters.http.ext_authz',
          typedConfig: {
            '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
            httpService: {
              serverUri: { uri: 'http://authz.foo.svc.cluster.local', cluster: 'outbound|8000||authz.foo.svc.cluster.local', timeout: '2s' },
              pathPrefix: '/check',
              authorizationRequest: { headersToAdd: [{ key: 'x-a', value: '1' }, { key: 'x-b', value: '2' }] },
              authorizationResponse: { allowedUpstreamHeaders: { patterns: [{ exact: 'x-user-id', ignoreCase: true }] }, allowedClientHeaders: { patterns: [{ suffix: '-reason', ignoreCase: true }] } },
            },
            transportApiVersion: 'V3',
            failureModeAllow: true,
            statusOnError: { code: 'ServiceUnavailable' },
            filterEnabledMetadata: { filter: 'envoy.filters.http.rbac', path: [{ key: 'istio_ext_authz_shadow_effective_policy_id' }], value: { stringMatch: { prefix: 'istio-ext-authz' } } },
            allowedHeaders: { patterns: [{ exact: 'x-user', ignoreCase: true }, { prefix: 'x-ext-', ignoreCase: true }] },
            withRequestBody: { maxRequestBytes: 1024 },
          },
        },
      ]);
      assert.deepEqual(filters.rbac.map(rbacOf).map((f) => f.rules?.action), ['DENY']);
    });

    const denyAll = {
      action: 'DENY',
      policies: { 'default-deny-all-due-to-bad-CUSTOM-action': { permissions: [{ any: true }], principals: [{ any: true }] } },
    };

    it('denies every request when the provider is not in the mesh config, or when policies name two providers', () => {
      assert.deepEqual(authorizationHttpFilters(input(custom, [])).custom.map(rbacOf).map((f) => f.rules), [denyAll]);
      const two = custom + ap('{ action: CUSTOM, provider: { name: other }, rules: [{}] }', 'ext2');
      assert.deepEqual(authorizationHttpFilters(input(two, [EXT_AUTHZ, { ...EXT_AUTHZ, name: 'other' }])).custom.map(rbacOf).map((f) => f.rules), [denyAll]);
    });

    it('leaves TCP connections to the workload alone with an HTTP provider, and denies them all with an unknown one', () => {
      assert.deepEqual(tcp(custom, [EXT_AUTHZ]), []);
      assert.deepEqual(tcp(custom, []), [{ '@type': 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC', statPrefix: 'tcp.', rules: denyAll }]);
    });

    it('skips dry-run CUSTOM policies', () => {
      assert.deepEqual(authorizationHttpFilters(input(ap('{ action: CUSTOM, provider: { name: my-authz }, rules: [{}] }', 'ext', '{ "istio.io/dry-run": "true" }'), [])).custom, []);
    });
  });
});

describe('authorizationNetworkFilters', () => {
  const httpOnly = '{ rules: [{ from: [{ source: { principals: [cluster.local/ns/default/sa/a] } }], to: [{ operation: { ports: ["3306"], methods: [GET] } }] }, { from: [{ source: { namespaces: [shop] } }] }] }';

  it('drops an ALLOW rule that needs HTTP-only fields, keeping the workload default-deny when none is left', () => {
    const [allow] = tcp(ap(httpOnly));
    assert.deepEqual(allow?.rules, {
      action: 'ALLOW',
      policies: { 'ns[default]-policy[p]-rule[1]': { permissions: [{ any: true }], principals: [{ authenticated: { principalName: { safeRegex: { regex: '.*/ns/shop/.*' } } } }] } },
    });
    assert.equal(allow?.statPrefix, 'tcp.');
    assert.deepEqual(tcp(ap('{ rules: [{ to: [{ operation: { paths: [/a] } }] }, { when: [{ key: "request.auth.claims[iss]", values: [x] }] }] }')).map((f) => f.rules), [{ action: 'ALLOW', policies: {} }]);
  });

  it('drops only the HTTP-only fields of a DENY rule, so that it denies more', () => {
    const [deny] = tcp(ap(httpOnly.replace('{ rules', '{ action: DENY, rules')));
    assert.deepEqual(deny?.rules, {
      action: 'DENY',
      policies: {
        'ns[default]-policy[p]-rule[0]': { permissions: [{ destinationPort: 3306 }], principals: [{ authenticated: { principalName: { exact: 'spiffe://cluster.local/ns/default/sa/a' } } }] },
        'ns[default]-policy[p]-rule[1]': { permissions: [{ any: true }], principals: [{ authenticated: { principalName: { safeRegex: { regex: '.*/ns/shop/.*' } } } }] },
      },
    });
    const [methodsOnly] = tcp(ap('{ action: DENY, rules: [{ to: [{ operation: { notMethods: [GET] } }] }] }'));
    assert.deepEqual(methodsOnly?.rules?.policies['ns[default]-policy[p]-rule[0]'], { permissions: [{ any: true }], principals: [{ any: true }] });
  });

  it('keeps HTTP-only fields on HTTP chains', () => {
    const [allow] = http(ap(httpOnly));
    assert.deepEqual(Object.keys(allow?.rules?.policies ?? {}), ['ns[default]-policy[p]-rule[0]', 'ns[default]-policy[p]-rule[1]']);
  });
});
