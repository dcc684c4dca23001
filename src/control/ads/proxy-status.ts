import type { ProtoJson, TypeUrl } from '../../xds/index.ts';
import type { ProxyView } from '../model/index.ts';

/**
 * Where a proxy stands for one type, as istioctl proxy-status shows it: SYNCED (it ACKed the last
 * response), STALE (a response awaits its ACK), NOT SENT (nothing sent yet), ERROR (it NACKed the
 * last response).
 */
export type SyncState = 'SYNCED' | 'STALE' | 'NOT SENT' | 'ERROR';

export interface SentRecord {
  readonly version: string;
  readonly nonce: string;
  /** Milliseconds since the epoch, from the server's clock. */
  readonly time: number;
  /** Resources in the response: the whole set for State of the World, the changed ones for Delta. */
  readonly resourceCount: number;
}

export interface NackRecord {
  readonly nonce: string;
  /** The version the proxy refused. */
  readonly version: string;
  readonly message: string;
  readonly time: number;
}

export interface TypeStatus {
  readonly typeUrl: TypeUrl;
  /** LDS, RDS, CDS, EDS or SDS. */
  readonly type: string;
  /** Subscribed to every resource of the type (LDS and CDS). */
  readonly wildcard: boolean;
  /** Names subscribed explicitly, sorted. */
  readonly subscribed: readonly string[];
  /** Names subscribed that do not exist. */
  readonly notFound: readonly string[];
  readonly lastSent?: SentRecord;
  readonly ackedVersion?: string;
  readonly ackedNonce?: string;
  readonly lastNack?: NackRecord;
  readonly state: SyncState;
}

/** One ADS stream: a proxy and where each type stands. */
export interface ProxyStatus {
  readonly connectionId: string;
  readonly proxyId: string;
  readonly proxy: ProxyView;
  /** State of the World (StreamAggregatedResources) or incremental (DeltaAggregatedResources). */
  readonly mode: 'sotw' | 'delta';
  readonly connectedAt: number;
  /** Every type the server serves, in push order (CDS, EDS, LDS, RDS, SDS). */
  readonly types: readonly TypeStatus[];
}

/** A resource as last sent to a proxy, for config dumps. */
export interface SentResource {
  readonly name: string;
  /** The resource's own version: a hash of its bytes. */
  readonly version: string;
  readonly resource: ProtoJson;
}
