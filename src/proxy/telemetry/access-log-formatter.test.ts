import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TimerHandle, Timers } from '../../core/index.ts';
import type { ResponseFlag } from '../http/exchange.ts';
import type { AccessLogEntry } from './access-log.ts';
import { formatAccessLogJson, formatAccessLogText, formatResponseFlags } from './access-log-formatter.ts';
import { BufferedAccessLogSink, openAccessLogFile } from './buffered-access-log-sink.ts';

/** The request of Istio's access log example (istio.io, "Envoy Access Logs"). */
const TEAPOT: AccessLogEntry = {
  kind: 'http',
  request: {
    method: 'GET',
    path: '/status/418',
    authority: 'httpbin:8000',
    scheme: 'http',
    protocol: 'HTTP/1.1',
    headers: { 'user-agent': 'curl/7.73.0-DEV', 'x-request-id': '84961386-6d84-929d-98bd-c5aee93b5c88' },
  },
  response: { status: 418, headers: { 'x-envoy-upstream-service-time': '4' } },
  downstream: { connectionId: 1, remoteAddress: '10.44.1.23', remotePort: 46520, localAddress: '10.0.45.184', localPort: 8000 },
  info: {
    requestId: '84961386-6d84-929d-98bd-c5aee93b5c88',
    startTime: Date.parse('2020-11-25T21:26:18.409Z'),
    responseFlags: new Set(),
    responseCodeDetails: 'via_upstream',
    routeName: 'default',
    upstreamCluster: 'outbound|8000||httpbin.foo.svc.cluster.local',
    upstreamHost: '10.44.1.27:80',
    upstreamLocalAddress: '10.44.1.23:37652',
    attemptCount: 1,
    bytesReceived: 0,
    bytesSent: 135,
  },
  durationMs: 4.8,
};

/** Retried twice against a refusing host, over HTTP/2 and IPv6, after a prefix rewrite. */
const REFUSED: AccessLogEntry = {
  kind: 'http',
  request: {
    method: 'POST',
    path: '/v2/orders',
    authority: 'orders.shop.svc.cluster.local:8080',
    scheme: 'http',
    protocol: 'HTTP/2',
    headers: { 'x-envoy-original-path': '/orders', 'x-forwarded-for': '10.0.0.1, 10.0.0.2', 'user-agent': '' },
  },
  response: { status: 503, headers: {} },
  downstream: { connectionId: 7, remoteAddress: '::1', remotePort: 51000, localAddress: '::1', localPort: 15001, tls: { sni: 'outbound_.8080_._.orders.shop.svc.cluster.local', localUriSans: [] } },
  info: {
    requestId: 'r-2',
    startTime: Date.parse('2026-01-02T03:04:05.006Z'),
    responseFlags: new Set<ResponseFlag>(['URX', 'UF']),
    responseCodeDetails: 'upstream_reset_before_response_started{connection_failure}',
    upstreamTransportFailureReason: 'TLS_error:_certificate_verify_failed',
    upstreamCluster: 'outbound|8080||orders.shop.svc.cluster.local',
    upstreamHost: '10.1.0.9:8080',
    attemptCount: 3,
    bytesReceived: 27,
    bytesSent: 91,
  },
  durationMs: 61.2,
};

const TCP: AccessLogEntry = {
  kind: 'tcp',
  downstream: { connectionId: 9, remoteAddress: '10.44.0.13', remotePort: 43960, localAddress: '10.96.1.5', localPort: 9000 },
  info: {
    requestId: '',
    startTime: Date.parse('2026-01-02T03:04:05.000Z'),
    responseFlags: new Set(),
    upstreamCluster: 'outbound|9000||tcp-echo.foo.svc.cluster.local',
    upstreamHost: '10.44.0.20:9000',
    upstreamLocalAddress: '10.44.0.13:50112',
    attemptCount: 1,
    bytesReceived: 6,
    bytesSent: 18,
  },
  durationMs: 5012,
};

describe('the access log formats', () => {
  it('writes Istio\'s example line exactly', () => {
    assert.equal(
      formatAccessLogText(TEAPOT),
      '[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 4 4 "-" "curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default\n',
    );
  });

  it('logs the original path, flags in Envoy\'s order, bracketed IPv6 addresses and the SNI; `-` for what is missing', () => {
    assert.equal(
      formatAccessLogText(REFUSED),
      '[2026-01-02T03:04:05.006Z] "POST /orders HTTP/2" 503 UF,URX upstream_reset_before_response_started{connection_failure} - "TLS_error:_certificate_verify_failed" 27 91 61 - "10.0.0.1, 10.0.0.2" "-" "r-2" "orders.shop.svc.cluster.local:8080" "10.1.0.9:8080" outbound|8080||orders.shop.svc.cluster.local - [::1]:15001 [::1]:51000 outbound_.8080_._.orders.shop.svc.cluster.local -\n',
    );
  });

  it('logs a TCP connection with "- - -" and response code 0', () => {
    assert.equal(
      formatAccessLogText(TCP),
      '[2026-01-02T03:04:05.000Z] "- - -" 0 - - - "-" 6 18 5012 - "-" "-" "-" "-" "10.44.0.20:9000" outbound|9000||tcp-echo.foo.svc.cluster.local 10.44.0.13:50112 10.96.1.5:9000 10.44.0.13:43960 - -\n',
    );
  });

  it('writes JSON with Istio\'s keys, numbers as numbers and null for what is missing', () => {
    assert.equal(
      formatAccessLogJson(TEAPOT),
      `${JSON.stringify({
        authority: 'httpbin:8000',
        bytes_received: 0,
        bytes_sent: 135,
        connection_termination_details: null,
        downstream_local_address: '10.0.45.184:8000',
        downstream_remote_address: '10.44.1.23:46520',
        duration: 4,
        method: 'GET',
        path: '/status/418',
        protocol: 'HTTP/1.1',
        request_id: '84961386-6d84-929d-98bd-c5aee93b5c88',
        requested_server_name: null,
        response_code: 418,
        response_code_details: 'via_upstream',
        response_flags: '-',
        route_name: 'default',
        start_time: '2020-11-25T21:26:18.409Z',
        upstream_cluster: 'outbound|8000||httpbin.foo.svc.cluster.local',
        upstream_host: '10.44.1.27:80',
        upstream_local_address: '10.44.1.23:37652',
        upstream_service_time: '4',
        upstream_transport_failure_reason: null,
        user_agent: 'curl/7.73.0-DEV',
        x_forwarded_for: null,
      })}\n`,
    );
    const tcp = JSON.parse(formatAccessLogJson(TCP)) as Record<string, unknown>;
    assert.deepEqual([tcp['method'], tcp['path'], tcp['protocol'], tcp['response_code'], tcp['response_flags'], tcp['request_id']], [null, null, null, 0, '-', null]);
  });

  it('orders response flags as Envoy does', () => {
    assert.equal(formatResponseFlags(new Set<ResponseFlag>(['URX', 'DC', 'UH', 'NR'])), 'UH,NR,DC,URX');
    assert.equal(formatResponseFlags(new Set<ResponseFlag>(['UO'])), 'UO');
    assert.equal(formatResponseFlags(new Set()), '-');
  });
});

class FakeTimers implements Timers {
  readonly pending = new Map<number, { callback: () => void; ms: number }>();
  #next = 0;
  setTimeout(callback: () => void, ms: number): TimerHandle {
    this.pending.set(++this.#next, { callback, ms });
    return this.#next;
  }
  clearTimeout(handle: TimerHandle): void {
    this.pending.delete(handle as number);
  }
  fireAll(): void {
    const timers = [...this.pending.values()];
    this.pending.clear();
    for (const timer of timers) timer.callback();
  }
}

describe('BufferedAccessLogSink', () => {
  function memoryOutput() {
    const chunks: string[] = [];
    let ended = false;
    return {
      chunks,
      ended: () => ended,
      output: {
        write: (chunk: string, callback: () => void) => {
          chunks.push(chunk);
          callback();
        },
        end: (callback: () => void) => {
          ended = true;
          callback();
        },
      },
    };
  }

  it('writes the lines of a second together, when its timer fires', () => {
    const timers = new FakeTimers();
    const memory = memoryOutput();
    const sink = new BufferedAccessLogSink({ format: formatAccessLogText, output: memory.output, timers });
    sink.log(TEAPOT);
    sink.log(TCP);
    assert.deepEqual(memory.chunks, []);
    assert.deepEqual([...timers.pending.values()].map((t) => t.ms), [1000]);
    timers.fireAll();
    assert.deepEqual(memory.chunks, [formatAccessLogText(TEAPOT) + formatAccessLogText(TCP)]);
  });

  it('writes at once when the buffer is full', () => {
    const memory = memoryOutput();
    const sink = new BufferedAccessLogSink({ format: formatAccessLogJson, output: memory.output, timers: new FakeTimers(), maxBufferBytes: 100 });
    sink.log(TEAPOT);
    assert.deepEqual(memory.chunks, [formatAccessLogJson(TEAPOT)]);
  });

  it('writes what is left on close, and ends an output it owns but not stdout', async () => {
    const timers = new FakeTimers();
    const owned = memoryOutput();
    const file = new BufferedAccessLogSink({ format: formatAccessLogText, output: owned.output, ownsOutput: true, timers });
    file.log(TCP);
    await file.close();
    assert.deepEqual(owned.chunks, [formatAccessLogText(TCP)]);
    assert.equal(owned.ended(), true);
    assert.equal(timers.pending.size, 0);
    file.log(TCP);
    assert.equal(owned.chunks.length, 1, 'a closed sink drops what it is given');

    const stdout = memoryOutput();
    const shared = new BufferedAccessLogSink({ format: formatAccessLogText, output: stdout.output, timers });
    shared.log(TCP);
    await shared.close();
    assert.equal(stdout.ended(), false);
  });

  it('appends to a file', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'weft-access-log-')), 'access.log');
    for (const entry of [TEAPOT, TCP]) {
      const sink = new BufferedAccessLogSink({ format: formatAccessLogText, output: openAccessLogFile(path), ownsOutput: true, timers: new FakeTimers() });
      sink.log(entry);
      await sink.close();
    }
    assert.equal(readFileSync(path, 'utf8'), formatAccessLogText(TEAPOT) + formatAccessLogText(TCP));
  });
});
