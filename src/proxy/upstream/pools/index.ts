export type {
  HttpConnectionPool, PoolDeps, PoolRequestOptions, UpstreamFailure, UpstreamRequestBody, UpstreamResponse, UpstreamResult,
} from './connection-pool.ts';
export { Http1ConnectionPool } from './http1-pool.ts';
export { Http2ConnectionPool } from './http2-pool.ts';
export { poolSettings, type PoolSettings } from './pool-settings.ts';
export { poolStats, type PoolStats } from './pool-stats.ts';
export type { UpgradeResponse, UpgradeResult } from './upgrade-connection.ts';
export { UpstreamPools, type TunnelOptions, type UpgradeOptions, type UpstreamPoolsOptions } from './upstream-pools.ts';
