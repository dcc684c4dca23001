import { importJWK, type JWK } from 'jose';
import { err, ok, type Result } from '../../../core/index.ts';
import type { JwtStatus } from './jwt-status.ts';

/** One key of a JWKS: what selects it for a token, and its public members for jose. */
export interface Jwk {
  /** '' when the key has none: it is then tried for every token. */
  readonly kid: string;
  /** '' when the key has none: it is then tried for every algorithm of its type. */
  readonly alg: string;
  /** Without kid, alg or use, so that jose leaves the choice of key to Envoy's rules. */
  readonly jwk: Readonly<JWK>;
}

/** A JSON Web Key Set (RFC 7517), holding only the keys that could be used. */
export interface Jwks {
  readonly keys: readonly Jwk[];
}

/** The curve each ES algorithm signs on; an EC key without `crv` takes its `alg`'s. */
const EC_CURVES: Readonly<Record<string, string>> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };

/**
 * Parses a JWKS as Envoy's jwt_verify_lib does: JSON with a `keys` array. Keys that cannot be used
 * (an unknown `kty`, an `alg` of another family, missing members) are skipped, so that one key a
 * provider publishes for another purpose does not disable the others; a set left with no usable
 * key is refused (`jwksNoValidKeys`). The key material is checked by importJwks.
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

/**
 * The keys of `jwks` whose material jose imports (dropping, say, a point off its curve or an Ed448
 * key); `jwksNoValidKeys` when none is left. Apart from parseJwks because jose imports
 * asynchronously, while a localJwks is parsed with the rest of the config.
 */
export async function importJwks(jwks: Jwks): Promise<Result<Jwks, JwtStatus>> {
  const usable = await Promise.all(jwks.keys.map((key) => importJWK(key.jwk, key.alg || probeAlgorithm(key.jwk)).then(() => true, () => false)));
  const keys = jwks.keys.filter((_, i) => usable[i]);
  return keys.length === 0 ? err('jwksNoValidKeys') : ok({ keys });
}

/** An algorithm to import a key without `alg` for; its material is the same for all of its type. */
function probeAlgorithm(jwk: Readonly<JWK>): string | undefined {
  switch (jwk.kty) {
    case 'RSA': return 'RS256';
    case 'EC': return Object.keys(EC_CURVES).find((alg) => EC_CURVES[alg] === jwk.crv);
    case 'OKP': return 'EdDSA';
    default: return undefined;
  }
}

function parseJwk(raw: Readonly<Record<string, unknown>>): Jwk | undefined {
  const kid = raw['kid'] ?? '';
  const alg = raw['alg'] ?? '';
  if (typeof kid !== 'string' || typeof alg !== 'string') return undefined;
  const jwk = publicMembers(raw, alg);
  return jwk === undefined ? undefined : { kid, alg, jwk };
}

/** Only the public members are kept, so a private JWK pasted by mistake yields its public key. */
function publicMembers(raw: Readonly<Record<string, unknown>>, alg: string): JWK | undefined {
  const { n, e, x, y, k } = raw;
  switch (raw['kty']) {
    case 'RSA':
      if (alg !== '' && !alg.startsWith('RS') && !alg.startsWith('PS')) return undefined;
      return typeof n === 'string' && typeof e === 'string' ? { kty: 'RSA', n, e } : undefined;
    case 'EC': {
      if (alg !== '' && EC_CURVES[alg] === undefined) return undefined;
      const crv = raw['crv'] ?? EC_CURVES[alg];
      if (typeof crv !== 'string' || (alg !== '' && EC_CURVES[alg] !== crv)) return undefined;
      return typeof x === 'string' && typeof y === 'string' ? { kty: 'EC', crv, x, y } : undefined;
    }
    case 'OKP': {
      const crv = raw['crv'];
      if ((alg !== '' && alg !== 'EdDSA') || typeof crv !== 'string' || typeof x !== 'string') return undefined;
      return { kty: 'OKP', crv, x };
    }
    case 'oct':
      if ((alg !== '' && !alg.startsWith('HS')) || typeof k !== 'string' || k === '') return undefined;
      return { kty: 'oct', k };
    default:
      return undefined;
  }
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
