import { createPublicKey } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { err, ok, type Clock, type Logger, type Result, type TimerHandle, type Timers } from '../../core/index.ts';
import { caServiceDefinition, type IstioCertificateRequest, type IstioCertificateResponse } from '../../xds/index.ts';
import { JitteredBackoff } from '../xds-client/index.ts';
import { verifyCertificateChain } from './verify-chain.ts';

export interface WorkloadIdentity {
  /** `cluster.local` unless the mesh says otherwise. */
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** A certificate the CA issued for this proxy, with the key it certifies. */
export interface WorkloadCertificate {
  /** The SPIFFE id the leaf names. */
  readonly identity: string;
  /** PEM each: the leaf, any intermediates, the root of the bundle they chain to. */
  readonly certChainPem: readonly string[];
  /** PKCS#8 PEM. */
  readonly privateKeyPem: string;
  /** Every root of the CA's bundle, concatenated PEM: what peers' certificates must chain to (old and new root while one is rotated). */
  readonly trustBundlePem: string;
  /** The same roots, PEM each. */
  readonly trustBundle: readonly string[];
  /** Milliseconds since the epoch. */
  readonly notBefore: number;
  readonly notAfter: number;
  /** Lower-case hex. */
  readonly serial: string;
}

/** Makes a fresh key pair in this process and a CSR naming `identity` (a SPIFFE id): PKCS#8 and PKCS#10 PEM. */
export type CreateKeyAndCsr = (identity: string) => Promise<{ readonly keyPem: string; readonly csrPem: string }>;

export interface WorkloadCertificateOptions {
  /** `host:port` of the CA's gRPC port (the control plane's TLS port, Istio's 15012). */
  readonly caAddress: string;
  /** TLS to the CA, checked against the mesh root; plaintext unless given. */
  readonly credentials?: grpc.ChannelCredentials;
  /** More channel options, e.g. `grpc.ssl_target_name_override`, the name the CA's certificate must carry. */
  readonly channelOptions?: grpc.ChannelOptions;
  readonly identity: WorkloadIdentity;
  readonly createKeyAndCsr: CreateKeyAndCsr;
  /** The bearer token, read again for each request so a rotated token file is picked up. */
  readonly readToken: () => Promise<string>;
  /** The lifetime to ask for, in seconds; 0 (the default) takes the CA's. */
  readonly validitySeconds?: number;
  /** How long one CreateCertificate call may take (default 10 s). */
  readonly requestTimeoutMs?: number;
  /** The first retry ceiling after a failure (default 1 s), doubling up to `retryMaxMs` (default 30 s). */
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  readonly clock: Clock;
  readonly timers: Timers;
  /** Uniform in [0, 1). */
  readonly random: () => number;
  readonly logger: Logger;
}

type CaClient = grpc.Client & {
  CreateCertificate(
    request: IstioCertificateRequest, metadata: grpc.Metadata, options: grpc.CallOptions,
    callback: (error: grpc.ServiceError | null, response?: IstioCertificateResponse) => void,
  ): void;
};

const CaClientConstructor = grpc.makeGenericClientConstructor(caServiceDefinition, 'IstioCertificateService');

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const DEFAULT_RETRY_BASE_MS = 1_000;
const DEFAULT_RETRY_MAX_MS = 30_000;
/** Renew at this share of the remaining lifetime, give or take RENEW_JITTER of it. */
const RENEW_AT = 0.5;
const RENEW_JITTER = 0.1;

/**
 * Gets this proxy's workload certificate from the CA and keeps it fresh, as Istio's agent does:
 * a new P-256 key and CSR for each request, `CreateCertificate` with the workload's bearer token,
 * the answer checked before it is taken, renewal about half way to expiry (jittered, so proxies
 * started together do not renew together), and on failure retries with capped, jittered
 * exponential back-off while the current certificate stays in use.
 */
export class WorkloadCertificateClient {
  readonly #options: WorkloadCertificateOptions;
  readonly #identity: string;
  readonly #client: CaClient;
  readonly #backoff: JitteredBackoff;
  readonly #listeners = new Set<(certificate: WorkloadCertificate) => void>();
  #current: WorkloadCertificate | undefined;
  #timer: TimerHandle | undefined;
  #started = false;
  #closed = false;
  #attempts = 0;
  readonly #validitySeconds: number;

  constructor(options: WorkloadCertificateOptions) {
    this.#options = options;
    this.#validitySeconds = options.validitySeconds ?? 0;
    const { trustDomain, namespace, serviceAccount } = options.identity;
    this.#identity = `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
    this.#client = new CaClientConstructor(options.caAddress, options.credentials ?? grpc.credentials.createInsecure(), options.channelOptions ?? {}) as unknown as CaClient;
    this.#backoff = new JitteredBackoff({ baseMs: options.retryBaseMs ?? DEFAULT_RETRY_BASE_MS, maxMs: options.retryMaxMs ?? DEFAULT_RETRY_MAX_MS, random: options.random });
  }

  /**
   * Asks for `seconds` of lifetime (0: the CA's default) from the next request on, as Istio's
   * SECRET_TTL; `weft proxy --workload-cert-ttl` sets it right after the proxy starts.
   */

  /** The SPIFFE id this proxy asks a certificate for. */
  get identity(): string {
    return this.#identity;
  }

  /** The certificate in use, if one was issued yet. */
  current(): WorkloadCertificate | undefined {
    return this.#current;
  }

  /** Requests made so far, successful or not. */
  attempts(): number {
    return this.#attempts;
  }

  /** Called with each new certificate; returns the unsubscribe. */
  onCertificate(listener: (certificate: WorkloadCertificate) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Sends the first request now; renewals and retries follow by themselves until `close()`. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#schedule(0);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) this.#options.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#client.close();
  }

  #schedule(delayMs: number): void {
    this.#timer = this.#options.timers.setTimeout(() => void this.#attempt(), delayMs);
  }

  async #attempt(): Promise<void> {
    this.#timer = undefined;
    this.#attempts++;
    const { clock, logger } = this.#options;
    let result: Result<WorkloadCertificate, string>;
    try {
      result = await this.#request();
    } catch (error) {
      result = err(error instanceof Error ? error.message : String(error));
    }
    if (this.#closed) return;
    const now = clock.now();
    if (!result.ok) {
      const retryInMs = this.#backoff.next();
      logger.warn('workload certificate request failed', {
        identity: this.#identity, attempt: this.#attempts, error: result.error, retryInMs,
        ...(this.#current === undefined ? {} : { current: this.#current.serial, validUntil: new Date(this.#current.notAfter).toISOString() }),
      });
      this.#schedule(retryInMs);
      return;
    }
    const certificate = result.value;
    this.#backoff.reset();
    this.#current = certificate;
    logger.info(`workload certificate issued: ${certificate.identity}, serial ${certificate.serial}, valid until ${new Date(certificate.notAfter).toISOString()}`);
    for (const listener of this.#listeners) listener(certificate);
    this.#schedule(this.#renewDelay(certificate, now));
  }

  /**
   * The CA backdates notBefore (clock skew), so the share is taken of what is left of the lifetime
   * when the certificate arrives, not of notAfter - notBefore.
   */
  #renewDelay(certificate: WorkloadCertificate, now: number): number {
    const remaining = certificate.notAfter - Math.max(now, certificate.notBefore);
    const jitter = 1 + RENEW_JITTER * (2 * this.#options.random() - 1);
    return Math.max(0, Math.floor(remaining * RENEW_AT * jitter));
  }

  async #request(): Promise<Result<WorkloadCertificate, string>> {
    const { clock } = this.#options;
    const { keyPem, csrPem } = await this.#options.createKeyAndCsr(this.#identity);
    let token: string;
    try {
      token = (await this.#options.readToken()).trim();
    } catch (error) {
      return err(`cannot read the token: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (token === '') return err('the token is empty');
    const response = await this.#call({ csr: csrPem, validityDuration: this.#validitySeconds }, token);
    if (!response.ok) return response;
    const chain = response.value.certChain;
    const publicKeySpki = new Uint8Array(createPublicKey(keyPem).export({ type: 'spki', format: 'der' }));
    const verified = verifyCertificateChain(chain, { identity: this.#identity, publicKeySpki }, clock.now());
    if (!verified.ok) return err(`the CA's answer is refused: ${verified.error}`);
    const { certChainPem, trustBundle, ...leaf } = verified.value;
    return ok({ identity: this.#identity, certChainPem, privateKeyPem: keyPem, trustBundlePem: trustBundle.join(''), trustBundle, ...leaf });
  }

  #call(request: IstioCertificateRequest, token: string): Promise<Result<IstioCertificateResponse, string>> {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const deadline = this.#options.clock.now() + (this.#options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
    return new Promise((resolve) => {
      this.#client.CreateCertificate(request, metadata, { deadline }, (error, response) => {
        if (error !== null) resolve(err(`${grpc.status[error.code] ?? error.code}: ${error.details}`));
        else if (response === undefined) resolve(err('an empty answer'));
        else resolve(ok(response));
      });
    });
  }
}
