export { LocalRateLimitFilterFactory } from './local-ratelimit-filter.ts';
export { LocalRateLimitSettings, parseLocalRateLimit } from './local-ratelimit-settings.ts';
export { TokenBucket, type TokenBucketSpec } from './token-bucket.ts';
