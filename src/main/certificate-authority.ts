import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ReloadingCertificateAuthority, type CaOptions } from '../ca/index.ts';
import type { Logger, Result } from '../core/index.ts';
import { systemTimers } from './system.ts';

/**
 * Loads the CA and logs the roots it hands workloads, so the user can tell which root is in use.
 * A plugged-in CA (`pluggedCertsDir` with its files) is read again every `pollMs` (2 s) and
 * replaced when its files change to a working set; `close()` stops that.
 */
export async function openCertificateAuthority(options: CaOptions, logger: Logger, reload: { readonly pollMs?: number } = {}): Promise<Result<ReloadingCertificateAuthority, string>> {
  const ca = await ReloadingCertificateAuthority.open({ ...options, timers: systemTimers, logger, ...reload });
  if (!ca.ok) return ca;
  for (const pem of ca.value.trustBundle()) {
    const root = new X509Certificate(pem);
    logger.info('certificate authority ready', {
      trustDomain: options.trustDomain,
      root: root.subject.split('\n').join(', '),
      sha256: root.fingerprint256,
      notAfter: new Date(root.validTo).toISOString(),
      source: source(options),
    });
  }
  return ca;
}

/** Where the signing key came from, as loadCertificateAuthority chose: a cacerts directory with none of its files is passed over. */
function source(options: CaOptions): string {
  const plugged = options.pluggedCertsDir;
  if (plugged !== undefined && ['ca-cert.pem', 'ca-key.pem', 'root-cert.pem', 'cert-chain.pem'].some((file) => existsSync(join(plugged, file)))) return `plugged-in (${plugged})`;
  return options.stateDir !== undefined ? `self-signed (${options.stateDir})` : 'self-signed, in memory';
}
