import type { Clock, Logger, Timers } from '../../core/index.ts';
import type { Result } from '../../core/index.ts';
import type { ProtoJson } from '../../xds/index.ts';
import type { Generator, ResourceKind } from '../generators/generator.ts';
import type { ProxyView } from '../model/index.ts';
import type { MeshSnapshot } from '../snapshot/mesh-snapshot.ts';

/** What changed between two snapshots: the kinds whose resources differ, or 'all' when unknown. */
export type ChangedKinds = ReadonlySet<ResourceKind> | 'all';

/** Where the server reads the mesh: the snapshot in effect, and a call after each new one. */
export interface SnapshotProvider {
  current(): MeshSnapshot;
  /** Calls `listener` with every new snapshot; returns the function that unsubscribes. */
  subscribe(listener: (next: MeshSnapshot, changedKinds: ChangedKinds) => void): () => void;
}

/** Milliseconds since the epoch. */
export type { Clock, Timers, TimerHandle, Logger, LogFields } from '../../core/index.ts';

/**
 * How pushes follow snapshot changes: a push waits until no change has come for `debounceQuietMs`,
 * but never more than `debounceMaxMs` after the first change it carries (Istio's
 * PILOT_DEBOUNCE_AFTER and PILOT_DEBOUNCE_MAX).
 */
export interface PushSettings {
  readonly debounceQuietMs: number;
  readonly debounceMaxMs: number;
}

export const DEFAULT_PUSH_SETTINGS: PushSettings = { debounceQuietMs: 100, debounceMaxMs: 1000 };

export interface AdsServerOptions {
  /** One per type URL the server serves; requests for other types are ignored. */
  readonly generators: readonly Generator[];
  readonly snapshots: SnapshotProvider;
  /** Reads the proxy from the xDS node (JSON form) of a stream's first request; an error refuses the stream. */
  parseNode(node: ProtoJson): Result<ProxyView, string>;
  /** A stream announced `proxy`; `connectionId` is unique to this stream. */
  onProxyConnected(proxy: ProxyView, connectionId: string): void;
  onProxyDisconnected(connectionId: string): void;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly logger: Logger;
  readonly push?: Partial<PushSettings>;
}
