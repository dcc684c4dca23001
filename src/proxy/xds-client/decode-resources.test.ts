import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeMessage, TypeUrl } from '../../xds/index.ts';
import { decodeResources } from './decode-resources.ts';

const cluster = (json: object) => ({ any: { typeUrl: TypeUrl.Cluster, value: encodeMessage('envoy.config.cluster.v3.Cluster', json) } });

describe('decodeResources', () => {
  it('decodes each resource to its JSON form, named by its name', () => {
    const result = decodeResources(TypeUrl.Cluster, [cluster({ name: 'a', connectTimeout: '1s', type: 'EDS' })]);
    assert.deepEqual(result, { ok: true, value: [{ name: 'a', version: undefined, resource: { name: 'a', type: 'EDS', connectTimeout: '1s' } }] });
  });

  it('names a ClusterLoadAssignment by its clusterName, and keeps a Delta name and version', () => {
    const value = encodeMessage('envoy.config.endpoint.v3.ClusterLoadAssignment', { clusterName: 'c' });
    assert.deepEqual(decodeResources(TypeUrl.ClusterLoadAssignment, [{ any: { typeUrl: TypeUrl.ClusterLoadAssignment, value } }]), { ok: true, value: [{ name: 'c', version: undefined, resource: { clusterName: 'c' } }] });
    assert.deepEqual(decodeResources(TypeUrl.ClusterLoadAssignment, [{ name: 'c', version: 'v7', any: { typeUrl: TypeUrl.ClusterLoadAssignment, value } }]), { ok: true, value: [{ name: 'c', version: 'v7', resource: { clusterName: 'c' } }] });
  });

  it('reports a resource that does not decode, naming it, and the others it could not take', () => {
    const garbage = { name: 'broken', any: { typeUrl: TypeUrl.Cluster, value: Uint8Array.from([0x0a, 0xff]) } };
    const listener = { any: { typeUrl: TypeUrl.Listener, value: encodeMessage('envoy.config.listener.v3.Listener', { name: 'l' }) } };
    const result = decodeResources(TypeUrl.Cluster, [cluster({ name: 'a' }), garbage, listener, cluster({ name: 'a' }), cluster({ connectTimeout: '1s' })]);
    assert.equal(result.ok, false);
    if (result.ok) return;
    const problems = result.error.split('; ');
    assert.match(problems[0]!, /^envoy\.config\.cluster\.v3\.Cluster "broken": cannot be decoded: /);
    assert.deepEqual(problems.slice(1), [
      'CDS resource [2]: is a type.googleapis.com/envoy.config.listener.v3.Listener, expected type.googleapis.com/envoy.config.cluster.v3.Cluster',
      'envoy.config.cluster.v3.Cluster "a": appears twice in the response',
      'CDS resource [4]: has no name',
    ]);
  });
});
