import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { builtinKinds, parseSources } from '../../config/index.ts';
import { DEFAULT_MESH_CONFIG } from '../model/index.ts';
import { buildMeshSnapshot } from './build-mesh-snapshot.ts';
import { snapshotFromYaml, testWorkload } from './test-support.ts';

function gateway(name: string, namespace: string, selector: string): string {
  return `---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: ${name}, namespace: ${namespace} }
spec:
  ${selector === '' ? '' : `selector: ${selector}`}
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ['*'] }]
`;
}

function sidecar(name: string, namespace: string, selector?: string): string {
  return `---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: ${name}, namespace: ${namespace} }
spec:
  ${selector === undefined ? '' : `workloadSelector: { labels: ${selector} }`}
  egress: [{ hosts: ['./*'] }]
`;
}

function service(name: string, namespace: string, metadata = ''): string {
  return `---
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${namespace}${metadata} }
spec: { ports: [{ name: http, port: 80 }] }
`;
}

describe('buildMeshSnapshot', () => {
  it('keeps the version, the mesh config (default when not given), resources and workloads', () => {
    const parsed = parseSources([{ name: 'a.yaml', text: service('a', 'default') }], { kinds: builtinKinds() });
    const s = buildMeshSnapshot({ version: 7, resources: parsed.resources, workloads: [testWorkload()] });
    assert.equal(s.version, 7);
    assert.equal(s.mesh, DEFAULT_MESH_CONFIG);
    assert.deepEqual(s.resources, parsed.resources);
    assert.equal(s.workloads.length, 1);
  });

  it('is frozen, and so are the lists it hands out', () => {
    const s = snapshotFromYaml(service('a', 'default'));
    assert.ok(Object.isFrozen(s));
    assert.ok(Object.isFrozen(s.services));
    assert.ok(Object.isFrozen(s.services[0]));
    assert.ok(Object.isFrozen(s.servicesVisibleTo('default')));
    assert.ok(Object.isFrozen(s.resources));
  });

  it('sorts services by hostname and finds one by hostname, in any case', () => {
    const s = snapshotFromYaml(service('b', 'default') + service('a', 'zeta') + service('a', 'alpha'));
    assert.deepEqual(s.services.map((x) => x.hostname), ['a.alpha.svc.cluster.local', 'a.zeta.svc.cluster.local', 'b.default.svc.cluster.local']);
    assert.equal(s.service('B.Default.svc.cluster.local')?.name, 'b');
    assert.equal(s.service('nope.default.svc.cluster.local'), undefined);
  });
});

describe('MeshSnapshot.servicesVisibleTo', () => {
  it('honours exportTo', () => {
    const s = snapshotFromYaml(
      service('public', 'shop') +
      service('private', 'shop', ", annotations: { networking.istio.io/exportTo: '.' }") +
      service('to-web', 'shop', ', annotations: { networking.istio.io/exportTo: web }') +
      service('hidden', 'shop', ", annotations: { networking.istio.io/exportTo: '~' }"),
    );
    const names = (ns: string): string[] => s.servicesVisibleTo(ns).map((x) => x.name);
    assert.deepEqual(names('shop'), ['private', 'public']);
    assert.deepEqual(names('web'), ['public', 'to-web']);
    assert.deepEqual(names('other'), ['public']);
  });
});

describe('MeshSnapshot.resolveHost', () => {
  it('expands a short name in the namespace given and keeps other names as written, lower-cased', () => {
    const s = snapshotFromYaml('');
    assert.equal(s.resolveHost('reviews', 'shop'), 'reviews.shop.svc.cluster.local');
    assert.equal(s.resolveHost('reviews.default', 'shop'), 'reviews.default');
    assert.equal(s.resolveHost('API.example.com', 'shop'), 'api.example.com');
    assert.equal(s.resolveHost('*', 'shop'), '*');
  });

  it('uses the mesh cluster domain for short names', () => {
    const s = snapshotFromYaml('', [], { mesh: { clusterDomain: 'corp.internal' } });
    assert.equal(s.resolveHost('reviews', 'shop'), 'reviews.shop.svc.corp.internal');
    assert.equal(s.resolveHost('reviews.shop.svc.cluster.local', 'shop'), 'reviews.shop.svc.cluster.local');
  });
});

describe('MeshSnapshot.gatewaysFor', () => {
  it('returns the Gateways of any namespace whose selector the proxy labels carry, sorted by namespace and name', () => {
    const s = snapshotFromYaml(
      gateway('b', 'web', '{ istio: ingressgateway }') +
      gateway('a', 'web', '{ istio: ingressgateway, zone: eu }') +
      gateway('z', 'apps', '{ istio: ingressgateway }') +
      gateway('egress', 'istio-system', '{ istio: egressgateway }'),
    );
    const names = (labels: Record<string, string>): string[] => s.gatewaysFor(labels).map((g) => `${g.namespace}/${g.name}`);
    assert.deepEqual(names({ istio: 'ingressgateway', app: 'x' }), ['apps/z', 'web/b']);
    assert.deepEqual(names({ istio: 'ingressgateway', zone: 'eu' }), ['apps/z', 'web/a', 'web/b']);
    assert.deepEqual(names({ istio: 'egressgateway' }), ['istio-system/egress']);
    assert.deepEqual(names({}), []);
  });

  it('lets a Gateway without selector select every gateway proxy, as Istio does', () => {
    const s = snapshotFromYaml(gateway('any', 'web', ''));
    assert.deepEqual(s.gatewaysFor({ app: 'whatever' }).map((g) => g.name), ['any']);
  });
});

describe('MeshSnapshot.sidecarFor', () => {
  const yaml =
    sidecar('ns-default', 'shop') +
    sidecar('reviews', 'shop', '{ app: reviews }') +
    sidecar('reviews-later', 'shop', '{ app: reviews, version: v1 }') +
    sidecar('mesh-default', 'istio-system') +
    sidecar('root-selected', 'istio-system', '{ app: reviews }');

  it('picks the first Sidecar of the namespace whose selector matches', () => {
    const s = snapshotFromYaml(yaml);
    assert.equal(s.sidecarFor('shop', { app: 'reviews', version: 'v1' })?.name, 'reviews');
  });

  it('falls back to the namespace Sidecar without selector, then to the root namespace one', () => {
    const s = snapshotFromYaml(yaml);
    assert.equal(s.sidecarFor('shop', { app: 'ratings' })?.name, 'ns-default');
    assert.equal(s.sidecarFor('web', { app: 'reviews' })?.name, 'mesh-default');
  });

  it('returns nothing when no Sidecar applies', () => {
    assert.equal(snapshotFromYaml(sidecar('reviews', 'shop', '{ app: reviews }')).sidecarFor('shop', { app: 'ratings' }), undefined);
  });
});
