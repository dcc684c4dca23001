import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeYaml } from '../test-support.ts';
import { portNameNotUnderNamingConvention } from './port-name-not-under-naming-convention.ts';

function run(ports: string, namespace = 'default'): string[] {
  const text = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: ${namespace}}
spec:
  ports:
${ports}`;
  return analyzeYaml(text, portNameNotUnderNamingConvention);
}

describe('PortNameNotUnderNamingConvention', () => {
  it('reports a port name without a protocol prefix, at the port', () => {
    assert.deepEqual(run('  - {name: http, port: 80}\n  - {name: web, port: 8080, targetPort: 9090}\n'), [
      "Info [WFT0118] (Service default/web test.yaml:7) Port name web (port: 8080, targetPort: 9090) doesn't follow the naming convention of Istio port.",
    ]);
  });

  it('reports an unnamed port', () => {
    assert.deepEqual(run('  - {port: 80}\n'), [
      "Info [WFT0118] (Service default/web test.yaml:6) Port name (unnamed) (port: 80, targetPort: 80) doesn't follow the naming convention of Istio port.",
    ]);
  });

  it('accepts every known protocol alone or followed by a dash', () => {
    const names = ['http', 'http2', 'https', 'grpc', 'grpc-web', 'mongo', 'mysql', 'redis', 'tcp', 'tls', 'udp', 'http-api', 'grpc-web-ui', 'tcp-db'];
    assert.deepEqual(run(names.map((name, i) => `  - {name: ${name}, port: ${8000 + i}}\n`).join('')), []);
  });

  it('does not take a prefix without a dash as a protocol', () => {
    assert.equal(run('  - {name: httpx, port: 80}\n').length, 1);
  });

  it('accepts a port with appProtocol, a UDP port, and the control plane Services', () => {
    assert.deepEqual(run('  - {name: web, port: 80, appProtocol: http}\n'), []);
    assert.deepEqual(run('  - {name: dns, port: 53, protocol: UDP}\n'), []);
    assert.deepEqual(run('  - {name: web, port: 80}\n', 'istio-system'), []);
  });
});
