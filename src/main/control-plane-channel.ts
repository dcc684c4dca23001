import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { AdsSettings } from '../proxy/xds-client/index.ts';

/** How the proxy's gRPC clients (ADS and the CA) reach the control plane over TLS. */
export interface ControlPlaneChannel {
  readonly credentials: grpc.ChannelCredentials;
  readonly channelOptions: grpc.ChannelOptions;
  /**
   * Trusts, beside the root file's roots, `roots` (PEM each: the trust bundle of the workload
   * certificate in use) for the connections made from now on; replaces the roots given before.
   */
  readonly trustWorkloadBundle: (roots: readonly string[]) => void;
}

/**
 * TLS to the control plane as Istio's agent does it on 15012: the server's chain must end at a
 * root of `rootCertFile` or of the workload certificate's trust bundle, and its certificate must
 * name `serverName` whatever address is dialled (that name is also the SNI). Undefined without TLS
 * settings (plaintext); throws, naming the file, when the root cannot be read.
 *
 * The bundle is followed because a root rotation (docs/certificates.md) ends with the control
 * plane's certificate issued by a root the file may not hold: the bundle came from the CA over a
 * connection these roots authenticated, so trusting it extends the file's trust, as Istio's agent
 * follows the mesh root it is given.
 */
export function controlPlaneChannel(tls: AdsSettings['tls']): ControlPlaneChannel | undefined {
  if (tls === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(tls.rootCertFile, 'utf8');
  } catch (error) {
    throw new Error(`the control plane's root (${tls.rootCertFile}) cannot be read: ${(error as Error).message}`);
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`the control plane's root (${tls.rootCertFile}) holds no PEM certificate`);
  const fileRoots = blocks.map((block) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new Error(`the control plane's root (${tls.rootCertFile}) holds a certificate that does not parse: ${(error as Error).message}`);
    }
  });
  const roots = new ControlPlaneRoots(fileRoots);
  return {
    // A certificate provider rather than createSsl's fixed secure context: grpc-js asks it for the
    // roots at each new connection, so a reconnect (a restarted control plane, a dropped stream)
    // uses the bundle of the latest renewal while open connections go on.
    credentials: grpc.experimental.createCertificateProviderChannelCredentials(roots, null),
    channelOptions: { 'grpc.ssl_target_name_override': tls.serverName },
    trustWorkloadBundle: (bundle) => roots.setBundle(bundle),
  };
}

/** The roots the control plane's certificate may chain to: the file's, then the workload bundle's. */
class ControlPlaneRoots implements grpc.experimental.CertificateProvider {
  readonly #fileRoots: readonly X509Certificate[];
  readonly #listeners = new Set<grpc.experimental.CaCertificateUpdateListener>();
  #update: grpc.experimental.CaCertificateUpdate;

  constructor(fileRoots: readonly X509Certificate[]) {
    this.#fileRoots = fileRoots;
    this.#update = this.#updateWith([]);
  }

  setBundle(bundle: readonly string[]): void {
    const parsed: X509Certificate[] = [];
    for (const pem of bundle) {
      // Parsed to drop the file's roots repeated in the bundle; one that does not parse cannot
      // anchor a chain, so it is left out rather than handed to OpenSSL.
      try {
        parsed.push(new X509Certificate(pem));
      } catch {
        continue;
      }
    }
    this.#update = this.#updateWith(parsed);
    for (const listener of this.#listeners) listener(this.#update);
  }

  #updateWith(bundle: readonly X509Certificate[]): grpc.experimental.CaCertificateUpdate {
    const byFingerprint = new Map<string, X509Certificate>();
    for (const root of [...this.#fileRoots, ...bundle]) byFingerprint.set(root.fingerprint256, root);
    return { caCertificate: Buffer.from([...byFingerprint.values()].map((root) => root.toString()).join('\n')) };
  }

  addCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    this.#listeners.add(listener);
    // At once: the roots are known from the start, and a connection waits until its credentials have them.
    listener(this.#update);
  }

  removeCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    this.#listeners.delete(listener);
  }

  // No client certificate to the control plane: the proxy authenticates with its token, as Istio's agent does.
  addIdentityCertificateListener(): void {}

  removeIdentityCertificateListener(): void {}
}
