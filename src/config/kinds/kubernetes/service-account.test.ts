import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseYaml, problems } from '../../test-support.ts';

const HEAD = 'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: bookinfo-reviews, namespace: bookinfo}\n';

describe('ServiceAccount', () => {
  it('accepts secrets, imagePullSecrets and automountServiceAccountToken', () => {
    const result = parseYaml(`${HEAD}automountServiceAccountToken: false
imagePullSecrets: [{name: regcred}]
secrets: [{name: bookinfo-reviews-token, namespace: bookinfo, kind: Secret, apiVersion: v1}]
`);
    assert.deepEqual(problems(result), []);
    assert.equal(result.resources[0]!.namespace, 'bookinfo');
    assert.equal(result.resources[0]!.name, 'bookinfo-reviews');
  });

  it('accepts a ServiceAccount with only metadata', () => {
    assert.deepEqual(problems(parseYaml(HEAD)), []);
  });

  it('has no spec', () => {
    assert.deepEqual(problems(parseYaml(`${HEAD}spec: {}\n`)), [
      'spec: unknown field "spec"; expected one of: apiVersion, kind, metadata, secrets, imagePullSecrets, automountServiceAccountToken',
    ]);
  });

  it('rejects misspelt fields with a suggestion', () => {
    assert.deepEqual(problems(parseYaml(`${HEAD}imagePullSecret: [{name: regcred}]\nautomountServiceAccountTokens: true\n`)), [
      'imagePullSecret: unknown field "imagePullSecret" (did you mean "imagePullSecrets"?)',
      'automountServiceAccountTokens: unknown field "automountServiceAccountTokens" (did you mean "automountServiceAccountToken"?)',
    ]);
  });

  it('rejects wrong types', () => {
    assert.deepEqual(problems(parseYaml(`${HEAD}automountServiceAccountToken: "false"\nsecrets: {name: x}\n`)), [
      'secrets: expected a list, got a mapping',
      'automountServiceAccountToken: expected true or false, got string "false"',
    ]);
  });

  it('allows only a name in an image pull secret reference', () => {
    assert.deepEqual(problems(parseYaml(`${HEAD}imagePullSecrets: [{name: regcred, namespace: other}]\n`)), [
      'imagePullSecrets[0].namespace: unknown field "namespace"; expected one of: name',
    ]);
  });

  it('requires the name to be a DNS-1123 subdomain', () => {
    assert.deepEqual(problems(parseYaml('apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: Reviews}\n')), [
      'metadata.name: "Reviews" is not a DNS-1123 subdomain (lower-case letters, digits, \'-\' and \'.\', at most 253 characters, starting and ending with a letter or digit)',
    ]);
  });
});
