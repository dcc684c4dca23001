import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FAULT_TYPE } from '../../../xds/envoy/index.ts';
import type { Headers } from '../../http/headers.ts';
import { RequestView } from '../../route/route-match.ts';
import { parseFaultSettings, type FaultSettings } from './fault-settings.ts';

function settings(config: Record<string, unknown>): FaultSettings {
  const parsed = parseFaultSettings({ '@type': FAULT_TYPE, ...config });
  if (!parsed.ok) assert.fail(parsed.error);
  return parsed.value;
}

function problems(config: Record<string, unknown>): string[] {
  const parsed = parseFaultSettings({ '@type': FAULT_TYPE, ...config });
  assert.equal(parsed.ok, false, 'expected the config to be refused');
  return parsed.ok ? [] : parsed.error.split('\n');
}

function view(headers: Headers, path = '/'): RequestView {
  return new RequestView({ method: 'GET', path, authority: 'ratings', scheme: 'http', headers });
}

describe('parseFaultSettings', () => {
  it('takes the empty config Istio puts in every filter chain as one that injects nothing', () => {
    const parsed = settings({});
    assert.equal(parsed.inert, true);
    assert.equal(parsed.maxActiveFaults, Infinity);
  });

  it('compiles what Istio translates a VirtualService fault to: a fixed delay and an HTTP abort with their shares', () => {
    const parsed = settings({
      delay: { fixedDelay: '7s', percentage: { numerator: 100 } },
      abort: { httpStatus: 503, percentage: { numerator: 500_000, denominator: 'MILLION' } },
    });
    assert.equal(parsed.inert, false);
    assert.deepEqual(parsed.delay?.source, { kind: 'fixed', ms: 7000 });
    assert.equal(parsed.delayMs({}), 7000);
    assert.deepEqual(parsed.abortStatus({}), { kind: 'http', status: 503 });
    assert.equal(parsed.abort?.share.includes(0.4999, {}), true);
    assert.equal(parsed.abort?.share.includes(0.5, {}), false);
    assert.equal(parsed.delay?.share.includes(0.9999, {}), true);
  });

  it('reads fractional delays in whole milliseconds and a gRPC abort status', () => {
    const parsed = settings({ delay: { fixedDelay: '0.0015s', percentage: { numerator: 1 } }, abort: { grpcStatus: 14 } });
    assert.equal(parsed.delayMs({}), 1);
    assert.deepEqual(parsed.abortStatus({}), { kind: 'grpc', status: 14 });
  });

  it('never fires a fault whose percentage is unset', () => {
    const parsed = settings({ abort: { httpStatus: 500 } });
    assert.equal(parsed.abort?.share.includes(0, {}), false);
  });

  it('takes delays, aborts and rate limits from the request headers only when configured for header control', () => {
    const parsed = settings({
      delay: { headerDelay: {}, percentage: { numerator: 50 } },
      abort: { headerAbort: {}, percentage: { numerator: 100 } },
      responseRateLimit: { headerLimit: {}, percentage: { numerator: 100 } },
    });
    assert.equal(parsed.delayMs({}), undefined);
    assert.equal(parsed.delayMs({ 'x-envoy-fault-delay-request': '250' }), 250);
    assert.equal(parsed.delayMs({ 'x-envoy-fault-delay-request': 'soon' }), undefined);
    assert.equal(parsed.delayMs({ 'x-envoy-fault-delay-request': '0' }), undefined);
    assert.deepEqual(parsed.abortStatus({ 'x-envoy-fault-abort-request': '429' }), { kind: 'http', status: 429 });
    assert.equal(parsed.abortStatus({ 'x-envoy-fault-abort-request': '600' }), undefined);
    assert.deepEqual(parsed.abortStatus({ 'x-envoy-fault-abort-grpc-request': '8' }), { kind: 'grpc', status: 8 });
    assert.deepEqual(parsed.abortStatus({ 'x-envoy-fault-abort-request': '503', 'x-envoy-fault-abort-grpc-request': '8' }), { kind: 'http', status: 503 });
    assert.equal(parsed.abortStatus({}), undefined);
    assert.equal(parsed.rateLimitKbps({ 'x-envoy-fault-throughput-response': '16' }), 16);
    assert.equal(parsed.rateLimitKbps({ 'x-envoy-fault-throughput-response': '0' }), undefined);

    const fixed = settings({ delay: { fixedDelay: '1s', percentage: { numerator: 100 } }, abort: { httpStatus: 503, percentage: { numerator: 100 } } });
    assert.equal(fixed.delayMs({ 'x-envoy-fault-delay-request': '5' }), 1000);
    assert.deepEqual(fixed.abortStatus({ 'x-envoy-fault-abort-request': '418' }), { kind: 'http', status: 503 });
  });

  it('lets a header-controlled fault\'s percentage header lower its share, never raise it', () => {
    const parsed = settings({ delay: { headerDelay: {}, percentage: { numerator: 50 } } });
    const share = parsed.delay!.share;
    assert.equal(share.includes(0.3, { 'x-envoy-fault-delay-request-percentage': '20' }), false);
    assert.equal(share.includes(0.1, { 'x-envoy-fault-delay-request-percentage': '20' }), true);
    assert.equal(share.includes(0.7, { 'x-envoy-fault-delay-request-percentage': '100' }), false);
    assert.equal(share.includes(0.3, { 'x-envoy-fault-delay-request-percentage': 'lots' }), true);
    const fixed = settings({ delay: { fixedDelay: '1s', percentage: { numerator: 50 } } });
    assert.equal(fixed.delay!.share.includes(0.3, { 'x-envoy-fault-delay-request-percentage': '0' }), true);
  });

  it('accepts a fixed response rate limit with its uint64 written as a string, and matchers on headers and nodes', () => {
    const parsed = settings({
      responseRateLimit: { fixedLimit: { limitKbps: '64' }, percentage: { numerator: 100 } },
      headers: [{ name: 'end-user', exactMatch: 'jason' }, { name: ':path', prefixMatch: '/api' }],
      downstreamNodes: ['productpage-v1'],
      upstreamCluster: 'outbound|9080||ratings.default.svc.cluster.local',
      maxActiveFaults: 10,
      delayPercentRuntime: 'fault.http.delay.fixed_delay_percent',
      disableDownstreamClusterStats: true,
    });
    assert.equal(parsed.rateLimitKbps({}), 64);
    assert.equal(parsed.headersMatch?.(view({ 'end-user': 'jason' }, '/api/books')), true);
    assert.equal(parsed.headersMatch?.(view({ 'end-user': 'jason' }, '/web')), false);
    assert.equal(parsed.headersMatch?.(view({}, '/api')), false);
    assert.deepEqual([...parsed.downstreamNodes!], ['productpage-v1']);
    assert.equal(parsed.maxActiveFaults, 10);
    assert.equal(parsed.downstreamClusterStats, false);
  });

  it('reports every problem with its field, one per line', () => {
    assert.deepEqual(problems({
      delay: { fixedDelay: '0s', percentage: { numerator: -1, denominator: 'THOUSAND' } },
      abort: { httpStatus: 503, grpcStatus: 14 },
      headers: [{ name: '', exactMatch: 'a' }, { name: 'x', prefixMatch: 'a', suffixMatch: 'b' }],
      maxActiveFaults: 'ten',
      responseRateLimit: { fixedLimit: { limitKbps: 0 } },
      disableDownstreamClusterStats: 'yes',
      upstream_cluster: 'ratings',
    }), [
      'upstream_cluster: is not a field of HTTPFault; did you mean upstreamCluster?',
      'delay.fixedDelay: must be greater than 0s',
      'delay.percentage.numerator: must be a whole number from 0 to 4294967295',
      'delay.percentage.denominator: "THOUSAND" is not one of HUNDRED, TEN_THOUSAND, MILLION',
      'abort: sets httpStatus and grpcStatus; only one may be set',
      'responseRateLimit.fixedLimit.limitKbps: 0 is not a whole number of KiB/s of at least 1',
      'headers[0].name: must not be empty',
      'headers[1]: sets prefixMatch and suffixMatch; only one may be set',
      'maxActiveFaults: must be a whole number from 0 to 4294967295',
      'disableDownstreamClusterStats: must be true or false',
    ]);
  });

  it('refuses an HTTP status outside 200..599, a delay or abort without its kind, and settings on header control', () => {
    assert.deepEqual(problems({ abort: { httpStatus: 600, percentage: { numerator: 1 } } }), ['abort.httpStatus: 600 is not an HTTP status from 200 to 599']);
    assert.deepEqual(problems({ abort: { httpStatus: 199 } }), ['abort.httpStatus: 199 is not an HTTP status from 200 to 599']);
    assert.deepEqual(problems({ delay: { percentage: { numerator: 1 } } }), ['delay: needs one of fixedDelay or headerDelay']);
    assert.deepEqual(problems({ abort: { percentage: { numerator: 1 } } }), ['abort: needs one of httpStatus or grpcStatus or headerAbort']);
    assert.deepEqual(problems({ abort: { headerAbort: { status: 503 } } }), ['abort.headerAbort.status: is not a field; headerAbort takes no settings']);
    assert.deepEqual(problems({ delay: { fixedDelay: 7 } }), ['delay.fixedDelay: 7 is not a duration such as "5s"']);
    assert.deepEqual(problems({ delay: { fixedDelay: '7 seconds' } }), [
      'delay.fixedDelay: "7 seconds" is not a duration (expected a number with a unit: ns, us, ms, s, m, h, e.g. "1.5s" or "100ms")',
    ]);
    assert.deepEqual(problems({ delay: { fixedDelay: '1s', type: 'FIXED' } }), ['delay.type: is not a field of FaultDelay']);
    assert.deepEqual(problems({ responseRateLimit: { percentage: { numerator: 1 } } }), ['responseRateLimit: needs one of fixedLimit or headerLimit']);
    assert.deepEqual(problems({ headers: { name: 'x' } }), ['headers: must be a list of header matchers']);
    assert.deepEqual(problems({ abort: 503 }), ['abort: must be a FaultAbort object']);
  });
});
