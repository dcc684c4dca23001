import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { err, ok, type Logger, type Result } from '../../core/index.ts';
import { spiffeId, type CertificateAuthority } from '../../ca/index.ts';
import { caServiceDefinition, type IstioCertificateRequest, type IstioCertificateResponse } from '../../xds/index.ts';
import type { WorkloadTokenAuthenticator } from './workload-token-authenticator.ts';

export interface CertificateSigningServiceOptions {
  readonly ca: CertificateAuthority;
  readonly authenticator: WorkloadTokenAuthenticator;
  readonly logger: Logger;
}

/** Why a request got no certificate, as the gRPC status it ends with. */
export interface Refusal {
  readonly code: grpc.status;
  readonly details: string;
}

/** What the service is added to: the control plane's gRPC server, which also serves xDS (AdsServer), or a plain grpc.Server. */
export interface GrpcServiceRegistry {
  addService(service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation, options?: { readonly tlsOnly?: boolean }): void;
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * Istio's `IstioCertificateService/CreateCertificate`: a workload presents a bearer token and a
 * CSR and gets back its chain, leaf first. The identity comes from the token alone (the SPIFFE id
 * `spiffe://<trust-domain>/ns/<ns>/sa/<sa>` of whoever the authenticator says the caller is);
 * whatever names the CSR asks for are the CA's to ignore.
 */
export class CertificateSigningService {
  readonly #options: CertificateSigningServiceOptions;

  constructor(options: CertificateSigningServiceOptions) {
    this.#options = options;
  }

  /**
   * Serves CreateCertificate on `server`; call before the server starts listening. With `tlsOnly`
   * (when the control plane has a TLS port, as istiod serves its CA only on 15012), its plaintext
   * ports refuse the call, so that tokens and certificates travel only over TLS.
   */
  register(server: GrpcServiceRegistry, options: { readonly tlsOnly?: boolean } = {}): void {
    server.addService(caServiceDefinition, {
      CreateCertificate: (call: grpc.ServerUnaryCall<IstioCertificateRequest, IstioCertificateResponse>, callback: grpc.sendUnaryData<IstioCertificateResponse>) => {
        this.createCertificate(call.metadata, call.request, call.getPeer()).then(
          (result) => (result.ok ? callback(null, result.value) : callback(result.error)),
          (error: unknown) => {
            this.#options.logger.error('signing a workload certificate failed', { peer: call.getPeer(), error: messageOf(error) });
            callback({ code: grpc.status.INTERNAL, details: messageOf(error) });
          },
        );
      },
    }, options);
  }

  /** One call: authenticate, sign for the token's identity, log the issuance. */
  async createCertificate(metadata: grpc.Metadata, request: IstioCertificateRequest, peer: string): Promise<Result<IstioCertificateResponse, Refusal>> {
    const { ca, authenticator, logger } = this.#options;
    const token = bearerToken(metadata);
    const caller = token === undefined ? undefined : authenticator.authenticate(token);
    if (caller === undefined) {
      const details = token === undefined ? 'no bearer token: send "authorization: Bearer <workload token>"' : 'the bearer token is not a known workload token';
      logger.warn('refusing a certificate request', { peer, error: details });
      return err({ code: grpc.status.UNAUTHENTICATED, details });
    }
    const identity = spiffeId(ca.trustDomain, caller.namespace, caller.serviceAccount);
    const validity = request.validityDuration ?? 0;
    if (!Number.isSafeInteger(validity) || validity < 0) {
      return err({ code: grpc.status.INVALID_ARGUMENT, details: `validity_duration must be a whole number of seconds, 0 or more (got ${validity})` });
    }
    const signed = await ca.sign({ csrPem: request.csr, identity, ...(validity > 0 ? { ttlSeconds: validity } : {}) });
    if (!signed.ok) {
      logger.warn('refusing a certificate request', { peer, identity, error: signed.error });
      return err({ code: grpc.status.INVALID_ARGUMENT, details: signed.error });
    }
    logger.info('issued a workload certificate', { identity, ...leafFields(signed.value[0]) });
    return ok({ certChain: signed.value });
  }
}

function bearerToken(metadata: grpc.Metadata): string | undefined {
  const value = metadata.get('authorization')[0];
  if (typeof value !== 'string') return undefined;
  return BEARER.exec(value)?.[1];
}

/** The leaf's serial and expiry for the log line; nothing if the CA's PEM does not parse here. */
function leafFields(leafPem: string | undefined): { serial?: string; notAfter?: string } {
  if (leafPem === undefined) return {};
  try {
    const leaf = new X509Certificate(leafPem);
    return { serial: leaf.serialNumber, notAfter: leaf.validToDate.toISOString() };
  } catch {
    return {};
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
