import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LOCAL_RATE_LIMIT_TYPE } from '../../../xds/envoy/index.ts';
import type { Headers } from '../../http/headers.ts';
import { applyHeaderMutation } from '../../route/header-mutation.ts';
import { parseLocalRateLimit, type LocalRateLimitSettings } from './local-ratelimit-settings.ts';

const BUCKET = { maxTokens: 10, tokensPerFill: 5, fillInterval: '1s' };

function settings(config: Record<string, unknown>, perRoute = false): LocalRateLimitSettings {
  const parsed = parseLocalRateLimit({ '@type': LOCAL_RATE_LIMIT_TYPE, statPrefix: 'http_local_rate_limiter', ...config }, perRoute);
  if (!parsed.ok) assert.fail(parsed.error);
  return parsed.value;
}

function problems(config: Record<string, unknown>, perRoute = false): string[] {
  const parsed = parseLocalRateLimit({ '@type': LOCAL_RATE_LIMIT_TYPE, ...config }, perRoute);
  assert.equal(parsed.ok, false, 'expected the config to be refused');
  return parsed.ok ? [] : parsed.error.split('\n');
}

const never = (): number => assert.fail('a 0% or 100% share draws nothing');

describe('parseLocalRateLimit', () => {
  it('reads the config Istio\'s local rate limit task puts on a route', () => {
    const parsed = settings({
      tokenBucket: { maxTokens: 4, tokensPerFill: 4, fillInterval: '60s' },
      filterEnabled: { runtimeKey: 'local_rate_limit_enabled', defaultValue: { numerator: 100, denominator: 'HUNDRED' } },
      filterEnforced: { runtimeKey: 'local_rate_limit_enforced', defaultValue: { numerator: 100, denominator: 'HUNDRED' } },
      responseHeadersToAdd: [{ appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD', header: { key: 'x-local-rate-limit', value: 'true' } }],
    }, true);
    assert.deepEqual(parsed.bucket, { maxTokens: 4, tokensPerFill: 4, fillIntervalMs: 60_000 });
    assert.equal(parsed.statPrefix, 'http_local_rate_limiter');
    assert.equal(parsed.status, 429);
    assert.equal(parsed.enabled.includes(never), true);
    assert.equal(parsed.enforced.includes(never), true);
    const headers: Headers = { 'x-local-rate-limit': 'no' };
    applyHeaderMutation(headers, parsed.responseHeaders);
    assert.deepEqual(headers, { 'x-local-rate-limit': 'true' });
    assert.equal(parsed.xRateLimitHeaders, false);
    assert.equal(parsed.perConnection, false);
  });

  it('takes unset filterEnabled and filterEnforced as 0%, and tokensPerFill as 1', () => {
    const parsed = settings({ tokenBucket: { maxTokens: 3, fillInterval: '0.5s' } });
    assert.equal(parsed.enabled.includes(never), false);
    assert.equal(parsed.enforced.includes(never), false);
    assert.equal(parsed.bucket?.tokensPerFill, 1);
    assert.equal(parsed.bucket?.fillIntervalMs, 500);
  });

  it('draws for a partial share over its denominator', () => {
    const parsed = settings({ tokenBucket: BUCKET, filterEnabled: { defaultValue: { numerator: 2500, denominator: 'TEN_THOUSAND' } } });
    assert.equal(parsed.enabled.includes(() => 0.2499), true);
    assert.equal(parsed.enabled.includes(() => 0.25), false);
  });

  it('lets the filter\'s own config leave the bucket to routes, which checks nothing', () => {
    const parsed = settings({});
    assert.equal(parsed.bucket, undefined);
    assert.equal(parsed.bucketFor({}), undefined);
  });

  it('shares one bucket per config, or keeps one per connection when asked', () => {
    const shared = settings({ tokenBucket: BUCKET });
    const a = {};
    const b = {};
    assert.equal(shared.bucketFor(a), shared.bucketFor(b));
    assert.notEqual(settings({ tokenBucket: BUCKET }).bucketFor(a), shared.bucketFor(a), 'another config object has its own');
    const perConnection = settings({ tokenBucket: BUCKET, localRateLimitPerDownstreamConnection: true });
    assert.equal(perConnection.perConnection, true);
    assert.equal(perConnection.bucketFor(a), perConnection.bucketFor(a));
    assert.notEqual(perConnection.bucketFor(a), perConnection.bucketFor(b));
  });

  it('reads the status by enum name or number, answering 429 for one below 400 as Envoy does', () => {
    assert.equal(settings({ status: { code: 'ServiceUnavailable' } }).status, 503);
    assert.equal(settings({ status: { code: 503 } }).status, 503);
    assert.equal(settings({ status: { code: 'OK' } }).status, 429);
  });

  it('reads the x-ratelimit header version, gRPC status choice and the enums that only matter with descriptors', () => {
    const parsed = settings({
      tokenBucket: { maxTokens: '7', tokensPerFill: '1', fillInterval: '2s' },
      enableXRatelimitHeaders: 'DRAFT_VERSION_03',
      rateLimitedAsResourceExhausted: true,
      stage: 3,
      vhRateLimits: 'INCLUDE',
      alwaysConsumeDefaultTokenBucket: false,
      descriptors: [],
      rateLimits: [],
    });
    assert.equal(parsed.xRateLimitHeaders, true);
    assert.equal(parsed.grpcResourceExhausted, true);
    assert.equal(parsed.bucket?.maxTokens, 7);
    assert.equal(settings({ enableXRatelimitHeaders: 1 }).xRateLimitHeaders, true);
    assert.equal(settings({ enableXRatelimitHeaders: 'OFF' }).xRateLimitHeaders, false);
  });

  it('refuses what Weft does not do, naming the field, so that no config relies on it unawares', () => {
    assert.deepEqual(problems({
      statPrefix: 'rl',
      descriptors: [{ entries: [{ key: 'client', value: 'a' }], tokenBucket: BUCKET }],
      rateLimits: [{ actions: [{ remoteAddress: {} }] }],
      localClusterRateLimit: {},
    }), [
      'descriptors: is not supported by Weft: Weft applies one token bucket per config and has no per-descriptor buckets',
      'rateLimits: is not supported by Weft: Weft builds no rate limit descriptors',
      'localClusterRateLimit: is not supported by Weft: the bucket is never shared out among the local cluster\'s proxies',
    ]);
  });

  it('requires a tokenBucket in a route\'s config, as Envoy does', () => {
    assert.deepEqual(problems({ statPrefix: 'rl' }, true), ['tokenBucket: is required in a route\'s or virtual host\'s config']);
  });

  it('reports every problem with its field, one per line', () => {
    assert.deepEqual(problems({
      stat_prefix: 'rl',
      status: { code: 299 },
      tokenBucket: { maxTokens: 0, tokensPerFill: -1, fillInterval: '49ms' },
      filterEnabled: { defaultValue: { numerator: 'all', denominator: 'THOUSAND' } },
      filterEnforced: { runtimeKey: 7 },
      responseHeadersToAdd: [{ header: { key: '', value: 'x' } }],
      requestHeadersToAddWhenNotEnforced: { header: { key: 'a', value: 'b' } },
      enableXRatelimitHeaders: 'DRAFT_VERSION_04',
      localRateLimitPerDownstreamConnection: 'yes',
      stage: 11,
    }), [
      'stat_prefix: is not a field of LocalRateLimit; did you mean statPrefix?',
      'statPrefix: is required (the prefix of the filter\'s stats)',
      'status.code: 299 is not an envoy.type.v3.StatusCode (a name such as "TooManyRequests", or its number)',
      'tokenBucket.maxTokens: 0 is not a whole number from 1 to 4294967295',
      'tokenBucket.tokensPerFill: -1 is not a whole number from 1 to 4294967295',
      'tokenBucket.fillInterval: 49ms is too short: the fill interval must be at least 50ms',
      'filterEnabled.defaultValue.numerator: "all" is not a whole number from 0 to 4294967295',
      'filterEnabled.defaultValue.denominator: "THOUSAND" is not one of HUNDRED, TEN_THOUSAND, MILLION',
      'filterEnforced.runtimeKey: must be a runtime key (a string)',
      'filterEnforced.defaultValue: is required',
      'requestHeadersToAddWhenNotEnforced: must be a list of HeaderValueOption objects ({header: {key, value}, appendAction})',
      'responseHeadersToAdd[0].header.key: must not be empty',
      'enableXRatelimitHeaders: "DRAFT_VERSION_04" is not one of OFF, DRAFT_VERSION_03',
      'localRateLimitPerDownstreamConnection: must be true or false',
      'stage: 11 is not a whole number from 0 to 10',
    ]);
  });

  it('refuses a bucket without its required fields, a config of another type, and more than ten headers', () => {
    assert.deepEqual(problems({ statPrefix: 'rl', tokenBucket: { tokens_per_fill: 1 } }), [
      'tokenBucket.tokens_per_fill: is not a field of TokenBucket; did you mean tokensPerFill?',
      'tokenBucket.maxTokens: is required',
      'tokenBucket.fillInterval: is required (a duration such as "1s")',
    ]);
    assert.deepEqual(problems({ statPrefix: 'rl', tokenBucket: { maxTokens: 1, fillInterval: 1 } }), ['tokenBucket.fillInterval: 1 is not a duration such as "1s"']);
    assert.deepEqual(problems({ '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault', statPrefix: 'rl' }), [
      '@type: "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault" is not type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
    ]);
    const eleven = Array.from({ length: 11 }, (_, i) => ({ header: { key: `x-${i}`, value: 'v' } }));
    assert.deepEqual(problems({ statPrefix: 'rl', responseHeadersToAdd: eleven }), ['responseHeadersToAdd: lists 11 headers; at most 10 are allowed']);
  });
});
