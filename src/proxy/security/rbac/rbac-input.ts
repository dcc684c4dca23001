import type { DownstreamInfo, PeerCertificate, RequestHead } from '../../http/exchange.ts';
import type { RequestView } from '../../route/route-match.ts';

/** What RBAC reads of a connection, for a TCP connection and for each request on an HTTP one. */
export interface RbacConnection {
  /** The downstream peer's address (sourceIp, directRemoteIp and remoteIp: Weft trusts no XFF here). */
  readonly remoteAddress: string;
  /** Where the client connected: a redirected connection's original destination (destinationIp). */
  readonly localAddress: string;
  readonly localPort: number;
  /** The TLS SNI the client sent; '' when none (requestedServerName matches it as Envoy does). */
  readonly serverName: string;
  /** The client's verified certificate, when the proxy terminated mutual TLS (`authenticated`). */
  readonly peerCertificate: PeerCertificate | undefined;
}

/** Dynamic metadata by filter namespace, read-only: what `metadata` permissions and principals match. */
export type RbacMetadata = ReadonlyMap<string, Readonly<Record<string, unknown>>>;

/** An HTTP request's head and the dynamic metadata earlier filters left for it. */
export interface RbacRequest {
  readonly head: Pick<RequestHead, 'method' | 'path' | 'authority' | 'scheme' | 'headers'>;
  readonly metadata: RbacMetadata;
}

/** What a policy is matched against; without `request` (a TCP connection) HTTP-only rules match nothing. */
export interface RbacInput {
  readonly connection: RbacConnection;
  readonly request?: RbacRequest;
}

/** RbacInput as the compiled matchers read it: the request's head behind a RequestView (pseudo-headers, path without query). */
export interface MatchContext {
  readonly connection: RbacConnection;
  readonly request: { readonly view: RequestView; readonly metadata: RbacMetadata } | undefined;
}

/** A connection as RBAC sees it; `sniffedServerName` is the SNI of a TLS connection the proxy did not terminate. */
export function rbacConnection(downstream: DownstreamInfo, sniffedServerName?: string): RbacConnection {
  return {
    remoteAddress: downstream.remoteAddress,
    localAddress: downstream.localAddress,
    localPort: downstream.localPort,
    serverName: downstream.tls?.sni ?? sniffedServerName ?? '',
    peerCertificate: downstream.tls?.peerCertificate,
  };
}
