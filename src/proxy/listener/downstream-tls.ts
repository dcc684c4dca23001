import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { TimerHandle, Timers } from '../../core/index.ts';
import { DOWNSTREAM_TLS_CONTEXT_TYPE, RAW_BUFFER_TRANSPORT_SOCKET, RAW_BUFFER_TYPE, TLS_TRANSPORT_SOCKET } from '../../xds/envoy/index.ts';
import type { DownstreamTls, PeerCertificate } from '../http/exchange.ts';
import type { SecretLookup } from '../security/secret-store.ts';
import {
  checkFields, checkSecureContext, object, parseCommonTlsContext, parseSubjectAltNames, refusePeer, SecureContextSource, untrustedPeerChain,
  type PeerVerification, type Problem, type ReadFile,
} from '../security/tls-context.ts';

/** A filter chain's transport socket: connections stay plaintext, or the proxy terminates TLS. */
export type DownstreamTransport =
  | { readonly kind: 'raw' }
  | { readonly kind: 'tls'; readonly tls: DownstreamTlsSettings };

export const RAW_DOWNSTREAM: DownstreamTransport = { kind: 'raw' };

/** A DownstreamTlsContext, checked. */
export interface DownstreamTlsSettings {
  readonly context: SecureContextSource;
  readonly requireClientCertificate: boolean;
  /** A validation context is configured: the client is asked for a certificate, which must pass `verify` when given. */
  readonly requestClientCertificate: boolean;
  readonly verify: PeerVerification;
  readonly alpn: readonly string[];
  readonly requireSni: boolean;
}

const DOWNSTREAM_FIELDS = new Set([
  '@type', 'commonTlsContext', 'requireClientCertificate', 'requireSni', 'disableStatelessSessionResumption', 'sessionTimeout',
  'disableStatefulSessionResumption', 'preferClientCiphers', 'fullScanCertsOnSniMismatch',
]);

/**
 * Checks a filter chain's `transportSocket`: raw_buffer, or `envoy.transport_sockets.tls` with a
 * DownstreamTlsContext whose certificate and CA come inline, from files, or from SDS secrets.
 */
export function parseDownstreamTransport(value: unknown, at: string, readFile: ReadFile, problem: Problem, secrets: SecretLookup | undefined): DownstreamTransport | undefined {
  if (value === undefined) return RAW_DOWNSTREAM;
  const socket = object(value, at, problem);
  if (socket === undefined) return undefined;
  checkFields(socket, at, new Set(['name', 'typedConfig']), {}, problem);
  const typed = socket['typedConfig'] === undefined ? undefined : object(socket['typedConfig'], `${at}.typedConfig`, problem);
  const type = typed?.['@type'];
  if (type === RAW_BUFFER_TYPE || (typed === undefined && socket['name'] === RAW_BUFFER_TRANSPORT_SOCKET)) return RAW_DOWNSTREAM;
  if (typed === undefined && socket['name'] === TLS_TRANSPORT_SOCKET) {
    problem(`${at}.typedConfig`, `a TLS transport socket needs its DownstreamTlsContext (${DOWNSTREAM_TLS_CONTEXT_TYPE})`);
    return undefined;
  }
  if (type !== DOWNSTREAM_TLS_CONTEXT_TYPE || typed === undefined) {
    problem(at, `"${String(type ?? socket['name'])}" is not a supported transport socket (supported: ${TLS_TRANSPORT_SOCKET} with a DownstreamTlsContext, ${RAW_BUFFER_TRANSPORT_SOCKET})`);
    return undefined;
  }
  const typedAt = `${at}.typedConfig`;
  let problems = 0;
  const report: Problem = (field, message) => {
    problems++;
    problem(field, message);
  };
  checkFields(typed, typedAt, DOWNSTREAM_FIELDS, {}, report);
  for (const field of ['requireClientCertificate', 'requireSni'] as const) {
    if (typed[field] !== undefined && typeof typed[field] !== 'boolean') report(`${typedAt}.${field}`, 'must be true or false');
  }
  const common = parseCommonTlsContext(typed['commonTlsContext'], `${typedAt}.commonTlsContext`, 'server', readFile, report);
  const requireClientCertificate = typed['requireClientCertificate'] === true;
  if (requireClientCertificate && !common.validates) report(`${typedAt}.requireClientCertificate`, 'needs a validation context to check the client certificate against');
  if (problems === 0) checkSecureContext(common, `${typedAt}.commonTlsContext`, report);
  if (problems > 0) return undefined;
  return {
    kind: 'tls',
    tls: {
      context: new SecureContextSource(common, secrets),
      requireClientCertificate,
      requestClientCertificate: common.validates,
      verify: common.verify,
      alpn: common.alpn,
      requireSni: typed['requireSni'] === true,
    },
  };
}

/** Why a TLS connection was refused, as Envoy counts it (`ssl.connection_error`, `ssl.fail_verify_*`). */
export type TlsRefusal = 'no_context' | 'connection_error' | 'fail_verify_no_cert' | 'fail_verify_error' | 'no_sni';

export type TlsOutcome =
  | { readonly kind: 'established'; readonly socket: TLSSocket; readonly tls: DownstreamTls }
  | { readonly kind: 'refused'; readonly refusal: TlsRefusal; readonly reason: string };

/** How long a client may take to finish its handshake. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Terminates TLS on an accepted connection (whose sniffed bytes were put back, which Node's
 * TLSSocket reads first) and checks the client's certificate as the context says. The callback
 * runs once; a refused connection is destroyed.
 */
export function terminateTls(socket: Socket, settings: DownstreamTlsSettings, timers: Timers, done: (outcome: TlsOutcome) => void): void {
  const context = settings.context.current();
  if (!context.ok) {
    socket.destroy();
    done({ kind: 'refused', refusal: 'no_context', reason: context.error });
    return;
  }
  const secure = serverSocket(socket, context.value, settings);
  let finished = false;
  let timer: TimerHandle | undefined;
  const finish = (outcome: TlsOutcome): void => {
    if (finished) return;
    finished = true;
    if (timer !== undefined) timers.clearTimeout(timer);
    secure.removeListener('error', onError);
    if (outcome.kind === 'refused') secure.destroy();
    done(outcome);
  };
  const onError = (error: Error): void => finish({ kind: 'refused', refusal: 'connection_error', reason: (error as Error & { reason?: string }).reason ?? error.message });
  secure.on('error', onError);
  timer = timers.setTimeout(() => finish({ kind: 'refused', refusal: 'connection_error', reason: 'the TLS handshake timed out' }), HANDSHAKE_TIMEOUT_MS);
  secure.once('secure', () => {
    const sni = (secure as TLSSocket & { servername?: string | false }).servername;
    if (settings.requireSni && (sni === undefined || sni === false || sni === '')) {
      finish({ kind: 'refused', refusal: 'no_sni', reason: 'the client sent no SNI' });
      return;
    }
    let peerCertificate: PeerCertificate | undefined;
    if (settings.requestClientCertificate) {
      const certificate = secure.getPeerX509Certificate();
      if (certificate === undefined) {
        if (settings.requireClientCertificate) {
          finish({ kind: 'refused', refusal: 'fail_verify_no_cert', reason: 'the client presented no certificate' });
          return;
        }
      } else {
        // A TLSSocket made outside a tls.Server leaves `authorized` unset: the chain is checked here,
        // from this first read of the peer's certificate, the only one that still holds what it sent.
        const refused = (settings.verify.chain ? untrustedPeerChain(certificate, settings.context.trustedCas(), Date.now()) : undefined)
          ?? refusePeer(secure, { ...settings.verify, chain: false });
        if (refused !== undefined) {
          finish({ kind: 'refused', refusal: 'fail_verify_error', reason: refused });
          return;
        }
        const sans = parseSubjectAltNames(certificate.subjectAltName ?? '');
        peerCertificate = {
          uriSans: sans.filter((s) => s.type === 'URI').map((s) => s.value),
          dnsSans: sans.filter((s) => s.type === 'DNS').map((s) => s.value),
          // A SPIFFE leaf has an empty subject, which Node reports as undefined.
          subject: (certificate.subject as string | undefined)?.split('\n').reverse().join(',') ?? '',
          sha256: certificate.fingerprint256.replaceAll(':', '').toLowerCase(),
          pem: certificate.toString(),
        };
      }
    }
    const own = secure.getX509Certificate();
    const alpn = secure.alpnProtocol;
    finish({
      kind: 'established',
      socket: secure,
      tls: {
        ...(typeof sni === 'string' && sni !== '' && { sni }),
        ...(typeof alpn === 'string' && { alpn }),
        ...(peerCertificate !== undefined && { peerCertificate }),
        localUriSans: own === undefined ? [] : parseSubjectAltNames(own.subjectAltName ?? '').filter((s) => s.type === 'URI').map((s) => s.value),
      },
    });
  });
}

function serverSocket(socket: Socket, secureContext: SecureContext, settings: DownstreamTlsSettings): TLSSocket {
  return new TLSSocket(socket, {
    isServer: true,
    secureContext,
    requestCert: settings.requestClientCertificate,
    // Envoy checks the chain and SANs after the handshake, as the context says.
    rejectUnauthorized: false,
    // The first of ours the client offers. BoringSSL (Envoy) goes on without ALPN when none is
    // offered; OpenSSL would abort, so the client's own first choice is echoed instead (Istio
    // clients offer `istio-peer-exchange`, `istio` for plain HTTP/1.1 and TCP).
    ...(settings.alpn.length > 0 && {
      ALPNCallback: ({ protocols }: { readonly protocols: readonly string[] }) => settings.alpn.find((p) => protocols.includes(p)) ?? protocols[0],
    }),
  });
}
