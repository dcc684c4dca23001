import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { snapshotFromYaml } from '../snapshot/test-support.ts';
import { assertValidMessage, TypeUrl } from '../../xds/index.ts';
import type { Secret } from '../../xds/envoy/index.ts';
import { testProxy } from './cluster-test-support.ts';
import { SecretGenerator } from './secret-generator.ts';

/** The upstream TLS fixtures (see src/proxy/upstream/testdata/README.md). */
function pem(name: string): string {
  return readFileSync(new URL(`../../proxy/upstream/testdata/${name}`, import.meta.url), 'utf8');
}

const CA = pem('ca.pem');
const OTHER_CA = pem('other-ca.pem');
const CLIENT = pem('client.pem');
const CLIENT_KEY = pem('client-key.pem');
const SERVER_KEY = pem('server-key.pem');

const b64 = (text: string): string => Buffer.from(text).toString('base64');
const indent = (text: string): string => text.trimEnd().split('\n').map((l) => `      ${l}`).join('\n');

function secretYaml(name: string, namespace: string, values: { data?: Record<string, string>; stringData?: Record<string, string> }, type = 'Opaque'): string {
  const data = Object.entries(values.data ?? {}).map(([k, v]) => `    ${k}: ${b64(v)}`).join('\n');
  const stringData = Object.entries(values.stringData ?? {}).map(([k, v]) => `    ${k}: |\n${indent(v)}`).join('\n');
  return `apiVersion: v1
kind: Secret
metadata: {name: ${name}, namespace: ${namespace}}
type: ${type}
${data === '' ? '' : `data:\n${data}\n`}${stringData === '' ? '' : `stringData:\n${stringData}\n`}`;
}

const YAML = [
  // A TLS Secret, as `kubectl create secret generic --from-file=tls.crt --from-file=tls.key --from-file=ca.crt` writes it.
  secretYaml('client-credential', 'istio-system', { data: { 'tls.crt': CLIENT, 'tls.key': CLIENT_KEY, 'ca.crt': CA } }),
  // Istio's generic keys, in plain text.
  secretYaml('generic', 'istio-system', { stringData: { cert: CLIENT, key: CLIENT_KEY, cacert: OTHER_CA } }),
  // Only a CA.
  secretYaml('ca-only', 'istio-system', { data: { 'ca.crt': CA } }),
  // A certificate whose CA is in a separate `<name>-cacert` Secret.
  secretYaml('split', 'istio-system', { data: { 'tls.crt': CLIENT, 'tls.key': CLIENT_KEY } }),
  secretYaml('split-cacert', 'istio-system', { data: { 'ca.crt': OTHER_CA } }),
  // A key that is not the certificate's.
  secretYaml('mismatched', 'istio-system', { data: { 'tls.crt': CLIENT, 'tls.key': SERVER_KEY, 'ca.crt': 'not a certificate' } }),
  // Another namespace's credential of the same name.
  secretYaml('elsewhere', 'default', { data: { 'tls.crt': CLIENT, 'tls.key': CLIENT_KEY, 'ca.crt': CA } }),
].join('---\n');

const GATEWAY = testProxy({ kind: 'router', namespace: 'istio-system', workloadName: 'istio-ingressgateway' });

function generate(names: readonly string[], proxy = GATEWAY, yaml = YAML): Map<string, Secret> {
  const resources = new SecretGenerator().generate(proxy, snapshotFromYaml(yaml), new Set(names));
  return new Map(resources.map((r) => {
    assertValidMessage('envoy.extensions.transport_sockets.tls.v3.Secret', r.resource);
    return [r.name, r.resource as unknown as Secret];
  }));
}

function decoded(source: { inlineBytes?: string } | undefined): string {
  assert.ok(source?.inlineBytes !== undefined, 'inline bytes');
  return Buffer.from(source.inlineBytes, 'base64').toString('utf8');
}

describe('SecretGenerator (SDS for credentialName)', () => {
  it('serves SDS secrets', () => {
    assert.equal(new SecretGenerator().typeUrl, TypeUrl.Secret);
    assert.deepEqual([...new SecretGenerator().inputs], ['Secret']);
  });

  it('gives X the client certificate and key of Secret X (tls.crt, tls.key), and X-cacert its ca.crt', () => {
    const secrets = generate(['client-credential', 'client-credential-cacert']);
    const certificate = secrets.get('client-credential');
    assert.equal(certificate?.name, 'client-credential');
    assert.equal(decoded(certificate?.tlsCertificate?.certificateChain), CLIENT);
    assert.equal(decoded(certificate?.tlsCertificate?.privateKey), CLIENT_KEY);
    assert.equal(certificate?.validationContext, undefined);
    const ca = secrets.get('client-credential-cacert');
    assert.equal(ca?.name, 'client-credential-cacert');
    assert.equal(decoded(ca?.validationContext?.trustedCa), CA);
    assert.equal(ca?.tlsCertificate, undefined);
  });

  it('reads Istio\'s generic keys (cert, key, cacert) and stringData in plain text', () => {
    const secrets = generate(['generic', 'generic-cacert']);
    assert.equal(decoded(secrets.get('generic')?.tlsCertificate?.certificateChain), CLIENT);
    assert.equal(decoded(secrets.get('generic')?.tlsCertificate?.privateKey), CLIENT_KEY);
    assert.equal(decoded(secrets.get('generic-cacert')?.validationContext?.trustedCa), OTHER_CA);
  });

  it('answers Istio\'s kubernetes:// names under the name asked for', () => {
    const secrets = generate(['kubernetes://client-credential', 'kubernetes://client-credential-cacert', 'kubernetes://istio-system/ca-only-cacert']);
    assert.equal(secrets.get('kubernetes://client-credential')?.name, 'kubernetes://client-credential');
    assert.equal(decoded(secrets.get('kubernetes://client-credential')?.tlsCertificate?.certificateChain), CLIENT);
    assert.equal(decoded(secrets.get('kubernetes://client-credential-cacert')?.validationContext?.trustedCa), CA);
    assert.equal(decoded(secrets.get('kubernetes://istio-system/ca-only-cacert')?.validationContext?.trustedCa), CA);
  });

  it('serves the CA of a Secret holding only ca.crt (SIMPLE), and no certificate from it', () => {
    const secrets = generate(['ca-only', 'ca-only-cacert']);
    assert.deepEqual([...secrets.keys()], ['ca-only-cacert']);
  });

  it('takes the CA from a separate <name>-cacert Secret when Secret <name> has none', () => {
    const secrets = generate(['split', 'split-cacert']);
    assert.equal(decoded(secrets.get('split')?.tlsCertificate?.certificateChain), CLIENT);
    assert.equal(decoded(secrets.get('split-cacert')?.validationContext?.trustedCa), OTHER_CA);
  });

  it('reads only Secrets of the proxy\'s own namespace, as Istio allows', () => {
    assert.deepEqual([...generate(['elsewhere', 'elsewhere-cacert', 'kubernetes://default/elsewhere']).keys()], []);
    const sidecar = testProxy({ namespace: 'default' });
    assert.deepEqual([...generate(['elsewhere', 'elsewhere-cacert', 'client-credential'], sidecar).keys()].sort(), ['elsewhere', 'elsewhere-cacert']);
    assert.deepEqual([...generate(['kubernetes://istio-system/client-credential'], sidecar).keys()], [], 'another namespace by name is refused too');
  });

  it('leaves out what it cannot serve: missing Secrets or keys, a key that is not the certificate\'s, a CA that is no certificate, the proxy\'s own names', () => {
    const names = ['nowhere', 'nowhere-cacert', 'mismatched', 'mismatched-cacert', 'default', 'ROOTCA', 'kubernetes://', ''];
    assert.deepEqual([...generate(names).keys()], []);
    // Beside them, the good ones are still served.
    assert.deepEqual([...generate([...names, 'client-credential']).keys()], ['client-credential']);
  });

  it('has no wildcard: a proxy gets only the secrets it names', () => {
    assert.deepEqual(new SecretGenerator().generate(GATEWAY, snapshotFromYaml(YAML), 'all'), []);
  });

  it('shares output between proxies of one namespace only', () => {
    const generator = new SecretGenerator();
    const a = generator.sharingKey(testProxy({ namespace: 'istio-system', workloadName: 'a', labels: { x: '1' } }));
    const b = generator.sharingKey(testProxy({ namespace: 'istio-system', workloadName: 'b' }));
    assert.equal(a, b);
    assert.notEqual(a, generator.sharingKey(testProxy({ namespace: 'default' })));
  });
});
