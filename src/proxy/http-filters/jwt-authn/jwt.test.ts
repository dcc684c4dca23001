import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { importJwks, parseJwks } from './jwks.ts';
import { audiencesAllowed, checkTimes, parseJwt, verifySignature } from './jwt.ts';
import { jwksOf, TestKey } from './jwt-test-support.ts';

function encode(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function hs256(secret: Buffer, payload: Record<string, unknown>, kid?: string): string {
  const input = `${encode({ alg: 'HS256', ...(kid !== undefined && { kid }) })}.${encode(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

describe('parseJwt', () => {
  it('gives jwt_verify_lib\'s status for each malformation', () => {
    const status = (token: string): string => {
      const parsed = parseJwt(token);
      return parsed.ok ? 'ok' : parsed.error;
    };
    assert.equal(status('a.b'), 'badFormat');
    assert.equal(status(`${encode('x')}.${encode({})}.`), 'headerParseError');
    assert.equal(status(`${encode({ alg: 1 })}.${encode({})}.`), 'headerBadAlg');
    assert.equal(status(`${encode({ alg: 'HS256', kid: 7 })}.${encode({})}.`), 'headerBadKid');
    assert.equal(status(`${encode({ alg: 'RS256' })}.${encode({ iss: 3 })}.`), 'payloadParseError');
    assert.equal(status(`${encode({ alg: 'RS256' })}.${encode({ exp: 'soon' })}.`), 'payloadParseError');
    assert.equal(status(`${encode({ alg: 'RS256' })}.${encode({ aud: ['a', 1] })}.`), 'payloadParseError');
    assert.equal(status(`${encode({ alg: 'RS256' })}.${encode({})}.a+b`), 'signatureParseError');
    assert.equal(status(`${encode({ alg: 'RS256' })}.${encode({ aud: 'a' })}.`), 'ok');
  });

  it('applies the clock skew to exp and nbf', () => {
    const jwt = parseJwt(`${encode({ alg: 'RS256' })}.${encode({ exp: 1000, nbf: 500 })}.`);
    assert.ok(jwt.ok);
    assert.equal(checkTimes(jwt.value, 1060, 60), 'ok');
    assert.equal(checkTimes(jwt.value, 1061, 60), 'expired');
    assert.equal(checkTimes(jwt.value, 439, 60), 'notYetValid');
  });

  it('matches audiences without scheme or trailing slash, and any when none are configured', () => {
    const jwt = parseJwt(`${encode({ alg: 'RS256' })}.${encode({ aud: ['http://a.example/', 'b'] })}.`);
    assert.ok(jwt.ok);
    assert.equal(audiencesAllowed(jwt.value, ['https://a.example']), true);
    assert.equal(audiencesAllowed(jwt.value, ['c']), false);
    assert.equal(audiencesAllowed(jwt.value, []), true);
  });
});

describe('verifySignature', () => {
  it('verifies HS256 with an oct key, and tells a kid mismatch from a bad signature', async () => {
    const secret = Buffer.from('a shared secret of enough length!');
    const jwks = parseJwks(JSON.stringify({ keys: [{ kty: 'oct', kid: 'h', alg: 'HS256', k: secret.toString('base64url') }] }));
    assert.ok(jwks.ok);
    const check = (token: string): Promise<string> => {
      const jwt = parseJwt(token);
      assert.ok(jwt.ok);
      return verifySignature(jwt.value, jwks.value);
    };
    assert.equal(await check(hs256(secret, { iss: 'x' }, 'h')), 'ok');
    assert.equal(await check(hs256(secret, { iss: 'x' })), 'ok', 'a token without kid tries every key');
    assert.equal(await check(hs256(Buffer.from('another secret'), { iss: 'x' }, 'h')), 'verificationFail');
    assert.equal(await check(hs256(secret, { iss: 'x' }, 'other')), 'jwksKidAlgMismatch');
  });

  it('never takes an RSA key for an ES256 token', async () => {
    const rsa = new TestKey('RS256', 'k');
    const ec = new TestKey('ES256', 'k');
    const jwks = parseJwks(JSON.stringify({ keys: [{ ...rsa.jwk(), alg: undefined }] }));
    assert.ok(jwks.ok);
    const jwt = parseJwt(ec.sign({}));
    assert.ok(jwt.ok);
    assert.equal(await verifySignature(jwt.value, jwks.value), 'verificationFail');
  });

  it('tries keys without kid or alg for every token, as Envoy does', async () => {
    const first = new TestKey('ES256', 'a');
    const second = new TestKey('ES256', 'b');
    const bare = (key: TestKey): Record<string, unknown> => ({ ...key.jwk(), kid: undefined, alg: undefined });
    const jwks = parseJwks(JSON.stringify({ keys: [bare(first), bare(second)] }));
    assert.ok(jwks.ok);
    for (const token of [second.sign({}), second.sign({}, { kid: undefined })]) {
      const jwt = parseJwt(token);
      assert.ok(jwt.ok);
      assert.equal(await verifySignature(jwt.value, jwks.value), 'ok');
    }
  });
});

describe('parseJwks', () => {
  it('keeps the usable keys and refuses a set with none', () => {
    const parsed = parseJwks(JSON.stringify({ keys: [{ kty: 'RSA', n: 'AQAB' }, { kty: 'XYZ' }, JSON.parse(jwksOf(new TestKey('ES256', 'e'))).keys[0]] }));
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value.keys.map((k) => k.kid), ['e']);
    assert.deepEqual(parseJwks('{'), { ok: false, error: 'jwksParseError' });
    assert.deepEqual(parseJwks('{}'), { ok: false, error: 'jwksNoKeys' });
    assert.deepEqual(parseJwks('{"keys":{}}'), { ok: false, error: 'jwksBadKeys' });
    assert.deepEqual(parseJwks('{"keys":[{"kty":"EC","alg":"ES256","crv":"P-384","x":"a","y":"b"}]}'), { ok: false, error: 'jwksNoValidKeys' });
  });

  it('drops, when importing, the keys whose material jose cannot use', async () => {
    const good = JSON.parse(jwksOf(new TestKey('EdDSA', 'ed'))).keys[0];
    const parsed = parseJwks(JSON.stringify({ keys: [{ ...good, kid: 'bad', x: 'AAAA' }, { ...good, kid: 'ed448', crv: 'Ed448' }, good] }));
    assert.ok(parsed.ok);
    assert.equal(parsed.value.keys.length, 3);
    const imported = await importJwks(parsed.value);
    assert.ok(imported.ok);
    assert.deepEqual(imported.value.keys.map((k) => k.kid), ['ed']);
    assert.deepEqual(await importJwks({ keys: parsed.value.keys.slice(0, 1) }), { ok: false, error: 'jwksNoValidKeys' });
  });
});
