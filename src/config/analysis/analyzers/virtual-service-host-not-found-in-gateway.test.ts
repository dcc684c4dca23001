import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { builtinKinds, formatDiagnostic, parseSources } from '../../index.ts';
import { analyze } from '../index.ts';
import { virtualServiceHostNotFoundInGateway } from './virtual-service-host-not-found-in-gateway.ts';

function run(text: string): string[] {
  const parsed = parseSources([{ name: 'test.yaml', text }], { kinds: builtinKinds() });
  assert.deepEqual(parsed.diagnostics.map(formatDiagnostic), []);
  return analyze(parsed.resources, { analyzers: [virtualServiceHostNotFoundInGateway] }).map(formatDiagnostic);
}

const gateway = (hosts: string): string => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: edge}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [${hosts}]
---
`;

const virtualService = (namespace: string, host: string): string => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: ${namespace}}
spec:
  hosts: [${host}]
  gateways: [edge/public]
  http:
  - route:
    - destination: {host: shop.default.svc.cluster.local}
`;

describe('VirtualServiceHostNotFoundInGateway', () => {
  it('warns when none of the VirtualService hosts is served by the Gateway', () => {
    assert.deepEqual(run(gateway('blog.example.com') + virtualService('default', 'shop.example.com')), [
      'Warning [WFT0132] (VirtualService default/shop test.yaml:15) one or more host [shop.example.com] defined in VirtualService default/shop not found in Gateway edge/public; it serves blog.example.com.',
    ]);
  });

  it('accepts a host the Gateway serves exactly or through a wildcard', () => {
    assert.deepEqual(run(gateway('shop.example.com') + virtualService('default', 'shop.example.com')), []);
    assert.deepEqual(run(gateway('"*.example.com"') + virtualService('default', 'shop.example.com')), []);
    assert.deepEqual(run(gateway('"*"') + virtualService('default', 'shop.example.com')), []);
  });

  it('honours the namespace part of server hosts', () => {
    assert.deepEqual(run(gateway('"default/shop.example.com"') + virtualService('default', 'shop.example.com')), []);
    assert.deepEqual(run(gateway('"*/shop.example.com"') + virtualService('default', 'shop.example.com')), []);
    assert.deepEqual(run(gateway('"./shop.example.com"') + virtualService('default', 'shop.example.com')), [
      'Warning [WFT0132] (VirtualService default/shop test.yaml:15) one or more host [shop.example.com] defined in VirtualService default/shop not found in Gateway edge/public; it serves no host to this namespace.',
    ]);
  });

  it('says nothing about a Gateway that is not in the input', () => {
    assert.deepEqual(run(virtualService('default', 'shop.example.com')), []);
  });
});
