import { createPublicKey, createSecretKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { err, ok, type Result } from '../../../core/index.ts';
import type { JwtStatus } from './jwt-status.ts';

/** The key types Weft verifies with: RSA (RS*, PS*), EC (ES*), oct (HS*) and OKP (EdDSA). */
export type JwkType = 'RSA' | 'EC' | 'oct' | 'OKP';

/** One usable key of a JWKS. */
export interface Jwk {
  /** '' when the key has none: it is then tried for every token. */
  readonly kid: string;
  /** '' when the key has none: it is then tried for every algorithm of its type. */
  readonly alg: string;
  readonly kty: JwkType;
  /** The curve of an EC or OKP key (`P-256`, `Ed25519`); '' for the others. */
  readonly crv: string;
  readonly key: KeyObject;
}

/** A JSON Web Key Set (RFC 7517), holding only the keys that could be imported. */
export interface Jwks {
  readonly keys: readonly Jwk[];
}

/** The curve each ES algorithm signs on; an EC key without `crv` takes its `alg`'s. */
const EC_CURVES: Readonly<Record<string, string>> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };
const OKP_CURVES: ReadonlySet<string> = new Set(['Ed25519', 'Ed448']);

/**
 * Parses a JWKS as Envoy's jwt_verify_lib does: JSON with a `keys` array. Keys that cannot be used
 * (an unknown `kty`, an `alg` of another family, missing members) are skipped, so that one key a
 * provider publishes for another purpose does not disable the others; a set left with no usable
 * key is refused (`jwksNoValidKeys`).
 */
export function parseJwks(text: string): Result<Jwks, JwtStatus> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return err('jwksParseError');
  }
  if (!isRecord(json) || json['keys'] === undefined) return err('jwksNoKeys');
  const raw = json['keys'];
  if (!Array.isArray(raw)) return err('jwksBadKeys');
  const keys: Jwk[] = [];
  for (const entry of raw) {
    const key = isRecord(entry) ? parseJwk(entry) : undefined;
    if (key !== undefined) keys.push(key);
  }
  return keys.length === 0 ? err('jwksNoValidKeys') : ok({ keys });
}

function parseJwk(raw: Readonly<Record<string, unknown>>): Jwk | undefined {
  const kid = raw['kid'] === undefined ? '' : raw['kid'];
  const alg = raw['alg'] === undefined ? '' : raw['alg'];
  if (typeof kid !== 'string' || typeof alg !== 'string') return undefined;
  try {
    switch (raw['kty']) {
      case 'RSA': {
        if (alg !== '' && !alg.startsWith('RS') && !alg.startsWith('PS')) return undefined;
        if (typeof raw['n'] !== 'string' || typeof raw['e'] !== 'string') return undefined;
        return { kid, alg, kty: 'RSA', crv: '', key: publicKey({ kty: 'RSA', n: raw['n'], e: raw['e'] }) };
      }
      case 'EC': {
        if (alg !== '' && EC_CURVES[alg] === undefined) return undefined;
        const crv = raw['crv'] === undefined ? EC_CURVES[alg] : raw['crv'];
        if (typeof crv !== 'string' || (alg !== '' && EC_CURVES[alg] !== crv)) return undefined;
        if (typeof raw['x'] !== 'string' || typeof raw['y'] !== 'string') return undefined;
        return { kid, alg, kty: 'EC', crv, key: publicKey({ kty: 'EC', crv, x: raw['x'], y: raw['y'] }) };
      }
      case 'OKP': {
        const crv = raw['crv'];
        if ((alg !== '' && alg !== 'EdDSA') || typeof crv !== 'string' || !OKP_CURVES.has(crv) || typeof raw['x'] !== 'string') return undefined;
        return { kid, alg, kty: 'OKP', crv, key: publicKey({ kty: 'OKP', crv, x: raw['x'] }) };
      }
      case 'oct': {
        if ((alg !== '' && !alg.startsWith('HS')) || typeof raw['k'] !== 'string' || raw['k'] === '') return undefined;
        return { kid, alg, kty: 'oct', crv: '', key: createSecretKey(Buffer.from(raw['k'], 'base64url')) };
      }
      default:
        return undefined;
    }
  } catch {
    // node refused the key material (a modulus that is not base64url, a point off the curve).
    return undefined;
  }
}

/** Only the public members are passed on, so a private JWK pasted by mistake yields its public key. */
function publicKey(jwk: JsonWebKey): KeyObject {
  return createPublicKey({ key: jwk, format: 'jwk' });
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
