import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeYaml, publicGatewayYaml, shopVirtualServiceYaml } from '../test-support.ts';
import { referencedGatewayNotFound } from './referenced-gateway-not-found.ts';

const run = (text: string): string[] => analyzeYaml(text, referencedGatewayNotFound);

const TO_SHOP = '- route:\n  - destination: {host: shop}';

/** The Gateway edge/public, which with its separator fills lines 1 to 10, then the VirtualService shop, whose `gateways` stand at line 16. */
const shop = (namespace: string, gateways: string, http = TO_SHOP): string =>
  `\n${publicGatewayYaml('"*"')}---\n${shopVirtualServiceYaml(namespace, 'shop.example.com', gateways, http)}`;

describe('ReferencedGatewayNotFound', () => {
  it('reports a gateway name with no Gateway in the VirtualService namespace', () => {
    assert.deepEqual(run(shop('default', 'public')), ['Error [WFT0104] (VirtualService default/shop test.yaml:16) Referenced gateway not found: "public"']);
  });

  it('finds namespace/name references and accepts the reserved name mesh', () => {
    assert.deepEqual(run(shop('default', 'edge/public, mesh')), []);
  });

  it('checks the gateways of matches too', () => {
    assert.deepEqual(run(shop('edge', 'public, internal', `
- match:
  - gateways: [internal]
  route:
  - destination: {host: shop}
${TO_SHOP}`)), [
      'Error [WFT0104] (VirtualService edge/shop test.yaml:16) Referenced gateway not found: "internal"',
      'Error [WFT0104] (VirtualService edge/shop test.yaml:19) Referenced gateway not found: "internal"',
    ]);
  });
});
