import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeYaml } from '../test-support.ts';
import { referencedHostNotFound } from './referenced-host-not-found.ts';

const run = (text: string): string[] => analyzeYaml(text, referencedHostNotFound);

const reviewsService = `
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  ports: [{port: 9080, name: http}]
`;

describe('ReferencedHostNotFound', () => {
  it('reports a route to a host that no Service or ServiceEntry defines, at the line of the host', () => {
    assert.deepEqual(run(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination:
        host: reviews
`), ['Error [WFT0101] (VirtualService default/reviews test.yaml:10) Referenced host not found: "reviews"']);
  });

  it('finds a short name among the Services of the VirtualService namespace', () => {
    assert.deepEqual(run(`${reviewsService}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
  - route:
    - destination: {host: reviews.default.svc.cluster.local}
`), []);
  });

  it('does not find a short name whose Service lives in another namespace', () => {
    assert.deepEqual(run(`${reviewsService}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  tcp:
  - route:
    - destination: {host: reviews}
`), ['Error [WFT0101] (VirtualService shop/reviews test.yaml:15) Referenced host not found: "reviews"']);
  });

  it('takes ServiceEntry hosts, wildcards included, as known', () => {
    assert.deepEqual(run(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external}
spec:
  hosts: ["*.example.com"]
  ports: [{number: 443, name: https, protocol: HTTPS}]
  resolution: NONE
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api}
spec:
  hosts: [api.example.com]
  tls:
  - match: [{sniHosts: [api.example.com]}]
    route:
    - destination: {host: api.example.com}
  - match: [{sniHosts: [api.example.org]}]
    route:
    - destination: {host: api.example.org}
`), ['Error [WFT0101] (VirtualService default/api test.yaml:21) Referenced host not found: "api.example.org"']);
  });

  it('reports mirror hosts as mirror hosts', () => {
    assert.deepEqual(run(`${reviewsService}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
    mirror: {host: reviews-shadow}
  - route:
    - destination: {host: reviews}
    mirrors:
    - destination: {host: reviews-copy}
`), [
      'Error [WFT0101] (VirtualService default/reviews test.yaml:16) Referenced mirror host not found: "reviews-shadow"',
      'Error [WFT0101] (VirtualService default/reviews test.yaml:20) Referenced mirror host not found: "reviews-copy"',
    ]);
  });

  it('reports a port the known host does not expose as host:port', () => {
    assert.deepEqual(run(`${reviewsService}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination:
        host: reviews
        port: {number: 9090}
`), ['Error [WFT0101] (VirtualService default/reviews test.yaml:17) Referenced host:port not found: "reviews:9090"']);
  });

  it('warns about a DestinationRule for an unknown host, and not about one for a known host', () => {
    assert.deepEqual(run(`${reviewsService}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings}
spec:
  host: ratings
`), ['Warning [WFT0174] (DestinationRule default/ratings test.yaml:18) The host ratings defined in the DestinationRule does not match any services in the mesh.']);
  });
});
