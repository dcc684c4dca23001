import type { DownstreamInfo, PeerCertificate } from '../../http/exchange.ts';
import { headerValue, removeHopByHop, type Headers } from '../../http/headers.ts';
import type { RequestHead } from '../../http/request-head.ts';
import type { ClientCertDetails, HcmConfig } from './hcm-config.ts';

/**
 * The headers the connection manager sets on the way in and out, as Envoy does
 * (ConnectionManagerUtility). Weft has no internal address ranges (Envoy's default since 1.33:
 * without `internalAddressConfig` no address is internal), so with `useRemoteAddress` every
 * request is an external, edge request.
 */

/** Envoy's headers an external client may not set (they steer retries, timeouts, routing). */
const EDGE_SANITIZED_HEADERS: readonly string[] = [
  'x-envoy-decorator-operation', 'x-envoy-downstream-service-cluster', 'x-envoy-downstream-service-node', 'x-envoy-expected-rq-timeout-ms',
  'x-envoy-external-address', 'x-envoy-force-trace', 'x-envoy-hedge-on-per-try-timeout', 'x-envoy-internal', 'x-envoy-ip-tags',
  'x-envoy-max-retries', 'x-envoy-retry-grpc-on', 'x-envoy-retry-on', 'x-envoy-upstream-alt-stat-name', 'x-envoy-upstream-rq-per-try-timeout-ms',
  'x-envoy-upstream-rq-timeout-alt-response', 'x-envoy-upstream-rq-timeout-ms',
];

/**
 * Sets x-forwarded-for, x-forwarded-proto, x-envoy-external-address, x-request-id, via and the
 * XFCC policy on a request, and returns its request id ('' when there is none).
 */
export function mutateRequestHeaders(head: RequestHead, downstream: DownstreamInfo, config: HcmConfig, newRequestId: () => string): string {
  const headers = head.headers;
  const connectionScheme = downstream.tls !== undefined ? 'https' : 'http';
  const edge = config.useRemoteAddress;
  if (edge) {
    const xff = headerValue(headers, 'x-forwarded-for');
    const clientAddress = trustedClientAddress(xff, config.xffNumTrustedHops) ?? downstream.remoteAddress;
    for (const name of EDGE_SANITIZED_HEADERS) {
      if (headers[name] !== undefined) delete headers[name];
    }
    if (!config.skipXffAppend) headers['x-forwarded-for'] = xff === undefined || xff === '' ? downstream.remoteAddress : `${xff},${downstream.remoteAddress}`;
    headers['x-envoy-external-address'] = clientAddress;
    headers['x-forwarded-proto'] = connectionScheme;
  } else if (headers['x-forwarded-proto'] === undefined) {
    headers['x-forwarded-proto'] = connectionScheme;
  }

  applyClientCertPolicy(headers, config, downstream);

  let requestId = headerValue(headers, 'x-request-id') ?? '';
  if (config.generateRequestId && (requestId === '' || (edge && !config.preserveExternalRequestId))) {
    requestId = newRequestId();
    headers['x-request-id'] = requestId;
  }
  if (config.via !== '') appendVia(headers, config.via);
  return requestId;
}

/**
 * With N trusted hops, the client is the Nth address from the right of x-forwarded-for (the
 * proxies in front of this one appended the others); with none, the peer itself.
 */
function trustedClientAddress(xff: string | undefined, trustedHops: number): string | undefined {
  if (trustedHops === 0 || xff === undefined) return undefined;
  const addresses = xff.split(',');
  const address = addresses[addresses.length - trustedHops];
  return address === undefined ? undefined : address.trim();
}

/**
 * Envoy's x-forwarded-client-cert policy. Only a mutual TLS connection (the client proved a
 * certificate) may carry XFCC on: from any other connection the header is removed, except under
 * ALWAYS_FORWARD_ONLY. APPEND_FORWARD appends this hop's element, SANITIZE_SET replaces the header with it.
 */
function applyClientCertPolicy(headers: Headers, config: HcmConfig, downstream: DownstreamInfo): void {
  const mode = config.forwardClientCertDetails;
  if (mode === 'ALWAYS_FORWARD_ONLY') return;
  const tls = downstream.tls;
  const peer = tls?.peerCertificate;
  if (mode === 'SANITIZE' || tls === undefined || peer === undefined) {
    delete headers['x-forwarded-client-cert'];
    return;
  }
  if (mode === 'FORWARD_ONLY') return;
  const element = clientCertElement(tls.localUriSans, peer, config.setCurrentClientCertDetails);
  const current = headerValue(headers, 'x-forwarded-client-cert');
  headers['x-forwarded-client-cert'] = mode === 'APPEND_FORWARD' && current !== undefined && current !== '' ? `${current},${element}` : element;
}

/** One XFCC element, its keys in Envoy's order: By, Hash, Cert, Subject, URI, DNS. */
function clientCertElement(localUriSans: readonly string[], peer: PeerCertificate, details: ClientCertDetails): string {
  const parts: string[] = [];
  if (localUriSans[0] !== undefined) parts.push(`By=${localUriSans[0]}`);
  parts.push(`Hash=${peer.sha256}`);
  if (details.cert) parts.push(`Cert="${encodeURIComponent(peer.pem)}"`);
  if (details.subject) parts.push(`Subject="${peer.subject.replaceAll('"', '\\"')}"`);
  if (details.uri) for (const uri of peer.uriSans) parts.push(`URI=${uri}`);
  if (details.dns) for (const dns of peer.dnsSans) parts.push(`DNS=${dns}`);
  return parts.join(';');
}

function appendVia(headers: Headers, via: string): void {
  const current = headerValue(headers, 'via');
  headers['via'] = current === undefined || current === '' ? via : `${current}, ${via}`;
}

/** On a response going downstream: hop-by-hop headers removed, server, via and the request id. */
export function mutateResponseHeaders(headers: Headers, config: HcmConfig, requestId: string): void {
  removeHopByHop(headers);
  switch (config.serverHeaderTransformation) {
    case 'OVERWRITE':
      headers['server'] = config.serverName;
      break;
    case 'APPEND_IF_ABSENT':
      if (headers['server'] === undefined) headers['server'] = config.serverName;
      break;
    case 'PASS_THROUGH':
      break;
  }
  if (config.via !== '') appendVia(headers, config.via);
  if (config.alwaysSetRequestIdInResponse && requestId !== '') headers['x-request-id'] = requestId;
}
