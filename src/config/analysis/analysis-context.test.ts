import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createAnalysisContext, type AnalysisContext } from './analysis-context.ts';
import { validResources } from './test-support.ts';

function context(text: string): AnalysisContext {
  return createAnalysisContext(validResources(text));
}

const rule = (name: string, namespace: string, host: string): string => `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  host: "${host}"
`;

describe('AnalysisContext', () => {
  it('indexes Services by FQDN and ServiceEntries by their hosts, wildcards by suffix', () => {
    const ctx = context(`apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec:
  ports: [{name: http, port: 9080}, {name: grpc, port: 9090}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external}
spec:
  hosts: ["*.example.com"]
  ports: [{number: 443, name: https, protocol: HTTPS}]
  resolution: NONE
`);
    const reviews = ctx.servicesForHost('reviews.shop.svc.cluster.local');
    assert.deepEqual(reviews.map((s) => s.resource.name), ['reviews']);
    assert.deepEqual(reviews[0]?.ports.map((p) => [p.number, p.name]), [[9080, 'http'], [9090, 'grpc']]);
    assert.deepEqual(ctx.servicesForHost('api.example.com').map((s) => s.resource.name), ['external']);
    assert.deepEqual(ctx.servicesForHost('reviews.default.svc.cluster.local'), []);
  });

  it('looks DestinationRules up in the client namespace, then the host namespace, then istio-system', () => {
    const ctx = context(rule('client', 'shop', 'reviews.default.svc.cluster.local') + rule('owner', 'default', 'reviews') + rule('mesh', 'istio-system', '*.svc.cluster.local'));
    const names = (namespace: string, host = 'reviews.default.svc.cluster.local'): string[] => ctx.destinationRulesFor(host, namespace).map((dr) => dr.resource.name);
    assert.deepEqual(names('shop'), ['client']);
    assert.deepEqual(names('default'), ['owner']);
    assert.deepEqual(names('web'), ['owner']);
    assert.deepEqual(names('web', 'ratings.default.svc.cluster.local'), ['mesh']);
    assert.deepEqual(names('web', 'api.example.com'), []);
  });

  it('prefers the rule naming the host exactly, then the most specific wildcard', () => {
    const ctx = context(rule('wide', 'default', '*.com') + rule('narrow', 'default', '*.example.com') + rule('exact', 'default', 'api.example.com'));
    assert.deepEqual(ctx.destinationRulesFor('api.example.com', 'default').map((dr) => dr.resource.name), ['exact']);
    assert.deepEqual(ctx.destinationRulesFor('www.example.com', 'default').map((dr) => dr.resource.name), ['narrow']);
  });

  it('finds gateways by namespace and name', () => {
    const ctx = context(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: edge}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
`);
    assert.equal(ctx.gateway({ namespace: 'edge', name: 'public' })?.name, 'public');
    assert.equal(ctx.gateway({ namespace: 'default', name: 'public' }), undefined);
  });

  it('selects workloads of a namespace by labels, and of every namespace from istio-system', () => {
    const ctx = context(`apiVersion: v1
kind: Pod
metadata: {name: reviews-1, namespace: shop, labels: {app: reviews, version: v1}}
spec:
  containers: [{name: app, image: example/reviews}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ratings, namespace: default}
spec:
  selector: {matchLabels: {app: ratings}}
  template:
    metadata: {labels: {app: ratings}}
    spec:
      containers: [{name: app, image: example/ratings}]
`);
    assert.deepEqual(ctx.workloadsSelectedBy('shop', { app: 'reviews' }).map((w) => w.resource.name), ['reviews-1']);
    assert.deepEqual(ctx.workloadsSelectedBy('shop', { app: 'reviews', version: 'v2' }), []);
    assert.deepEqual(ctx.workloadsSelectedBy('default', { app: 'ratings' }).map((w) => w.resource.kind), ['Deployment']);
    assert.deepEqual(ctx.workloadsIn('istio-system').map((w) => w.resource.name), ['reviews-1', 'ratings']);
    assert.deepEqual(ctx.workloadsIn('web'), []);
  });
});
