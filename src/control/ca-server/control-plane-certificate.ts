import { experimental, type ServerCredentials } from '@grpc/grpc-js';
import { err, ok, type Clock, type Logger, type Result, type TimerHandle, type Timers } from '../../core/index.ts';
import type { CertificateAuthority, ServerCertificate } from '../../ca/index.ts';

/** istiod's names: its Service in istio-system, short and in the cluster domain, and localhost for clients on the same machine. */
export const CONTROL_PLANE_DNS_NAMES: readonly string[] = ['istiod.istio-system.svc', 'istiod.istio-system.svc.cluster.local', 'localhost'];
export const CONTROL_PLANE_IP_ADDRESSES: readonly string[] = ['127.0.0.1'];

export interface ControlPlaneCertificateOptions {
  readonly ca: CertificateAuthority;
  /** CONTROL_PLANE_DNS_NAMES unless given. */
  readonly dnsNames?: readonly string[];
  /** CONTROL_PLANE_IP_ADDRESSES unless given. */
  readonly ipAddresses?: readonly string[];
  /** How long each certificate is valid (default 24 h); a new one is issued at half of it. */
  readonly lifetimeSeconds?: number;
  /** After a failed re-issue, when to try again (default 30 s); the current certificate stays in use. */
  readonly retryMs?: number;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly logger: Logger;
}

const DEFAULT_LIFETIME_SECONDS = 86_400;
const DEFAULT_RETRY_MS = 30_000;
/** No renewal sooner than this after an issuance, whatever the lifetime left (a CA chain about to expire caps it). */
const MIN_RENEW_DELAY_MS = 1_000;
/** The longest delay a Node timer takes. */
const MAX_TIMER_MS = 2 ** 31 - 1;

type IdentityListener = (update: experimental.IdentityCertificateUpdate | null) => void;

/**
 * The certificate of the control plane's TLS port (Istio's 15012), as istiod's DNS certificate:
 * issued by the mesh CA for istiod's names with a key made in this process, and issued again at
 * half of its lifetime. `credentials` stays the same object for the life of the port; each new
 * certificate reaches the TLS server through it (grpc-js's certificate provider), so the port is
 * never rebound and open streams go on.
 */
export class ControlPlaneCertificate {
  readonly #options: ControlPlaneCertificateOptions;
  readonly #listeners = new Set<IdentityListener>();
  readonly #credentials: ServerCredentials;
  #current: ServerCertificate | undefined;
  #timer: TimerHandle | undefined;
  #closed = false;

  constructor(options: ControlPlaneCertificateOptions) {
    this.#options = options;
    const provider: experimental.CertificateProvider = {
      // No client certificates are asked for: proxies authenticate with their token, as Istio's do on 15012.
      addCaCertificateListener: () => undefined,
      removeCaCertificateListener: () => undefined,
      addIdentityCertificateListener: (listener) => {
        this.#listeners.add(listener);
        // Later, as grpc-js registers its own watcher only after adding this listener.
        const current = this.#current;
        if (current !== undefined) queueMicrotask(() => this.#listeners.has(listener) && listener(identityUpdate(current)));
      },
      removeIdentityCertificateListener: (listener) => {
        this.#listeners.delete(listener);
      },
    };
    // grpc-js takes the identity provider first, whatever its declaration names the parameter.
    this.#credentials = experimental.createCertificateProviderServerCredentials(provider, null, false);
  }

  /** For `AdsServer.listen(address, { kind: 'tls', credentials })`: serves the newest certificate. */
  get credentials(): ServerCredentials {
    return this.#credentials;
  }

  /** The certificate served now, once start() got one. */
  current(): ServerCertificate | undefined {
    return this.#current;
  }

  /** Issues the first certificate (an error if the CA refuses) and keeps issuing new ones until close(). */
  async start(): Promise<Result<ServerCertificate, string>> {
    const issued = await this.#issue();
    if (!issued.ok) return err(`the control plane's TLS certificate: ${issued.error}`);
    return ok(issued.value);
  }

  /**
   * Issues a new certificate now, in place of the scheduled renewal: after the CA's signing
   * material changed (a plugged-in CA reloaded), so the port serves a chain of the new CA.
   */
  async renew(): Promise<Result<ServerCertificate, string>> {
    if (this.#closed) return err('closed');
    if (this.#timer !== undefined) this.#options.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    return this.#issue();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#options.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #issue(): Promise<Result<ServerCertificate, string>> {
    const { ca, clock, logger } = this.#options;
    const dnsNames = this.#options.dnsNames ?? CONTROL_PLANE_DNS_NAMES;
    const ipAddresses = this.#options.ipAddresses ?? CONTROL_PLANE_IP_ADDRESSES;
    const issuedAt = clock.now();
    let issued: Result<ServerCertificate, string>;
    try {
      issued = await ca.issueServerCertificate({ dnsNames, ipAddresses, ttlSeconds: this.#options.lifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS });
    } catch (error) {
      issued = err(error instanceof Error ? error.message : String(error));
    }
    if (this.#closed) return issued;
    if (!issued.ok) {
      const retryMs = this.#options.retryMs ?? DEFAULT_RETRY_MS;
      logger.error('issuing the control plane certificate failed; the current one stays in use', { error: issued.error, retryInMs: retryMs });
      if (this.#current !== undefined) this.#schedule(retryMs);
      return issued;
    }
    const certificate = issued.value;
    this.#current = certificate;
    for (const listener of [...this.#listeners]) listener(identityUpdate(certificate));
    logger.info('control plane certificate issued', { names: [...dnsNames, ...ipAddresses].join(','), serial: certificate.serial, notAfter: new Date(certificate.notAfter).toISOString() });
    this.#schedule(Math.max(MIN_RENEW_DELAY_MS, (certificate.notAfter - issuedAt) / 2));
    return issued;
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    this.#timer = this.#options.timers.setTimeout(() => {
      this.#timer = undefined;
      void this.#issue();
    }, Math.min(delayMs, MAX_TIMER_MS));
  }
}

function identityUpdate(certificate: ServerCertificate): experimental.IdentityCertificateUpdate {
  return { certificate: Buffer.from(certificate.certChainPem.join('')), privateKey: Buffer.from(certificate.privateKeyPem) };
}
