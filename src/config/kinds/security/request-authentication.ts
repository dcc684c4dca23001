import * as z from 'zod';
import { addIssue, ALWAYS, crossField, duration } from '../../schema/common.ts';
import { defineKind, istioObject, ISTIO_SECURITY_GROUP, ISTIO_SECURITY_VERSIONS } from '../kind-definition.ts';
import { checkSingleTarget, targetSelection } from '../policy-target.ts';

const nonEmpty = z.string().refine((s) => s !== '', 'must not be empty');

/** Where the proxy fetches the signing keys: an absolute http(s) URL, at most 2048 characters. */
export function jwksUriProblem(uri: string): string | undefined {
  if (uri === '') return 'must not be empty';
  if (uri.length > 2048) return `the URL is ${uri.length} characters long; the limit is 2048`;
  const scheme = URL.canParse(uri) ? new URL(uri).protocol : undefined;
  if (scheme !== 'http:' && scheme !== 'https:') return `"${uri}" is not an http:// or https:// URL`;
  return undefined;
}

/** Inline keys: a JSON Web Key Set (`{"keys": [...]}`) or a single JSON Web Key, each key with its `kty`. */
export function jwksProblem(jwks: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(jwks);
  } catch (e) {
    return `jwks is not valid JSON: ${(e as Error).message}`;
  }
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(parsed)) return 'jwks must be a JSON Web Key Set ({"keys": [...]}) or a single JSON Web Key';
  if (!('keys' in parsed)) return typeof parsed['kty'] === 'string' ? undefined : 'jwks must be a JSON Web Key Set ({"keys": [...]}) or a single JSON Web Key (with "kty")';
  const keys = parsed['keys'];
  if (!Array.isArray(keys)) return 'jwks "keys" must be a list of JSON Web Keys';
  const bad = keys.findIndex((k) => !isObject(k) || typeof k['kty'] !== 'string');
  return bad >= 0 ? `jwks key ${bad} is not a JSON Web Key (a JSON object with "kty")` : undefined;
}

const jwksUri = z.string().check((ctx) => {
  const problem = jwksUriProblem(ctx.value);
  if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
});

export const JWTHeader = z.strictObject({ name: nonEmpty, prefix: z.string().optional() });
export type JWTHeader = z.infer<typeof JWTHeader>;

export const ClaimToHeader = z.strictObject({
  header: z.string().refine((h) => /^[-_A-Za-z0-9]+$/.test(h), 'must be a header name (letters, digits, \'-\' and \'_\')'),
  claim: nonEmpty,
});
export type ClaimToHeader = z.infer<typeof ClaimToHeader>;

export const JWTRule = z
  .strictObject({
    issuer: nonEmpty.optional(),
    audiences: z.array(nonEmpty).optional(),
    jwksUri: jwksUri.optional(),
    /** The snake_case spelling Istio's CRD still accepts. */
    jwks_uri: jwksUri.optional(),
    jwks: z.string().check((ctx) => {
      const problem = jwksProblem(ctx.value);
      if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
    }).optional(),
    fromHeaders: z.array(JWTHeader).optional(),
    fromParams: z.array(nonEmpty).optional(),
    fromCookies: z.array(nonEmpty).optional(),
    outputPayloadToHeader: z.string().optional(),
    forwardOriginalToken: z.boolean().optional(),
    outputClaimToHeaders: z.array(ClaimToHeader).optional(),
    timeout: duration().optional(),
    spaceDelimitedClaims: z.array(nonEmpty).max(64).optional(),
    presence: z.enum(['OPTIONAL', 'REQUIRED']).optional(),
  })
  .superRefine(crossField((rule, ctx) => {
    // Istio lets the issuer be left out when jwksUri names the key set.
    if (rule.issuer === undefined && rule.jwksUri === undefined && rule.jwks_uri === undefined) addIssue(ctx, ['issuer'], 'issuer is required (the "iss" claim a token must carry), unless jwksUri is set');
    const keySources = (['jwksUri', 'jwks_uri', 'jwks'] as const).filter((k) => rule[k] !== undefined);
    if (keySources.length > 1) addIssue(ctx, [keySources[1]!], `only one of jwksUri or jwks may be set, got ${keySources.join(' and ')}`);
  }), ALWAYS);
export type JWTRule = z.infer<typeof JWTRule>;

export const RequestAuthenticationSpec = z
  .strictObject({
    ...targetSelection,
    jwtRules: z.array(JWTRule).max(4096).optional(),
  })
  .superRefine(crossField((spec, ctx) => checkSingleTarget(spec, ctx)), ALWAYS);
export type RequestAuthenticationSpec = z.infer<typeof RequestAuthenticationSpec>;

export const RequestAuthenticationKind = defineKind({
  kind: 'RequestAuthentication',
  group: ISTIO_SECURITY_GROUP,
  versions: ISTIO_SECURITY_VERSIONS,
  schema: istioObject(RequestAuthenticationSpec),
});
export type RequestAuthentication = z.infer<typeof RequestAuthenticationKind.schema>;
