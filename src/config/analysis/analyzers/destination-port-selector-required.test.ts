import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeYaml } from '../test-support.ts';
import { destinationPortSelectorRequired } from './destination-port-selector-required.ts';

const run = (text: string): string[] => analyzeYaml(text, destinationPortSelectorRequired);

const service = (ports: number[]): string => `
apiVersion: v1
kind: Service
metadata: {name: reviews}
spec:
  ports:
${ports.map((p) => `  - {port: ${p}, name: http-${p}}`).join('\n')}
---
`;

const route = (destination: string): string => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: ${destination}
`;

describe('DestinationPortSelectorRequired', () => {
  it('requires a port when the Service exposes several', () => {
    assert.deepEqual(run(service([9090, 9080]) + route('{host: reviews}')), [
      'Error [WFT0112] (VirtualService default/reviews test.yaml:17) This VirtualService routes to a service "reviews" that exposes multiple ports [9080 9090]. Specifying a port in the destination is required to disambiguate.',
    ]);
  });

  it('accepts a destination with a port, or a Service with one port', () => {
    assert.deepEqual(run(service([9090, 9080]) + route('{host: reviews, port: {number: 9080}}')), []);
    assert.deepEqual(run(service([9080]) + route('{host: reviews}')), []);
  });

  it('says nothing about hosts the input does not define', () => {
    assert.deepEqual(run(route('{host: ratings}')), []);
  });

  it('counts the ports of a ServiceEntry', () => {
    assert.equal(run(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api}
spec:
  hosts: [api.example.com]
  ports:
  - {number: 80, name: http, protocol: HTTP}
  - {number: 443, name: https, protocol: HTTPS}
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api}
spec:
  hosts: [api.example.com]
  http:
  - route:
    - destination: {host: api.example.com}
`).length, 1);
  });
});
