import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ParsedConfig } from '../../index.ts';
import { assertValid, parseYaml, problems } from '../../test-support.ts';

/** Parses one Secret of `type` whose other fields are `body`, written without indentation. */
function secret(type: string | undefined, body: string): ParsedConfig {
  return parseYaml(`apiVersion: v1\nkind: Secret\nmetadata: {name: gateway-cert, namespace: istio-system}\n${type !== undefined ? `type: ${type}\n` : ''}${body.trim()}\n`);
}

const b64 = (text: string): string => Buffer.from(text).toString('base64');

describe('Secret', () => {
  describe('accepted forms', () => {
    it('accepts a TLS secret for a gateway credentialName', () => {
      const result = secret('kubernetes.io/tls', `data:\n  tls.crt: ${b64('cert')}\n  tls.key: ${b64('key')}\n  ca.crt: ${b64('ca')}\nimmutable: true`);
      assertValid(result);
    });

    it('accepts an Opaque secret (the default type) with data and stringData', () => {
      assert.deepEqual(problems(secret(undefined, `data:\n  cert: ${b64('c')}\n  .hidden_key-1: ""\nstringData:\n  password: s3cr3t`)), []);
      assert.deepEqual(problems(secret('Opaque', 'stringData: {a: b}')), []);
    });

    it('accepts base64 split over several lines, as Kubernetes does', () => {
      assert.deepEqual(problems(secret('Opaque', `data:\n  long: |\n    ${b64('0123456789ab')}\n    ${b64('cdef')}`)), []);
    });

    it('counts stringData towards the keys a type requires', () => {
      assert.deepEqual(problems(secret('kubernetes.io/tls', `data:\n  tls.crt: ${b64('cert')}\nstringData:\n  tls.key: key`)), []);
      assert.deepEqual(problems(secret('kubernetes.io/basic-auth', 'stringData: {username: admin}')), []);
      assert.deepEqual(problems(secret('kubernetes.io/dockerconfigjson', 'stringData: {.dockerconfigjson: \'{"auths": {}}\'}')), []);
    });

    it('accepts a custom type', () => {
      assert.deepEqual(problems(secret('example.com/token', 'stringData: {token: t}')), []);
    });
  });

  describe('rejections', () => {
    it('requires data values to be base64, without echoing them', () => {
      const result = secret('Opaque', 'data:\n  password: hunter2!');
      assert.deepEqual(problems(result), [
        'data.password: is not base64-encoded (values under data are base64, as `kubectl create secret` writes them; put plain text under stringData instead)',
      ]);
      assert.ok(!result.diagnostics[0]!.message.includes('hunter2'));
    });

    it('reports a value of the wrong type without echoing it', () => {
      const result = secret('Opaque', 'stringData:\n  pin: 123456');
      assert.deepEqual(problems(result), ['stringData.pin: must be a string (quote numbers and booleans)']);
      assert.ok(!result.diagnostics[0]!.message.includes('123456'));
    });

    it('rejects keys that are not valid file names', () => {
      assert.deepEqual(problems(secret('Opaque', 'stringData:\n  "tls key": a\n  "..data": b\n  "a/b": c')), [
        'stringData["tls key"]: key "tls key" may contain only letters, digits, \'-\', \'_\' and \'.\'',
        'stringData["..data"]: key "..data" must not start with ".."',
        'stringData["a/b"]: key "a/b" may contain only letters, digits, \'-\', \'_\' and \'.\'',
      ]);
    });

    it('requires tls.crt and tls.key in a kubernetes.io/tls secret', () => {
      assert.deepEqual(problems(secret('kubernetes.io/tls', `data:\n  tls.crt: ${b64('cert')}\n  key: ${b64('key')}`)), [
        'data: a kubernetes.io/tls Secret needs the keys tls.crt and tls.key in data or stringData; missing tls.key',
      ]);
    });

    it('requires a username or password in a basic-auth secret, and the key of an ssh-auth secret', () => {
      assert.deepEqual(problems(secret('kubernetes.io/basic-auth', 'stringData: {user: admin}')), [
        'data: a kubernetes.io/basic-auth Secret needs the key username or password in data or stringData',
      ]);
      assert.deepEqual(problems(secret('kubernetes.io/ssh-auth', 'stringData: {id_rsa: k}')), [
        'data: a kubernetes.io/ssh-auth Secret needs the keys ssh-privatekey in data or stringData; missing ssh-privatekey',
      ]);
    });

    it('requires registry credentials to be JSON', () => {
      assert.deepEqual(problems(secret('kubernetes.io/dockerconfigjson', `data:\n  .dockerconfigjson: ${b64('{not json')}`)), [
        'data[".dockerconfigjson"]: must hold a JSON document',
      ]);
    });

    it('requires the service account annotation on a service-account-token secret', () => {
      assert.deepEqual(problems(secret('kubernetes.io/service-account-token', '')), [
        'metadata.annotations: a kubernetes.io/service-account-token Secret needs the annotation kubernetes.io/service-account.name',
      ]);
    });

    it('refuses a Secret larger than 1 MiB', () => {
      const big = 'x'.repeat(1024 * 1024 + 1);
      assert.deepEqual(problems(secret('Opaque', `stringData:\n  blob: ${big}`)), ['data: the Secret holds 1048577 bytes; the limit is 1 MiB']);
    });

    it('has no spec, and suggests fields for misspellings', () => {
      assert.deepEqual(problems(secret('Opaque', 'spec: {}\nstringdata: {a: b}')), [
        'spec: unknown field "spec"; expected one of: apiVersion, kind, metadata, type, data, stringData, immutable',
        'stringdata: unknown field "stringdata" (did you mean "stringData"?)',
      ]);
    });

    it('rejects a non-boolean immutable', () => {
      assert.deepEqual(problems(secret('Opaque', 'immutable: "yes"')), ['immutable: expected true or false, got string "yes"']);
    });
  });
});
