import { base64url, compactVerify, decodeJwt, decodeProtectedHeader } from 'jose';
import { err, ok, type Result } from '../../../core/index.ts';
import type { Jwks } from './jwks.ts';
import type { JwtStatus } from './jwt-status.ts';

/** The JWS algorithms Envoy's jwt_verify_lib verifies. `none` is not among them. */
const ALGORITHMS: ReadonlySet<string> = new Set([
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'HS256', 'HS384', 'HS512', 'EdDSA',
]);

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
  /** The compact JWS, for jose to verify. */
  readonly token: string;
}

/** Parses a compact JWS as jwt_verify_lib does, with its statuses for each malformation. */
export function parseJwt(token: string): Result<Jwt, JwtStatus> {
  const parts = token.split('.');
  if (parts.length !== 3) return err('badFormat');
  const [, payloadPart, signaturePart] = parts as [string, string, string];

  const header = decoded(() => decodeProtectedHeader(token));
  if (header === undefined) return err('headerParseError');
  const alg = header['alg'];
  if (typeof alg !== 'string') return err('headerBadAlg');
  if (!ALGORITHMS.has(alg)) return err('headerNotImplementedAlg');
  const kid = header['kid'] ?? '';
  if (typeof kid !== 'string') return err('headerBadKid');

  const payload = decoded(() => decodeJwt(token));
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

  if (decoded(() => base64url.decode(signaturePart)) === undefined) return err('signatureParseError');
  return ok({ alg, kid, header, payload, iss, sub, audiences, exp, nbf, payloadBase64url: payloadPart, token });
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
 * The keys are chosen here rather than by jose's createLocalJWKSet, which tries no key without
 * `kid` for a token with one and refuses HS* algorithms.
 */
export async function verifySignature(jwt: Jwt, jwks: Jwks): Promise<JwtStatus> {
  let tried = false;
  for (const key of jwks.keys) {
    if (jwt.kid !== '' && key.kid !== '' && key.kid !== jwt.kid) continue;
    if (key.alg !== '' && key.alg !== jwt.alg) continue;
    tried = true;
    try {
      await compactVerify(jwt.token, key.jwk);
      return 'ok';
    } catch {
      // A bad signature, or a key of another type or curve than the algorithm's: try the next.
    }
  }
  return tried ? 'verificationFail' : 'jwksKidAlgMismatch';
}

/** What a jose decoder returns; undefined when it throws on a malformed part. */
function decoded<T>(decode: () => T): T | undefined {
  try {
    return decode();
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
