import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { CLIENT_SPIFFE_ID, pem, SERVER_SPIFFE_ID } from '../upstream/tls-test-support.ts';
import { verifyCertificateChain } from './verify-chain.ts';

const server = new X509Certificate(pem('server.pem'));
const serverKey = server.publicKey.export({ type: 'spki', format: 'der' });
const clientKey = new X509Certificate(pem('client.pem')).publicKey.export({ type: 'spki', format: 'der' });
const now = server.validFromDate.getTime() + 60_000;
const chain = [pem('server.pem'), pem('ca.pem')];

function fingerprint(text: string): string {
  return new X509Certificate(text).fingerprint256;
}

function failure(result: { ok: true } | { ok: false; error: string }): string {
  return result.ok ? 'accepted' : result.error;
}

describe('verifyCertificateChain', () => {
  it('accepts a leaf for our key and identity that chains to a self-signed root', () => {
    const verified = verifyCertificateChain(chain, { identity: SERVER_SPIFFE_ID, publicKeySpki: serverKey }, now);
    assert.ok(verified.ok, verified.ok ? '' : verified.error);
    assert.equal(verified.value.notBefore, server.validFromDate.getTime());
    assert.equal(verified.value.notAfter, server.validToDate.getTime());
    assert.equal(verified.value.serial, server.serialNumber.toLowerCase());
    assert.deepEqual(verified.value.certChainPem.map(fingerprint), chain.map(fingerprint));
    assert.deepEqual(verified.value.trustBundle.map(fingerprint), [fingerprint(pem('ca.pem'))]);
  });

  it('takes a last element holding several roots as the trust bundle, the chain ending at any of them', () => {
    const expected = { identity: SERVER_SPIFFE_ID, publicKeySpki: serverKey };
    for (const bundle of [pem('other-ca.pem') + pem('ca.pem'), pem('ca.pem') + '\n' + pem('other-ca.pem')]) {
      const verified = verifyCertificateChain([pem('server.pem'), bundle], expected, now);
      assert.ok(verified.ok, verified.ok ? '' : verified.error);
      // The proxy presents its chain up to the root it chains to; it trusts every root of the bundle.
      assert.deepEqual(verified.value.certChainPem.map(fingerprint), [fingerprint(pem('server.pem')), fingerprint(pem('ca.pem'))]);
      assert.deepEqual(new Set(verified.value.trustBundle.map(fingerprint)), new Set([fingerprint(pem('ca.pem')), fingerprint(pem('other-ca.pem'))]));
    }
  });

  it('refuses a leaf for another key or another identity', () => {
    assert.deepEqual(verifyCertificateChain(chain, { identity: SERVER_SPIFFE_ID, publicKeySpki: clientKey }, now), { ok: false, error: 'the certificate is not for our key' });
    assert.deepEqual(verifyCertificateChain(chain, { identity: CLIENT_SPIFFE_ID, publicKeySpki: serverKey }, now), {
      ok: false, error: `the certificate names ${SERVER_SPIFFE_ID}; expected only ${CLIENT_SPIFFE_ID}`,
    });
  });

  it('refuses a chain that does not link up, has no root, does not parse, or has expired', () => {
    const expected = { identity: SERVER_SPIFFE_ID, publicKeySpki: serverKey };
    assert.match(failure(verifyCertificateChain([pem('server.pem'), pem('other-ca.pem')], expected, now)), /^the chain does not end at a root of the trust bundle \(1 root; it ends at /);
    assert.deepEqual(verifyCertificateChain([pem('server.pem'), pem('other-ca.pem'), pem('ca.pem')], expected, now), { ok: false, error: 'certificate 0 of the chain is not issued by certificate 1' });
    assert.deepEqual(verifyCertificateChain([pem('server.pem'), pem('ca.pem'), 'no PEM here'], expected, now), { ok: false, error: 'the last element of the chain (the trust bundle) holds no PEM certificate' });
    assert.deepEqual(verifyCertificateChain([pem('server.pem'), pem('server.pem')], expected, now), { ok: false, error: 'root 0 of the trust bundle is not self-signed' });
    assert.deepEqual(verifyCertificateChain([pem('server.pem')], expected, now), { ok: false, error: 'expected the leaf and at least the root, got 1 certificate' });
    const unparsable = verifyCertificateChain([pem('server.pem'), 'not a certificate', pem('ca.pem')], expected, now);
    assert.match(failure(unparsable), /^certificate 1 of the chain does not parse/);
    assert.deepEqual(verifyCertificateChain(chain, expected, server.validToDate.getTime()), { ok: false, error: `the certificate expired at ${server.validToDate.toISOString()}` });
  });
});
