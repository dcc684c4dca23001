import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { builtinKinds, formatDiagnostic, parseSources } from '../../index.ts';
import { analyze } from '../index.ts';
import { referencedGatewayNotFound } from './referenced-gateway-not-found.ts';

function run(text: string): string[] {
  const parsed = parseSources([{ name: 'test.yaml', text }], { kinds: builtinKinds() });
  assert.deepEqual(parsed.diagnostics.map(formatDiagnostic), []);
  return analyze(parsed.resources, { analyzers: [referencedGatewayNotFound] }).map(formatDiagnostic);
}

const gateway = `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: edge}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
`;

describe('ReferencedGatewayNotFound', () => {
  it('reports a gateway name with no Gateway in the VirtualService namespace', () => {
    assert.deepEqual(run(`${gateway}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: default}
spec:
  hosts: [shop.example.com]
  gateways: [public]
  http:
  - route:
    - destination: {host: shop}
`), ['Error [WFT0104] (VirtualService default/shop test.yaml:16) Referenced gateway not found: "public"']);
  });

  it('finds namespace/name references and accepts the reserved name mesh', () => {
    assert.deepEqual(run(`${gateway}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: default}
spec:
  hosts: [shop.example.com]
  gateways: [edge/public, mesh]
  http:
  - route:
    - destination: {host: shop}
`), []);
  });

  it('checks the gateways of matches too', () => {
    assert.deepEqual(run(`${gateway}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: edge}
spec:
  hosts: [shop.example.com]
  gateways: [public, internal]
  http:
  - match:
    - gateways: [internal]
    route:
    - destination: {host: shop}
  - route:
    - destination: {host: shop}
`), [
      'Error [WFT0104] (VirtualService edge/shop test.yaml:16) Referenced gateway not found: "internal"',
      'Error [WFT0104] (VirtualService edge/shop test.yaml:19) Referenced gateway not found: "internal"',
    ]);
  });
});
