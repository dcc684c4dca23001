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

describe('verifyCertificateChain', () => {
  it('accepts a leaf for our key and identity that chains to a self-signed root', () => {
    const verified = verifyCertificateChain(chain, { identity: SERVER_SPIFFE_ID, publicKeySpki: serverKey }, now);
    assert.deepEqual(verified, { ok: true, value: { notBefore: server.validFromDate.getTime(), notAfter: server.validToDate.getTime(), serial: server.serialNumber.toLowerCase() } });
  });

  it('refuses a leaf for another key or another identity', () => {
    assert.deepEqual(verifyCertificateChain(chain, { identity: SERVER_SPIFFE_ID, publicKeySpki: clientKey }, now), { ok: false, error: 'the certificate is not for our key' });
    assert.deepEqual(verifyCertificateChain(chain, { identity: CLIENT_SPIFFE_ID, publicKeySpki: serverKey }, now), {
      ok: false, error: `the certificate names ${SERVER_SPIFFE_ID}; expected only ${CLIENT_SPIFFE_ID}`,
    });
  });

  it('refuses a chain that does not link up, has no root, does not parse, or has expired', () => {
    const expected = { identity: SERVER_SPIFFE_ID, publicKeySpki: serverKey };
    assert.deepEqual(verifyCertificateChain([pem('server.pem'), pem('other-ca.pem')], expected, now), { ok: false, error: 'certificate 0 of the chain is not issued by certificate 1' });
    assert.deepEqual(verifyCertificateChain([pem('server.pem')], expected, now), { ok: false, error: 'expected the leaf and at least the root, got 1 certificate' });
    const unparsable = verifyCertificateChain([pem('server.pem'), 'not a certificate'], expected, now);
    assert.match(unparsable.ok ? 'accepted' : unparsable.error, /^certificate 1 of the chain does not parse/);
    assert.deepEqual(verifyCertificateChain(chain, expected, server.validToDate.getTime()), { ok: false, error: `the certificate expired at ${server.validToDate.toISOString()}` });
  });
});
