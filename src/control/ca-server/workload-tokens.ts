import { createHash, randomBytes } from 'node:crypto';
import type { WorkloadIdentity, WorkloadTokenAuthenticator } from './workload-token-authenticator.ts';

export interface WorkloadTokensOptions {
  /** Where tokens' bytes come from; node:crypto unless a test says otherwise. */
  readonly randomBytes?: (size: number) => Uint8Array;
}

const TOKEN_BYTES = 32;

/**
 * Local mode's workload tokens: the control plane issues one per sidecar it is about to start and
 * `weft up` hands it over; they live only in this process's memory, so a restart invalidates them
 * all. Tokens are kept by their SHA-256, so a lookup compares digests, not the secret itself.
 */
export class WorkloadTokens implements WorkloadTokenAuthenticator {
  readonly #randomBytes: (size: number) => Uint8Array;
  readonly #identities = new Map<string, WorkloadIdentity>();

  constructor(options: WorkloadTokensOptions = {}) {
    this.#randomBytes = options.randomBytes ?? randomBytes;
  }

  /** A new token (32 random bytes, base64url) that authenticates as `namespace`/`serviceAccount`. */
  issue(namespace: string, serviceAccount: string): string {
    if (namespace === '' || serviceAccount === '') throw new Error('a workload token needs a namespace and a service account');
    const token = Buffer.from(this.#randomBytes(TOKEN_BYTES)).toString('base64url');
    this.#identities.set(digest(token), { namespace, serviceAccount });
    return token;
  }

  authenticate(token: string): WorkloadIdentity | undefined {
    if (token === '') return undefined;
    return this.#identities.get(digest(token));
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
