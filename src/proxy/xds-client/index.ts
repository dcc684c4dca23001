export { AdsClient, type AdsClientOptions, type AdsClientStatus, type AdsTypeStatus } from './ads-client.ts';
export {
  bootstrapDumpSource,
  DEFAULT_ADMIN_ADDRESS,
  DEFAULT_HEALTH_ADDRESS,
  DEFAULT_INITIAL_FETCH_TIMEOUT_MS,
  DEFAULT_STATS_ADDRESS,
  DEFAULT_TRUST_DOMAIN,
  parseBootstrap,
  xdsNode,
  type AdsMode,
  type AdsSettings,
  type Bootstrap,
  type BootstrapFlags,
  type BootstrapInput,
  type BootstrapNode,
  type CaSettings,
  type NodeLocality,
} from './bootstrap.ts';
export { JitteredBackoff, type BackoffOptions } from './backoff.ts';
export { resourceName } from './decode-resources.ts';
export type { ResourceHandler, ResourceUpdate } from './resource-handler.ts';
