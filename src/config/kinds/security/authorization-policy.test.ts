import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ParsedConfig } from '../../index.ts';
import { assertValid, parseSeed, parseYaml, problems, resourceYaml } from '../../test-support.ts';
import { conditionKeyProblem, pathProblem, stringMatchProblem } from './authorization-policy.ts';

/** Parses one AuthorizationPolicy whose spec is `spec`, written without indentation. */
function policy(spec: string): ParsedConfig {
  return parseYaml(resourceYaml('security.istio.io/v1', 'AuthorizationPolicy', spec, { name: 'p', namespace: 'default' }));
}

describe('AuthorizationPolicy', () => {
  describe('seed examples', () => {
    for (const file of ['001-security.yaml', '002-security.yaml', '003-security.yaml']) {
      it(`parses ${file} with no diagnostics`, () => {
        const result = parseSeed(file);
        assert.deepEqual(problems(result), []);
        assert.ok(result.resources.length >= 2);
      });
    }
  });

  describe('accepted forms', () => {
    it('accepts spec: {} (allow nothing, which denies every request)', () => {
      assertValid(policy('{}'));
    });

    it('accepts rules: [{}] (allow every request)', () => {
      assertValid(policy('rules:\n- {}'));
    });

    it('accepts a policy using every source, operation and condition field', () => {
      assertValid(policy(`
selector:
  matchLabels: {app: httpbin}
action: ALLOW
rules:
- from:
  - source:
      principals: ["cluster.local/ns/default/sa/sleep", "prefix-*", "*-suffix", "*"]
      notPrincipals: ["cluster.local/ns/evil/sa/*"]
      requestPrincipals: ["https://accounts.google.com/*"]
      notRequestPrincipals: ["*"]
      namespaces: ["test", "prod-*"]
      notNamespaces: ["dev"]
      ipBlocks: ["1.2.3.4", "5.6.0.0/16", "2001:db8::/32"]
      notIpBlocks: ["9.0.0.1"]
      remoteIpBlocks: ["10.0.0.0/8"]
      notRemoteIpBlocks: ["10.1.0.0/16"]
      trustDomains: ["cluster.local", "*.example.com"]
      notTrustDomains: ["evil.local"]
  - source:
      serviceAccounts: ["default/sleep", "productpage"]
      notServiceAccounts: ["other/sa"]
  to:
  - operation:
      hosts: ["example.com", "*.example.com", "prefix.*"]
      notHosts: ["admin.example.com"]
      ports: ["80", "8080"]
      notPorts: ["15000"]
      methods: ["GET", "HEAD"]
      notMethods: ["DELETE"]
      paths: ["/info*", "/data", "*/suffix", "/path/{*}/x", "/{**}/tail"]
      notPaths: ["/admin*"]
  when:
  - key: request.headers[X-Custom]
    values: ["a", "*/*"]
  - key: source.ip
    values: ["10.0.0.1", "192.168.0.0/24"]
  - key: remote.ip
    notValues: ["10.0.0.1"]
  - key: source.namespace
    values: ["default"]
  - key: source.principal
    values: ["cluster.local/ns/default/sa/*"]
  - key: source.serviceAccount
    values: ["default/sleep"]
  - key: source.trustDomain
    values: ["cluster.local"]
  - key: request.auth.principal
    values: ["issuer/subject"]
  - key: request.auth.audiences
    values: ["bookstore"]
  - key: request.auth.presenter
    values: ["client"]
  - key: request.auth.claims[iss]
    values: ["https://accounts.google.com"]
  - key: request.auth.claims[nested1][nested2]
    values: ["value"]
  - key: destination.ip
    values: ["10.0.0.0/8"]
  - key: destination.port
    values: ["9080"]
  - key: connection.sni
    values: ["*.example.com"]
  - key: experimental.envoy.filters.network.mysql_proxy[db.table]
    values: ["[update]"]
`));
    });

    it('accepts DENY and AUDIT policies with rules', () => {
      assertValid(policy('action: DENY\nrules:\n- to:\n  - operation: {methods: [POST], ports: ["8080"]}'));
      assertValid(policy('action: AUDIT\nrules:\n- to:\n  - operation: {paths: ["/user/profile/*"]}'));
    });

    it('accepts a CUSTOM policy with a provider', () => {
      assertValid(policy('action: CUSTOM\nprovider:\n  name: my-ext-authz\nrules:\n- to:\n  - operation: {paths: ["/admin/*"]}'));
    });

    it('accepts a policy targeting a gateway or a service', () => {
      assertValid(policy('targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: ingress}'));
      assertValid(policy('targetRefs:\n- {kind: Service, name: reviews}\n- {group: "", kind: Service, name: ratings}\n- {group: networking.istio.io, kind: ServiceEntry, name: ext}'));
    });
  });

  describe('rejections', () => {
    it('rejects a misspelt field with a suggestion', () => {
      const result = policy('rules:\n- from:\n  - source:\n      principal: ["a"]');
      assert.deepEqual(problems(result), ['spec.rules[0].from[0].source.principal: unknown field "principal" (did you mean "principals"?)']);
      assert.equal(result.diagnostics[0]!.origin?.line, 10);
      assert.equal(result.resources.length, 0);
    });

    it('rejects an unknown action, suggesting the closest', () => {
      assert.deepEqual(problems(policy('action: DENNY\nrules: [{}]')), ['spec.action: must be one of ALLOW, DENY, AUDIT, CUSTOM, got string "DENNY" (did you mean "DENY"?)']);
    });

    it('rejects a wrong type', () => {
      assert.deepEqual(problems(policy('rules:\n- to:\n  - operation: {ports: 80}')), ['spec.rules[0].to[0].operation.ports: expected a list, got integer 80']);
    });

    it('rejects a from entry with an empty or missing source', () => {
      assert.deepEqual(problems(policy('rules:\n- from:\n  - source: {}\n  - {}')), [
        'spec.rules[0].from[0].source: a source must set at least one field (principals, namespaces, ipBlocks, ...); leave "from" out to match any source',
        'spec.rules[0].from[1].source: required field is missing',
      ]);
    });

    it('rejects a to entry with an empty operation', () => {
      assert.deepEqual(problems(policy('rules:\n- to:\n  - operation: {paths: []}')), [
        'spec.rules[0].to[0].operation: an operation must set at least one field (hosts, ports, methods, paths, ...); leave "to" out to match any operation',
      ]);
    });

    it('rejects empty from and to lists', () => {
      assert.deepEqual(problems(policy('rules:\n- from: []\n  to: []')), [
        'spec.rules[0].from: "from" must not be an empty list; leave it out to match any source',
        'spec.rules[0].to: "to" must not be an empty list; leave it out to match any operation',
      ]);
    });

    it('rejects empty strings in any list', () => {
      assert.deepEqual(problems(policy('rules:\n- from:\n  - source: {namespaces: [""]}\n  to:\n  - operation: {methods: [""]}')), [
        'spec.rules[0].from[0].source.namespaces[0]: must not be empty',
        'spec.rules[0].to[0].operation.methods[0]: must not be empty',
      ]);
    });

    it('rejects a wildcard in the middle of a value', () => {
      assert.deepEqual(problems(policy('rules:\n- from:\n  - source: {principals: ["cluster.local/ns/*/sa/x", "*a*"]}')), [
        'spec.rules[0].from[0].source.principals[0]: "cluster.local/ns/*/sa/x": a \'*\' is allowed only once, at the start (suffix match) or at the end (prefix match), or alone',
        'spec.rules[0].from[0].source.principals[1]: "*a*": a \'*\' is allowed only once, at the start (suffix match) or at the end (prefix match), or alone',
      ]);
    });

    it('points a path with a wildcard segment to the {*} template', () => {
      assert.deepEqual(problems(policy('rules:\n- to:\n  - operation: {paths: ["/api/*/users"]}')), [
        'spec.rules[0].to[0].operation.paths[0]: "/api/*/users": a \'*\' is allowed only once, at the start (suffix match) or at the end (prefix match), or alone; use {*} to match one path segment',
      ]);
    });

    it('rejects malformed path templates', () => {
      assert.deepEqual(problems(policy('rules:\n- to:\n  - operation: {paths: ["/{**}/{*}", "/a/{id}", "/a/{*}/b*"]}')), [
        'spec.rules[0].to[0].operation.paths[0]: "/{**}/{*}": {**} must be the last template operator in the path',
        'spec.rules[0].to[0].operation.paths[1]: "/a/{id}": \'{\' and \'}\' are allowed only in the whole-segment templates {*} and {**}',
        'spec.rules[0].to[0].operation.paths[2]: "/a/{*}/b*": segment "b*" is not allowed in a path template (letters, digits and -._~%!$&\'()+,;:@= only)',
      ]);
    });

    it('rejects ports that are not numbers 1..65535', () => {
      assert.deepEqual(problems(policy('rules:\n- to:\n  - operation: {ports: ["0", "65536", "http"], notPorts: ["-1"]}')), [
        'spec.rules[0].to[0].operation.ports[0]: "0" is not a port number (expected 1..65535)',
        'spec.rules[0].to[0].operation.ports[1]: "65536" is not a port number (expected 1..65535)',
        'spec.rules[0].to[0].operation.ports[2]: "http" is not a port number (expected 1..65535)',
        'spec.rules[0].to[0].operation.notPorts[0]: "-1" is not a port number (expected 1..65535)',
      ]);
    });

    it('rejects IP blocks that are not IPs or CIDRs', () => {
      assert.deepEqual(problems(policy('rules:\n- from:\n  - source: {ipBlocks: ["10.0.0.0/33", "example.com"], notRemoteIpBlocks: [""]}')), [
        'spec.rules[0].from[0].source.ipBlocks[0]: "10.0.0.0/33": prefix length must be 0..32',
        'spec.rules[0].from[0].source.ipBlocks[1]: "example.com" is not an IP address or CIDR block',
        'spec.rules[0].from[0].source.notRemoteIpBlocks[0]: must not be empty',
      ]);
    });

    it('rejects serviceAccounts combined with principals or namespaces', () => {
      assert.deepEqual(problems(policy('rules:\n- from:\n  - source: {serviceAccounts: ["ns/sa"], namespaces: ["ns"], notPrincipals: ["x"]}')), [
        'spec.rules[0].from[0].source.serviceAccounts: serviceAccounts cannot be combined with notPrincipals or namespaces in one source; put them in separate sources',
      ]);
    });

    it('rejects malformed service accounts and trust domains', () => {
      assert.deepEqual(problems(policy('rules:\n- from:\n  - source: {serviceAccounts: ["a/b/c", "ns/*", "/sa"], trustDomains: ["a/b"]}')), [
        'spec.rules[0].from[0].source.serviceAccounts[0]: "a/b/c" is not a service account (expected "<name>" or "<namespace>/<name>")',
        'spec.rules[0].from[0].source.serviceAccounts[1]: "ns/*": wildcards are not allowed in service accounts',
        'spec.rules[0].from[0].source.serviceAccounts[2]: "/sa" is not a service account (expected "<name>" or "<namespace>/<name>")',
        'spec.rules[0].from[0].source.trustDomains[0]: "a/b": a trust domain cannot contain \'/\'',
      ]);
    });

    it('rejects more than 16 service accounts', () => {
      const accounts = Array.from({ length: 17 }, (_, i) => `"sa${i}"`).join(', ');
      assert.deepEqual(problems(policy(`rules:\n- from:\n  - source: {serviceAccounts: [${accounts}]}`)), [
        'spec.rules[0].from[0].source.serviceAccounts: must have at most 16 items, got 17',
      ]);
    });

    it('rejects a condition without values or notValues', () => {
      assert.deepEqual(problems(policy('rules:\n- when:\n  - key: source.ip')), ['spec.rules[0].when[0]: the condition on "source.ip" must set values or notValues']);
    });

    it('rejects a condition without a key', () => {
      assert.deepEqual(problems(policy('rules:\n- when:\n  - values: ["a"]')), ['spec.rules[0].when[0].key: required field is missing']);
    });

    it('rejects unknown condition keys, suggesting the closest', () => {
      assert.deepEqual(problems(policy('rules:\n- when:\n  - key: request.header[x-user]\n    values: ["a"]\n  - key: source.principals\n    values: ["a"]')), [
        'spec.rules[0].when[0].key: unknown condition key "request.header[x-user]" (did you mean "request.headers[x-user]"?)',
        'spec.rules[0].when[1].key: unknown condition key "source.principals" (did you mean "source.principal"?)',
      ]);
      assert.match(problems(policy('rules:\n- when:\n  - key: weather\n    values: ["sunny"]'))[0]!, /unknown condition key "weather"; expected one of source\.ip, .*request\.headers\[<name>\]/);
    });

    it('rejects map keys without a name in brackets', () => {
      assert.deepEqual(problems(policy('rules:\n- when:\n  - key: request.headers\n    values: ["a"]\n  - key: request.auth.claims[]\n    values: ["a"]')), [
        'spec.rules[0].when[0].key: "request.headers" must have the form request.headers[<name>]',
        'spec.rules[0].when[1].key: "request.auth.claims[]" must have the form request.auth.claims[<claim>] (nested: request.auth.claims[<claim>][<field>])',
      ]);
    });

    it('rejects the retired destination.* keys with the replacement', () => {
      assert.deepEqual(problems(policy('rules:\n- when:\n  - key: destination.labels[app]\n    values: ["a"]\n  - key: destination.namespace\n    values: ["a"]')), [
        'spec.rules[0].when[0].key: destination.labels is not supported: use selector.matchLabels to choose the workloads',
        'spec.rules[0].when[1].key: destination.namespace is not supported: the namespace of the policy (metadata.namespace) decides where it applies',
      ]);
    });

    it('checks condition values by key', () => {
      assert.deepEqual(problems(policy('rules:\n- when:\n  - key: source.ip\n    values: ["not-an-ip"]\n  - key: destination.port\n    notValues: ["99999"]\n  - key: request.auth.claims[groups]\n    values: ["a*b", ""]')), [
        'spec.rules[0].when[0].values[0]: "not-an-ip" is not an IP address or CIDR block',
        'spec.rules[0].when[1].notValues[0]: "99999" is not a port number (expected 1..65535)',
        'spec.rules[0].when[2].values[0]: "a*b": a \'*\' is allowed only once, at the start (suffix match) or at the end (prefix match), or alone',
        'spec.rules[0].when[2].values[1]: must not be empty',
      ]);
    });

    it('rejects CUSTOM without a provider and a provider without CUSTOM', () => {
      assert.deepEqual(problems(policy('action: CUSTOM\nrules: [{}]')), ['spec: action CUSTOM needs provider.name (an extension provider of meshConfig.extensionProviders)']);
      assert.deepEqual(problems(policy('action: CUSTOM\nprovider: {name: ""}\nrules: [{}]')), ['spec.provider.name: action CUSTOM needs provider.name (an extension provider of meshConfig.extensionProviders)']);
      assert.deepEqual(problems(policy('provider: {name: authz}\nrules: [{}]')), ['spec.provider: provider is used only with action CUSTOM, but the action is ALLOW']);
    });

    it('rejects DENY and CUSTOM policies without rules, which would never apply', () => {
      assert.deepEqual(problems(policy('action: DENY')), ['spec.rules: a DENY policy without rules never applies; add an empty rule "{}" to apply it to every request']);
      assert.deepEqual(problems(policy('action: CUSTOM\nprovider: {name: authz}\nrules: []')), ['spec.rules: a CUSTOM policy without rules never applies; add an empty rule "{}" to apply it to every request']);
    });

    it('rejects identity fields and conditions that CUSTOM does not support', () => {
      assert.deepEqual(problems(policy(`
action: CUSTOM
provider: {name: authz}
rules:
- from:
  - source: {principals: ["a"], ipBlocks: ["10.0.0.0/8"]}
  when:
  - key: request.auth.claims[iss]
    values: ["x"]
  - key: request.headers[x-a]
    values: ["x"]
`)), [
        'spec.rules[0].from[0].source.principals: principals is not supported with action CUSTOM',
        'spec.rules[0].when[0].key: the condition "request.auth.claims[iss]" is not supported with action CUSTOM',
      ]);
    });

    it('rejects selector together with targetRef', () => {
      const result = policy('selector: {matchLabels: {app: a}}\ntargetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: gw}');
      assert.deepEqual(problems(result), ['spec.targetRef: only one of selector, targetRef or targetRefs may be set, got selector and targetRef']);
      assert.equal(result.diagnostics[0]!.origin?.line, 8);
    });

    it('rejects target references Istio does not support', () => {
      assert.deepEqual(problems(policy('targetRefs:\n- {kind: Gateway, name: gw}\n- {kind: Deployment, group: apps, name: d}\n- {kind: Service, name: s, namespace: other}')), [
        'spec.targetRefs[0].group: Gateway belongs to group gateway.networking.k8s.io, got group ""',
        'spec.targetRefs[1].kind: a policy can target a Service, a ServiceEntry (networking.istio.io), a Gateway or a GatewayClass (gateway.networking.k8s.io), got kind "Deployment"',
        'spec.targetRefs[2].namespace: cross-namespace references are not supported; leave namespace out (the target must be in the namespace of the policy)',
      ]);
    });

    it('reports every problem at once, nested and cross-field', () => {
      const result = policy('action: DENY\nselector: {matchLabels: {app: a}}\ntargetRefs: [{kind: Service, name: s}]\nrules:\n- to:\n  - operation: {ports: ["x"]}');
      assert.deepEqual(problems(result), [
        'spec.rules[0].to[0].operation.ports[0]: "x" is not a port number (expected 1..65535)',
        'spec.targetRefs: only one of selector, targetRef or targetRefs may be set, got selector and targetRefs',
      ]);
    });
  });

  describe('value helpers', () => {
    it('classifies string matches', () => {
      for (const ok of ['abc', 'abc*', '*abc', '*']) assert.equal(stringMatchProblem(ok), undefined, ok);
      for (const bad of ['', 'a*c', '**', '*a*']) assert.notEqual(stringMatchProblem(bad), undefined, bad);
    });

    it('classifies paths and templates', () => {
      for (const ok of ['/a', '/a*', '*/b', '/a/{*}', '/{**}', '/{*}/{**}', '/{**}/literal']) assert.equal(pathProblem(ok), undefined, ok);
      for (const bad of ['', '/a/*/b', '/{**}/{**}', '/a{b}']) assert.notEqual(pathProblem(bad), undefined, bad);
    });

    it('classifies condition keys', () => {
      for (const ok of ['source.ip', 'request.headers[:authority]', 'request.auth.claims[a][b]', 'experimental.envoy.filters.http.x[y]']) assert.equal(conditionKeyProblem(ok), undefined, ok);
      for (const bad of ['', 'source', 'request.auth.claims', 'experimental.envoy.filters.x', 'destination.user']) assert.notEqual(conditionKeyProblem(bad), undefined, bad);
    });
  });
});
