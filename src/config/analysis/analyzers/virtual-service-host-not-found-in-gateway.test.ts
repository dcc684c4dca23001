import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeYaml, publicGatewayYaml, shopVirtualServiceYaml } from '../test-support.ts';
import { virtualServiceHostNotFoundInGateway } from './virtual-service-host-not-found-in-gateway.ts';

const run = (text: string): string[] => analyzeYaml(text, virtualServiceHostNotFoundInGateway);

const gateway = (hosts: string): string => `${publicGatewayYaml(hosts)}---\n`;

const virtualService = (namespace: string, host: string): string =>
  shopVirtualServiceYaml(namespace, host, 'edge/public', '- route:\n  - destination: {host: shop.default.svc.cluster.local}');

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
