import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeYaml } from '../test-support.ts';
import { conflictingVirtualServiceHosts } from './conflicting-virtual-service-hosts.ts';

const run = (text: string): string[] => analyzeYaml(text, conflictingVirtualServiceHosts);

function vs(name: string, namespace: string, host: string, extra = ''): string {
  return `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  hosts: [${host}]
${extra}  http:
  - route:
    - destination: {host: reviews.default.svc.cluster.local}
`;
}

describe('ConflictingVirtualServiceHosts', () => {
  it('reports two mesh VirtualServices for the same host, written short and long', () => {
    assert.deepEqual(run(vs('a', 'default', 'reviews') + vs('b', 'shop', 'reviews.default.svc.cluster.local')), [
      'Error [WFT0109] (VirtualService default/a test.yaml:6) The VirtualServices default/a,shop/b associated with mesh gateway define the same host reviews.default.svc.cluster.local which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.',
      'Error [WFT0109] (VirtualService shop/b test.yaml:15) The VirtualServices default/a,shop/b associated with mesh gateway define the same host reviews.default.svc.cluster.local which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.',
    ]);
  });

  it('counts gateways: [mesh] as the mesh, and not a VirtualService bound only to a Gateway', () => {
    assert.equal(run(vs('a', 'default', 'reviews') + vs('b', 'default', 'reviews', '  gateways: [mesh]\n')).length, 2);
    assert.deepEqual(run(vs('a', 'default', 'reviews') + vs('b', 'default', 'reviews', '  gateways: [public]\n')), []);
  });

  it('does not report the same short name in two namespaces, which are two hosts', () => {
    assert.deepEqual(run(vs('a', 'default', 'reviews') + vs('b', 'shop', 'reviews')), []);
  });

  it('does not report VirtualServices that no namespace sees together', () => {
    const local = '  exportTo: ["."]\n';
    assert.deepEqual(run(vs('a', 'default', 'api.example.com', local) + vs('b', 'shop', 'api.example.com', local)), []);
    assert.equal(run(vs('a', 'default', 'api.example.com', local) + vs('b', 'shop', 'api.example.com')).length, 2);
  });

  it('warns about two VirtualServices for the same host on the same Gateway, whose merge order is undefined', () => {
    const bound = (gw: string): string => `  gateways: [${gw}]\n`;
    assert.deepEqual(run(vs('a', 'edge', 'shop.example.com', bound('public')) + vs('b', 'default', 'shop.example.com', bound('edge/public'))), [
      'Warning [WFT0200] (VirtualService edge/a test.yaml:6) The VirtualServices default/b,edge/a bound to gateway edge/public define the same host shop.example.com; their rules are merged in the order the VirtualServices were created, which the files do not fix. Merge them into a single VirtualService to make the order of the rules explicit.',
      'Warning [WFT0200] (VirtualService default/b test.yaml:16) The VirtualServices default/b,edge/a bound to gateway edge/public define the same host shop.example.com; their rules are merged in the order the VirtualServices were created, which the files do not fix. Merge them into a single VirtualService to make the order of the rules explicit.',
    ]);
    assert.deepEqual(run(vs('a', 'edge', 'shop.example.com', bound('public')) + vs('b', 'edge', 'shop.example.com', bound('private'))), []);
  });
});
