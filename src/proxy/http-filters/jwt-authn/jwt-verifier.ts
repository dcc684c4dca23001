import { appendHeader } from '../../http/headers.ts';
import type { RequestHead } from '../../http/request-head.ts';
import type { JwksSource } from './jwks-source.ts';
import type { JwtProvider, JwtRequirement } from './jwt-authn-config.ts';
import { audiencesAllowed, checkTimes, parseJwt, verifySignature, type Jwt } from './jwt.ts';
import type { JwtStatus } from './jwt-status.ts';
import { TokenExtractor, type ExtractedToken } from './token-extractor.ts';

/** A provider as requests use it: its config and where its keys come from. */
export interface ProviderRuntime {
  readonly config: JwtProvider;
  readonly jwks: JwksSource;
}

/** One request's verification: the request it may change, and what good tokens leave for the metadata. */
export class VerifyContext {
  readonly request: RequestHead;
  readonly nowSeconds: number;
  /** Good tokens' payloads (and headers) by their payloadInMetadata (headerInMetadata) key. */
  readonly extracted: Record<string, unknown> = {};
  /** A good token's claims were copied to headers of a provider with clearRouteCache. */
  clearRouteCache = false;

  constructor(request: RequestHead, nowSeconds: number) {
    this.request = request;
    this.nowSeconds = nowSeconds;
  }
}

/** Verifies a request against one requirement; resolves to `ok` or why it failed. */
export type Verifier = (context: VerifyContext) => Promise<JwtStatus>;

interface AuthenticatorSpec {
  readonly extractor: TokenExtractor;
  /** The provider the tokens must be of; undefined takes, for each token, the provider of its issuer. */
  readonly provider: ProviderRuntime | undefined;
  /** Replaces the provider's audiences (a requirement's providerAndAudiences). */
  readonly audiences: readonly string[] | undefined;
  readonly allowMissing: boolean;
  readonly allowFailed: boolean;
}

/**
 * Turns requirements into verifiers with Envoy's semantics. Every token a requirement's providers
 * look for is verified and all must be good (so that a bad token cannot ride along with a good
 * one). requiresAny passes on its first passing member; when none passes, it fails with the most
 * telling status among them (anything over an unknown issuer, which is over a missing token),
 * unless its allowMissing forgives a missing token or its allowMissingOrFailed forgives all.
 * Alone, allowMissing verifies the tokens of every provider and passes when there are none;
 * allowMissingOrFailed passes always, keeping the payloads of the good tokens.
 */
export class JwtVerifiers {
  readonly #providers: readonly ProviderRuntime[];
  readonly #byName: ReadonlyMap<string, ProviderRuntime>;
  readonly #extractors = new Map<string, TokenExtractor>();
  readonly #allExtractor: TokenExtractor;

  /** `providers` in the config's order. */
  constructor(providers: readonly ProviderRuntime[]) {
    this.#providers = providers;
    this.#byName = new Map(providers.map((p) => [p.config.name, p]));
    this.#allExtractor = new TokenExtractor(providers.map((p) => p.config));
  }

  compile(requirement: JwtRequirement): Verifier {
    switch (requirement.kind) {
      case 'provider': {
        const provider = this.#byName.get(requirement.provider);
        // The config parser refuses requirements naming unknown providers.
        if (provider === undefined) throw new Error(`provider ${requirement.provider} is not configured`);
        return this.#authenticator({ extractor: this.#extractorFor(provider), provider, audiences: requirement.audiences, allowMissing: false, allowFailed: false });
      }
      case 'allowMissing':
        return this.#authenticator({ extractor: this.#allExtractor, provider: undefined, audiences: undefined, allowMissing: true, allowFailed: false });
      case 'allowMissingOrFailed':
        return this.#authenticator({ extractor: this.#allExtractor, provider: undefined, audiences: undefined, allowMissing: true, allowFailed: true });
      case 'allowAll':
        return () => Promise.resolve('ok');
      case 'all': {
        const members = requirement.requirements.map((r) => this.compile(r));
        return async (context) => {
          for (const member of members) {
            const status = await member(context);
            if (status !== 'ok') return status;
          }
          return 'ok';
        };
      }
      case 'any': {
        const members = requirement.requirements.map((r) => this.compile(r));
        const { allowMissing, allowMissingOrFailed } = requirement;
        return async (context) => {
          let final: JwtStatus = 'missing';
          for (const member of members) {
            const status = await member(context);
            if (status === 'ok') return 'ok';
            if ((status !== 'missing' && status !== 'unknownIssuer') || final === 'missing') final = status;
          }
          if (allowMissingOrFailed || (allowMissing && final === 'missing')) return 'ok';
          return final;
        };
      }
    }
  }

  #extractorFor(provider: ProviderRuntime): TokenExtractor {
    let extractor = this.#extractors.get(provider.config.name);
    if (extractor === undefined) this.#extractors.set(provider.config.name, (extractor = new TokenExtractor([provider.config])));
    return extractor;
  }

  #authenticator(spec: AuthenticatorSpec): Verifier {
    return async (context) => {
      spec.extractor.sanitize(context.request.headers);
      const tokens = spec.extractor.extract(context.request);
      if (tokens.length === 0) return spec.allowMissing || spec.allowFailed ? 'ok' : 'missing';
      for (const token of tokens) {
        const status = await this.#verifyToken(token, spec, context);
        if (status !== 'ok' && !spec.allowFailed) return status;
      }
      return 'ok';
    };
  }

  async #verifyToken(token: ExtractedToken, spec: AuthenticatorSpec, context: VerifyContext): Promise<JwtStatus> {
    const parsed = parseJwt(token.token);
    if (!parsed.ok) return parsed.error;
    const jwt = parsed.value;
    if (!token.issuerAllowed(jwt.iss)) return 'unknownIssuer';
    const provider = spec.provider ?? this.#providerOf(jwt.iss);
    if (provider === undefined) return 'unknownIssuer';
    const times = checkTimes(jwt, context.nowSeconds, provider.config.clockSkewSeconds);
    if (times !== 'ok') return times;
    if (!audiencesAllowed(jwt, spec.audiences ?? provider.config.audiences)) return 'audienceNotAllowed';
    const keys = await provider.jwks.keys();
    if (!keys.ok) return keys.error;
    const signature = await verifySignature(jwt, keys.value);
    if (signature !== 'ok') return signature;
    acceptToken(provider.config, jwt, token, context);
    return 'ok';
  }

  /** Envoy's choice when a requirement names no provider: the first with the token's issuer, else the first with none. */
  #providerOf(issuer: string): ProviderRuntime | undefined {
    return this.#providers.find((p) => p.config.issuer === issuer) ?? this.#providers.find((p) => p.config.issuer === '');
  }
}

/** What a provider does with a good token: headers for the upstream, the token removed, the payload kept for metadata. */
function acceptToken(provider: JwtProvider, jwt: Jwt, token: ExtractedToken, context: VerifyContext): void {
  const headers = context.request.headers;
  if (provider.forwardPayloadHeader !== '') {
    const payload = jwt.payloadBase64url;
    appendHeader(headers, provider.forwardPayloadHeader, provider.padForwardPayloadHeader ? payload.padEnd(Math.ceil(payload.length / 4) * 4, '=') : payload);
  }
  let added = false;
  for (const { headerName, claimName } of provider.claimToHeaders) {
    const value = claimHeaderValue(claimAt(jwt.payload, claimName));
    if (value === undefined || value === '') continue;
    appendHeader(headers, headerName, value);
    added = true;
  }
  if (provider.clearRouteCache && added) context.clearRouteCache = true;
  if (!provider.forward) token.remove(context.request);
  if (provider.headerInMetadata !== '') context.extracted[provider.headerInMetadata] = jwt.header;
  if (provider.payloadInMetadata !== '') context.extracted[provider.payloadInMetadata] = normalizedPayload(jwt.payload, provider.spaceDelimitedClaims);
}

/** A claim by name, nested claims reached with '.' between the names. */
function claimAt(payload: Readonly<Record<string, unknown>>, name: string): unknown {
  let current: unknown = payload;
  for (const key of name.split('.')) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/**
 * A claim as Envoy writes it to a header: a string as it is, a whole non-negative number without
 * decimals and any other number with six (C++'s std::to_string), a boolean as true/false, an
 * object or list as base64 of its JSON; null as nothing.
 */
function claimHeaderValue(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string': return value;
    case 'number': return Number.isInteger(value) && value >= 0 && value < 2 ** 64 ? BigInt(value).toString() : value.toFixed(6);
    case 'boolean': return String(value);
    case 'object': return value === null ? undefined : Buffer.from(JSON.stringify(value)).toString('base64');
    default: return undefined;
  }
}

/** The payload with each of `claims` that is a string replaced by the list of its space-separated words. */
function normalizedPayload(payload: Readonly<Record<string, unknown>>, claims: readonly string[]): Readonly<Record<string, unknown>> {
  if (claims.length === 0) return payload;
  const out: Record<string, unknown> = { ...payload };
  for (const claim of claims) {
    const value = payload[claim];
    if (typeof value === 'string') out[claim] = value.split(' ').filter((word) => word !== '');
  }
  return out;
}
