import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import type { HttpExchange, HttpFilter, HttpResponse } from './exchange.ts';
import { FilterChain } from './filter-chain.ts';
import { localReply } from './local-reply.ts';

function exchange(): HttpExchange {
  return {
    request: { method: 'GET', path: '/', authority: 'a', scheme: 'http', headers: {}, protocol: 'HTTP/1.1' },
    body: Readable.from([]),
    downstream: { connectionId: 1, remoteAddress: '127.0.0.1', remotePort: 1, localAddress: '127.0.0.1', localPort: 2 },
    info: { requestId: '', startTime: 0, responseFlags: new Set(), attemptCount: 0, bytesReceived: 0, bytesSent: 0 },
    metadata: new Map(),
    signal: new AbortController().signal,
    route: undefined,
    clearRouteCache() {},
  };
}

describe('FilterChain', () => {
  it('runs filters as an onion around the terminal filter', async () => {
    const order: string[] = [];
    const wrap = (name: string): HttpFilter => ({
      async handle(_exchange, next) {
        order.push(`${name} in`);
        const response = await next();
        order.push(`${name} out`);
        response.headers[`x-${name}`] = '1';
        return response;
      },
    });
    const terminal: HttpFilter = { handle: async () => (order.push('router'), { status: 200, headers: {}, body: null }) };
    const response = await new FilterChain([wrap('a'), wrap('b'), terminal]).run(exchange());
    assert.deepEqual(order, ['a in', 'b in', 'router', 'b out', 'a out']);
    assert.deepEqual(response.headers, { 'x-b': '1', 'x-a': '1' });
  });

  it('lets a filter answer without calling the rest', async () => {
    let reached = false;
    const deny: HttpFilter = { handle: async (ex) => localReply(ex.info, { status: 403, body: 'RBAC: access denied', details: 'rbac_access_denied' }) };
    const terminal: HttpFilter = { handle: async (): Promise<HttpResponse> => ((reached = true), { status: 200, headers: {}, body: null }) };
    const ex = exchange();
    const response = await new FilterChain([deny, terminal]).run(ex);
    assert.equal(response.status, 403);
    assert.equal(response.headers['content-type'], 'text/plain');
    assert.equal(String(response.body), 'RBAC: access denied');
    assert.equal(ex.info.responseCodeDetails, 'rbac_access_denied');
    assert.equal(reached, false);
  });

  it('turns a filter that throws into a rejection', async () => {
    const broken: HttpFilter = {
      handle() {
        throw new Error('bug');
      },
    };
    await assert.rejects(new FilterChain([broken]).run(exchange()), /bug/);
  });

  it('rejects when the terminal filter calls next', async () => {
    const wrong: HttpFilter = { handle: (_exchange, next) => next() };
    await assert.rejects(new FilterChain([wrong]).run(exchange()), /terminal HTTP filter called next/);
  });
});
