import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ok } from '../core/index.ts';
import { LocalApi } from './local-api.ts';

describe('LocalApi', () => {
  const token = 'a'.repeat(64);
  let stopped = 0;
  const api = new LocalApi({
    token,
    store: {
      apply: () => ok({ changes: [], warnings: [] }),
      delete: () => ok({ deleted: [], notFound: [] }),
      resources: () => [],
    },
    status: () => ({ workloads: [], gateway: undefined, controlPlane: {} }),
    shutdown: () => stopped++,
  });
  let url: string;
  before(async () => {
    url = `http://127.0.0.1:${await api.listen('127.0.0.1', 0)}`;
  });
  after(() => api.close());

  it('serves only a caller with the token of the state directory', async () => {
    assert.equal((await fetch(`${url}/v1/status`)).status, 401);
    assert.equal((await fetch(`${url}/v1/status`, { headers: { authorization: `Bearer ${'b'.repeat(64)}` } })).status, 401);
    assert.equal((await fetch(`${url}/v1/shutdown`, { method: 'POST' })).status, 401);
    assert.equal(stopped, 0);
    const answer = await fetch(`${url}/v1/status`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(answer.status, 200);
    assert.deepEqual(await answer.json(), { workloads: [], controlPlane: {} });
  });

  it('answers 404 for what it does not serve, and stops the mesh on POST /v1/shutdown', async () => {
    const auth = { authorization: `Bearer ${token}` };
    assert.equal((await fetch(`${url}/v1/nothing`, { headers: auth })).status, 404);
    const bad = await fetch(`${url}/v1/apply`, { method: 'POST', headers: auth, body: '{"files": 3}' });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /must carry \{"files"/);
    assert.equal((await fetch(`${url}/v1/shutdown`, { method: 'POST', headers: auth })).status, 202);
    assert.equal(stopped, 1);
  });
});
