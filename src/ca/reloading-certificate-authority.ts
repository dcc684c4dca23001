import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { ok, type Logger, type Result, type TimerHandle, type Timers } from '../core/index.ts';
import { loadCertificateAuthority, type CaOptions, type CertificateAuthority, type ServerCertificateRequest, type SignRequest } from './certificate-authority.ts';

const CACERTS = ['ca-cert.pem', 'ca-key.pem', 'root-cert.pem', 'cert-chain.pem'] as const;
const DEFAULT_POLL_MS = 2_000;

export interface ReloadingCaOptions extends CaOptions {
  readonly timers: Timers;
  readonly logger: Logger;
  /** How often the plugged-in files are read and compared (default 2 s). */
  readonly pollMs?: number;
}

/** What one look at the plugged-in files did. */
export type ReloadOutcome = 'unchanged' | 'reloaded' | 'kept';

/**
 * A CA whose plugged-in files (`pluggedCertsDir`, Istio's cacerts) are read again every `pollMs`:
 * when their content changed and the new set makes a working CA, it replaces the current one
 * (listeners of `onChange` are told); when the new set is broken, the current CA stays in use and
 * the problem is logged, naming the file, once per change. This is how a root is rotated without a
 * restart (docs/certificates.md). Without a plugged-in directory in use, it never reloads.
 */
export class ReloadingCertificateAuthority implements CertificateAuthority {
  readonly #options: ReloadingCaOptions;
  readonly #listeners = new Set<() => void>();
  #current: CertificateAuthority;
  #seen: string | undefined;
  #timer: TimerHandle | undefined;
  #closed = false;
  #checking: Promise<ReloadOutcome> | undefined;

  private constructor(options: ReloadingCaOptions, current: CertificateAuthority, seen: string | undefined) {
    this.#options = options;
    this.#current = current;
    this.#seen = seen;
  }

  /** Loads the CA as loadCertificateAuthority does; polls the plugged-in files only when they were used. */
  static async open(options: ReloadingCaOptions): Promise<Result<ReloadingCertificateAuthority, string>> {
    const seen = options.pluggedCertsDir === undefined ? undefined : await snapshot(options.pluggedCertsDir);
    const ca = await loadCertificateAuthority(options);
    if (!ca.ok) return ca;
    const plugged = seen !== undefined && seen.present;
    const authority = new ReloadingCertificateAuthority(options, ca.value, plugged ? seen.key : undefined);
    if (plugged) authority.#schedule();
    return ok(authority);
  }

  get trustDomain(): string {
    return this.#current.trustDomain;
  }

  trustBundle(): readonly string[] {
    return this.#current.trustBundle();
  }

  sign(request: SignRequest): ReturnType<CertificateAuthority['sign']> {
    return this.#current.sign(request);
  }

  issueServerCertificate(request: ServerCertificateRequest): ReturnType<CertificateAuthority['issueServerCertificate']> {
    return this.#current.issueServerCertificate(request);
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Reads the files now (the poll does this by itself); one look at a time. */
  check(): Promise<ReloadOutcome> {
    this.#checking ??= this.#check().finally(() => (this.#checking = undefined));
    return this.#checking;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#options.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #check(): Promise<ReloadOutcome> {
    const dir = this.#options.pluggedCertsDir;
    if (dir === undefined || this.#seen === undefined) return 'unchanged';
    const now = await snapshot(dir);
    if (now.key === this.#seen) return 'unchanged';
    this.#seen = now.key;
    const { logger } = this.#options;
    if (!now.present) {
      logger.error('plugged-in CA files are gone; the current CA stays in use', { dir });
      return 'kept';
    }
    const loaded = await loadCertificateAuthority(this.#options);
    if (this.#closed) return 'kept';
    if (!loaded.ok) {
      logger.error('reloading the plugged-in CA failed; the current CA stays in use', { error: loaded.error });
      return 'kept';
    }
    this.#current = loaded.value;
    logger.info('plugged-in CA reloaded', { dir, roots: loaded.value.trustBundle().map(describeRoot).join('; ') });
    for (const listener of [...this.#listeners]) listener();
    return 'reloaded';
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = this.#options.timers.setTimeout(() => {
      this.#timer = undefined;
      void this.check().catch((error: unknown) => this.#options.logger.error('reading the plugged-in CA files failed', { error: String(error) })).finally(() => this.#schedule());
    }, this.#options.pollMs ?? DEFAULT_POLL_MS);
  }
}

/** The four files' contents (a missing one as such), as one comparable string; `present` if any exists. */
async function snapshot(dir: string): Promise<{ key: string; present: boolean }> {
  const texts = await Promise.all(CACERTS.map((file) => readFile(join(dir, file), 'utf8').catch(() => undefined)));
  return { key: JSON.stringify(texts), present: texts.some((text) => text !== undefined) };
}

function describeRoot(pem: string): string {
  const root = new X509Certificate(pem);
  return `${root.subject.split('\n').join(', ')} sha256=${root.fingerprint256}`;
}
