import { constants, createHmac, timingSafeEqual, verify } from 'node:crypto';
import { err, ok, type Result } from '../../../core/index.ts';
import type { Jwk, Jwks } from './jwks.ts';
import type { JwtStatus } from './jwt-status.ts';

type Family = 'RSA' | 'PSS' | 'EC' | 'HMAC' | 'EdDSA';

interface Algorithm {
  readonly family: Family;
  /** The digest; null for EdDSA, which hashes as part of the scheme. */
  readonly hash: string | null;
  /** The curve an ES algorithm needs. */
  readonly crv?: string;
}

/** The JWS algorithms Envoy's jwt_verify_lib verifies. `none` is not among them. */
const ALGORITHMS: Readonly<Record<string, Algorithm>> = {
  RS256: { family: 'RSA', hash: 'sha256' },
  RS384: { family: 'RSA', hash: 'sha384' },
  RS512: { family: 'RSA', hash: 'sha512' },
  PS256: { family: 'PSS', hash: 'sha256' },
  PS384: { family: 'PSS', hash: 'sha384' },
  PS512: { family: 'PSS', hash: 'sha512' },
  ES256: { family: 'EC', hash: 'sha256', crv: 'P-256' },
  ES384: { family: 'EC', hash: 'sha384', crv: 'P-384' },
  ES512: { family: 'EC', hash: 'sha512', crv: 'P-521' },
  HS256: { family: 'HMAC', hash: 'sha256' },
  HS384: { family: 'HMAC', hash: 'sha384' },
  HS512: { family: 'HMAC', hash: 'sha512' },
  EdDSA: { family: 'EdDSA', hash: null },
};

/** A JWT taken apart, its signature not yet checked. */
export interface Jwt {
  readonly alg: string;
  /** '' when the header has none. */
  readonly kid: string;
  readonly header: Readonly<Record<string, unknown>>;
  readonly payload: Readonly<Record<string, unknown>>;
  /** '' when absent. */
  readonly iss: string;
  readonly sub: string;
  /** `aud`, a string or a list of strings in the token, as a list. */
  readonly audiences: readonly string[];
  /** Seconds since the epoch; 0 when absent. */
  readonly exp: number;
  readonly nbf: number;
  /** The payload as the token carries it (base64url, no padding), for forwardPayloadHeader. */
  readonly payloadBase64url: string;
  /** `header.payload`: what the signature covers. */
  readonly signingInput: string;
  readonly signature: Buffer;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Parses a compact JWS as jwt_verify_lib does, with its statuses for each malformation. */
export function parseJwt(token: string): Result<Jwt, JwtStatus> {
  const parts = token.split('.');
  if (parts.length !== 3) return err('badFormat');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];

  const header = decodeJson(headerPart);
  if (header === undefined) return err('headerParseError');
  const alg = header['alg'];
  if (typeof alg !== 'string') return err('headerBadAlg');
  if (ALGORITHMS[alg] === undefined) return err('headerNotImplementedAlg');
  const kid = header['kid'] ?? '';
  if (typeof kid !== 'string') return err('headerBadKid');

  const payload = decodeJson(payloadPart);
  if (payload === undefined) return err('payloadParseError');
  const iss = payload['iss'] ?? '';
  const sub = payload['sub'] ?? '';
  const aud = payload['aud'] ?? [];
  const audiences = typeof aud === 'string' ? [aud] : aud;
  const exp = timestamp(payload['exp']);
  const nbf = timestamp(payload['nbf']);
  if (typeof iss !== 'string' || typeof sub !== 'string' || !isStringList(audiences) || exp === undefined || nbf === undefined || timestamp(payload['iat']) === undefined) {
    return err('payloadParseError');
  }

  if (!BASE64URL.test(signaturePart)) return err('signatureParseError');
  return ok({
    alg, kid, header, payload, iss, sub, audiences, exp, nbf,
    payloadBase64url: payloadPart,
    signingInput: `${headerPart}.${payloadPart}`,
    signature: Buffer.from(signaturePart, 'base64url'),
  });
}

/** `exp` and `nbf`, each allowed `skewSeconds` of difference between the clocks. */
export function checkTimes(jwt: Jwt, nowSeconds: number, skewSeconds: number): JwtStatus {
  if (nowSeconds + skewSeconds < jwt.nbf) return 'notYetValid';
  if (jwt.exp !== 0 && nowSeconds > jwt.exp + skewSeconds) return 'expired';
  return 'ok';
}

/**
 * Whether one of the token's audiences is allowed (any is, when `allowed` is empty). As in
 * jwt_verify_lib, a scheme (`https://`) and a trailing '/' are ignored on both sides.
 */
export function audiencesAllowed(jwt: Jwt, allowed: readonly string[]): boolean {
  if (allowed.length === 0) return true;
  const wanted = new Set(allowed.map(normalizeAudience));
  return jwt.audiences.some((audience) => wanted.has(normalizeAudience(audience)));
}

function normalizeAudience(audience: string): string {
  const bare = audience.replace(/^https?:\/\//, '');
  return bare.endsWith('/') ? bare.slice(0, -1) : bare;
}

/**
 * Checks the signature against the JWKS as jwt_verify_lib does: a key is tried when its `kid`
 * and `alg`, where both sides have one, agree with the token's; the token verifies when one of
 * them verifies it. No key tried is `jwksKidAlgMismatch`; keys tried in vain, `verificationFail`.
 */
export function verifySignature(jwt: Jwt, jwks: Jwks): JwtStatus {
  const algorithm = ALGORITHMS[jwt.alg]!;
  let tried = false;
  for (const jwk of jwks.keys) {
    if (jwt.kid !== '' && jwk.kid !== '' && jwk.kid !== jwt.kid) continue;
    if (jwk.alg !== '' && jwk.alg !== jwt.alg) continue;
    tried = true;
    if (verifiesWith(jwk, algorithm, jwt)) return 'ok';
  }
  return tried ? 'verificationFail' : 'jwksKidAlgMismatch';
}

function verifiesWith(jwk: Jwk, algorithm: Algorithm, jwt: Jwt): boolean {
  const data = Buffer.from(jwt.signingInput);
  try {
    switch (algorithm.family) {
      case 'RSA':
        return jwk.kty === 'RSA' && verify(algorithm.hash, data, jwk.key, jwt.signature);
      case 'PSS':
        return jwk.kty === 'RSA' && verify(algorithm.hash, data, { key: jwk.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, jwt.signature);
      case 'EC':
        return jwk.kty === 'EC' && jwk.crv === algorithm.crv && verify(algorithm.hash, data, { key: jwk.key, dsaEncoding: 'ieee-p1363' }, jwt.signature);
      case 'EdDSA':
        return jwk.kty === 'OKP' && verify(null, data, jwk.key, jwt.signature);
      case 'HMAC': {
        if (jwk.kty !== 'oct') return false;
        const expected = createHmac(algorithm.hash!, jwk.key).update(data).digest();
        return expected.length === jwt.signature.length && timingSafeEqual(expected, jwt.signature);
      }
    }
  } catch {
    // A signature of the wrong length or shape for the key: not a match.
    return false;
  }
}

function decodeJson(part: string): Readonly<Record<string, unknown>> | undefined {
  if (!BASE64URL.test(part)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}

/** A NumericDate claim as whole seconds; 0 when absent, undefined when not a non-negative number. */
function timestamp(value: unknown): number | undefined {
  if (value === undefined) return 0;
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;
}

function isStringList(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}
