export { AdsServer, type ListenTransport } from './ads-server.ts';
export {
  DEFAULT_PUSH_SETTINGS,
  type AdsServerOptions,
  type ChangedKinds,
  type Clock,
  type LogFields,
  type Logger,
  type PushSettings,
  type SnapshotProvider,
  type TimerHandle,
  type Timers,
} from './ads-server-options.ts';
export { ADS_SERVICE_NAME, adsServiceDefinition, type EncodedDeltaDiscoveryResponse, type EncodedDiscoveryResponse, type EncodedResource } from '../../xds/index.ts';
export type { NackRecord, ProxyStatus, SentRecord, SentResource, SyncState, TypeStatus } from './proxy-status.ts';
