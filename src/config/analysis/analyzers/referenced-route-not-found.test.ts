import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeYaml } from '../test-support.ts';
import { referencedRouteNotFound } from './referenced-route-not-found.ts';

const run = (text: string): string[] => analyzeYaml(text, referencedRouteNotFound);

/** The VirtualService default/bookinfo, lines 1 to 13, with the http routes reviews-v2, a route without name, and one delegating to default/details. */
const BOOKINFO = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bookinfo, namespace: default}
spec:
  hosts: ["*"]
  gateways: [bookinfo-gateway]
  http:
  - name: reviews-v2
    route: [{destination: {host: reviews}}]
  - name: details
    match: [{uri: {prefix: /details}}]
    delegate: {name: details}
  - route: [{destination: {host: productpage}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: details, namespace: default}
spec:
  http:
  - name: v1
    route: [{destination: {host: details}}]
  - route: [{destination: {host: details}}]
---
`;

/** A LocalRateLimit of `namespace` whose first route limit (at line 6 after the VirtualServices) names `virtualService` and `route`. */
const limit = (namespace: string, virtualService: string, route: string): string => `apiVersion: policy.weft.dev/v1alpha1
kind: LocalRateLimit
metadata: {name: limits, namespace: ${namespace}}
spec:
  routes:
  - virtualService: ${virtualService}
    route: ${route}
    tokenBucket: {maxTokens: 10, tokensPerFill: 10, fillInterval: 1s}
`;

describe('ReferencedRouteNotFound', () => {
  it('accepts a named http route of a VirtualService, by name or namespace/name', () => {
    assert.deepEqual(run(BOOKINFO + limit('default', 'bookinfo', 'reviews-v2')), []);
    assert.deepEqual(run(BOOKINFO + limit('istio-system', 'default/bookinfo', 'reviews-v2')), []);
  });

  it('warns about a VirtualService the input does not have, looked up in the namespace of the LocalRateLimit', () => {
    assert.deepEqual(run(BOOKINFO + limit('istio-system', 'bookinfo', 'reviews-v2')), [
      'Warning [WFT0201] (LocalRateLimit istio-system/limits test.yaml:29) Referenced VirtualService not found: "istio-system/bookinfo", so the limit of route "reviews-v2" applies to nothing',
    ]);
  });

  it('warns about a route name the VirtualService does not have, listing those it has', () => {
    assert.deepEqual(run(BOOKINFO + limit('default', 'bookinfo', 'reviews-v3')), [
      'Warning [WFT0201] (LocalRateLimit default/limits test.yaml:30) VirtualService default/bookinfo has no http route named "reviews-v3" (its http routes are named "reviews-v2", "details-v1", "details"), so the limit applies to nothing',
    ]);
    assert.deepEqual(run(BOOKINFO + limit('default', 'details', 'v2')), [
      'Warning [WFT0201] (LocalRateLimit default/limits test.yaml:30) VirtualService default/details has no http route named "v2" (its http routes are named "v1"), so the limit applies to nothing',
    ]);
  });

  it('names a delegated route as the merged route is named: <route>-<delegate route>', () => {
    assert.deepEqual(run(BOOKINFO + limit('default', 'bookinfo', 'details-v1')), []);
    assert.deepEqual(run(BOOKINFO + limit('default', 'bookinfo', 'details')), []);
  });

  it('says when a VirtualService names none of its routes', () => {
    assert.deepEqual(run(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews}}]}]
---
${limit('default', 'reviews', 'default')}`), [
      'Warning [WFT0201] (LocalRateLimit default/limits test.yaml:14) VirtualService default/reviews has no http route named "default" (none of its http routes has a name), so the limit applies to nothing',
    ]);
  });
});
