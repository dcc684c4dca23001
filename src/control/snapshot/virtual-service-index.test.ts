import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { snapshotFromYaml } from './test-support.ts';

function vs(name: string, namespace: string, body: string): string {
  const indented = body.trim().split('\n').map((line) => `  ${line}`).join('\n');
  return `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name}, namespace: ${namespace} }
spec:
${indented}
`;
}

const ROUTE = 'http: [{ route: [{ destination: { host: reviews } }] }]';

describe('MeshSnapshot.virtualServices', () => {
  it('binds a VirtualService without gateways to the mesh only', () => {
    const s = snapshotFromYaml(vs('reviews', 'default', `hosts: [reviews]\n${ROUTE}`) + `---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ['*'] }]
`);
    assert.deepEqual(s.virtualServices('mesh', 'default').map((v) => v.name), ['reviews']);
    assert.deepEqual(s.virtualServices('default/gw', 'default'), []);
  });

  it('binds to each gateway named at the top level, short names in the VirtualService namespace', () => {
    const s = snapshotFromYaml(
      vs('a', 'web', `hosts: [a.example.com]\ngateways: [gw, istio-system/ingress]\n${ROUTE}`) +
      vs('b', 'web', `hosts: [b.example.com]\ngateways: [mesh, web/gw]\n${ROUTE}`),
    );
    assert.deepEqual(s.virtualServices('web/gw', 'web').map((v) => v.name), ['a', 'b']);
    assert.deepEqual(s.virtualServices('istio-system/ingress', 'web').map((v) => v.name), ['a']);
    assert.deepEqual(s.virtualServices('mesh', 'web').map((v) => v.name), ['b']);
  });

  it('does not bind through match-level gateways alone, which only narrow routes', () => {
    const s = snapshotFromYaml(vs('a', 'web', `
hosts: [a.example.com]
gateways: [mesh]
http:
- match: [{ gateways: [gw], uri: { prefix: / } }]
  route: [{ destination: { host: a } }]
`));
    assert.deepEqual(s.virtualServices('web/gw', 'web'), []);
    assert.deepEqual(s.virtualServices('mesh', 'web')[0]?.object.spec.http?.[0]?.match?.[0]?.gateways, ['web/gw']);
  });

  it('resolves hosts, destinations, mirrors and gateways as Istio does before routing', () => {
    const s = snapshotFromYaml(vs('r', 'shop', `
hosts: [reviews]
gateways: [mesh, gw]
http:
- match: [{ gateways: [gw] }]
  route: [{ destination: { host: reviews } }]
  mirror: { host: shadow }
tcp:
- match: [{ gateways: [other/gw] }]
  route: [{ destination: { host: db.data.svc.cluster.local } }]
`));
    const spec = s.virtualServices('mesh', 'shop')[0]!.object.spec;
    assert.deepEqual(spec.hosts, ['reviews.shop.svc.cluster.local']);
    assert.deepEqual(spec.gateways, ['mesh', 'shop/gw']);
    assert.equal(spec.http?.[0]?.route?.[0]?.destination.host, 'reviews.shop.svc.cluster.local');
    assert.equal(spec.http?.[0]?.mirror?.host, 'shadow.shop.svc.cluster.local');
    assert.deepEqual(spec.http?.[0]?.match?.[0]?.gateways, ['shop/gw']);
    assert.deepEqual(spec.tcp?.[0]?.match?.[0]?.gateways, ['other/gw']);
    assert.equal(spec.tcp?.[0]?.route[0]?.destination.host, 'db.data.svc.cluster.local');
  });

  it('honours exportTo: public everywhere, "." in its own namespace, named namespaces', () => {
    const s = snapshotFromYaml(
      vs('public', 'a', `hosts: [p.example.com]\n${ROUTE}`) +
      vs('private', 'a', `hosts: [q.example.com]\nexportTo: ['.']\n${ROUTE}`) +
      vs('to-b', 'a', `hosts: [r.example.com]\nexportTo: [b]\n${ROUTE}`),
    );
    assert.deepEqual(s.virtualServices('mesh', 'a').map((v) => v.name), ['private', 'public']);
    assert.deepEqual(s.virtualServices('mesh', 'b').map((v) => v.name), ['to-b', 'public']);
    assert.deepEqual(s.virtualServices('mesh', 'c').map((v) => v.name), ['public']);
  });

  it('keeps input order within each visibility group: private, then exported by name, then public', () => {
    const s = snapshotFromYaml(
      vs('z-public', 'a', `hosts: [z.example.com]\n${ROUTE}`) +
      vs('y-exported', 'b', `hosts: [y.example.com]\nexportTo: [a]\n${ROUTE}`) +
      vs('x-private', 'a', `hosts: [x.example.com]\nexportTo: ['.']\n${ROUTE}`) +
      vs('a-public', 'c', `hosts: [w.example.com]\n${ROUTE}`),
    );
    assert.deepEqual(s.virtualServices('mesh', 'a').map((v) => v.name), ['x-private', 'y-exported', 'z-public', 'a-public']);
  });

  it('replaces a delegating route by the delegate routes, merged with its match, and never returns the delegate itself', () => {
    const s = snapshotFromYaml(
      vs('root', 'web', `
hosts: [shop.example.com]
gateways: [gw]
http:
- match: [{ uri: { prefix: /reviews } }]
  delegate: { name: reviews, namespace: team }
- route: [{ destination: { host: frontend } }]
`) + vs('reviews', 'team', `
http:
- match: [{ uri: { prefix: /reviews/v2 } }]
  route: [{ destination: { host: reviews, subset: v2 } }]
- route: [{ destination: { host: reviews, subset: v1 } }]
`),
    );
    const bound = s.virtualServices('web/gw', 'web');
    assert.deepEqual(bound.map((v) => v.name), ['root']);
    const http = bound[0]!.object.spec.http!;
    assert.deepEqual(http.map((r) => [r.match?.[0]?.uri, r.route?.[0]?.destination]), [
      [{ prefix: '/reviews/v2' }, { host: 'reviews.team.svc.cluster.local', subset: 'v2' }],
      [{ prefix: '/reviews' }, { host: 'reviews.team.svc.cluster.local', subset: 'v1' }],
      [undefined, { host: 'frontend.web.svc.cluster.local' }],
    ]);
    assert.equal(http.some((r) => r.delegate !== undefined), false);
    assert.deepEqual(s.virtualServices('mesh', 'team'), []);
  });

  it('looks for the delegate in the root namespace when it names none', () => {
    const s = snapshotFromYaml(
      vs('root', 'web', `hosts: [shop.example.com]\nhttp: [{ delegate: { name: d } }]`) +
      vs('d', 'web', 'http: [{ route: [{ destination: { host: d } }] }]'),
    );
    assert.equal(s.virtualServices('mesh', 'web')[0]?.object.spec.http?.[0]?.route?.[0]?.destination.host, 'd.web.svc.cluster.local');
  });

  it('drops a delegating route whose delegate is missing, has hosts, or is not exported to the root namespace', () => {
    const s = snapshotFromYaml(
      vs('root', 'web', `
hosts: [shop.example.com]
http:
- delegate: { name: missing }
- delegate: { name: not-a-delegate }
- delegate: { name: private, namespace: team }
- route: [{ destination: { host: frontend } }]
`) + vs('not-a-delegate', 'web', `hosts: [other.example.com]\n${ROUTE}`) +
      vs('private', 'team', `exportTo: ['.']\n${ROUTE}`),
    );
    const root = s.virtualServices('mesh', 'web').find((v) => v.name === 'root')!;
    assert.deepEqual(root.object.spec.http?.map((r) => r.route?.[0]?.destination.host), ['frontend.web.svc.cluster.local']);
  });

  it('delegates one level only: a delegate route that delegates again is dropped', () => {
    const s = snapshotFromYaml(
      vs('root', 'web', `hosts: [shop.example.com]\nhttp: [{ delegate: { name: d1 } }]`) +
      vs('d1', 'web', `http:\n- delegate: { name: d2 }\n- route: [{ destination: { host: one } }]`) +
      vs('d2', 'web', 'http: [{ route: [{ destination: { host: two } }] }]'),
    );
    const http = s.virtualServices('mesh', 'web')[0]!.object.spec.http!;
    assert.deepEqual(http.map((r) => r.route?.[0]?.destination.host), ['one.web.svc.cluster.local']);
  });

  it('returns the same frozen list on every call and leaves the input resources unchanged', () => {
    const s = snapshotFromYaml(vs('r', 'default', `hosts: [reviews]\n${ROUTE}`));
    const first = s.virtualServices('mesh', 'default');
    assert.equal(s.virtualServices('mesh', 'default'), first);
    assert.ok(Object.isFrozen(first));
    const input = s.resources.find((r) => r.kind === 'VirtualService')!;
    assert.deepEqual(input.kind === 'VirtualService' && input.object.spec.hosts, ['reviews']);
  });
});
