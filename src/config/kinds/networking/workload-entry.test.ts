import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertValid, parseYaml, problems, resourceYaml } from '../../test-support.ts';

/** Reads one WorkloadEntry whose spec is `spec` (YAML, written from column 0). */
function parseWorkloadEntry(spec: string) {
  return parseYaml(resourceYaml('networking.istio.io/v1', 'WorkloadEntry', spec, { name: 'vm-1', namespace: 'default' }));
}

function findings(spec: string): string[] {
  return problems(parseWorkloadEntry(spec));
}

describe('WorkloadEntry', () => {
  it('accepts a VM with an IP address, ports, labels, network, locality, weight and service account', () => {
    const result = parseWorkloadEntry(`
address: 2.2.2.2
ports:
  http: 8080
  grpc-web: 9090
labels:
  app: details
  instance-id: vm1
network: vpc-1
locality: us-east1/us-east1-b/rack-11
weight: 3
serviceAccount: details-legacy
`);
    assertValid(result);
    const entry = result.resources[0]!.object as { spec: { ports: Record<string, number>; weight: number } };
    assert.deepEqual(entry.spec.ports, { http: 8080, 'grpc-web': 9090 });
    assert.equal(entry.spec.weight, 3);
  });

  it('accepts a fully qualified DNS name, an IPv6 address and unix sockets as the address', () => {
    assert.deepEqual(findings('address: vm1.vpc01.corp.net'), []);
    assert.deepEqual(findings('address: "2001:db8::1"'), []);
    assert.deepEqual(findings('address: unix:///var/run/app.sock'), []);
    assert.deepEqual(findings('address: unix://@abstract-name'), []);
  });

  it('accepts an entry without address when network names the remote network', () => {
    assert.deepEqual(findings('network: cluster-2-network\nlabels: {app: foo}'), []);
  });

  it('rejects an entry with neither address nor network', () => {
    const result = parseWorkloadEntry('serviceAccount: foo');
    assert.deepEqual(findings('serviceAccount: foo'), ['spec.address: address is required (it may be left out only when network is set)']);
    assert.equal(result.resources.length, 0);
  });

  it('rejects an entry with no spec at all', () => {
    const text = 'apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata:\n  name: vm-1\n';
    const { diagnostics } = parseYaml(text);
    assert.deepEqual(diagnostics.map((d) => d.message), ['address is required (it may be left out only when network is set)']);
  });

  it('rejects ports on a unix socket address', () => {
    assert.deepEqual(findings('address: unix:///var/run/app.sock\nports: {http: 8080}'), ['spec.ports: a unix:// address takes no ports; remove "ports"']);
  });

  it('rejects a unix socket that is a relative path or a directory', () => {
    assert.deepEqual(findings('address: unix://./relative/path.sock'), [
      'spec.address: "unix://./relative/path.sock" is not an absolute path to a socket file (expected unix:///absolute/path or unix://@abstract-name)',
    ]);
    assert.equal(findings('address: unix:///var/run/').length, 1);
    assert.deepEqual(findings('address: "unix://"'), ['spec.address: "unix://" names no socket (expected unix:///absolute/path or unix://@abstract-name)']);
  });

  it('rejects an address that carries a port, pointing at the ports map', () => {
    const result = parseWorkloadEntry('address: invaliddns.com:9443');
    assert.deepEqual(problems(result), [
      'spec.address: address "invaliddns.com:9443" must not include a port (map service port names to endpoint ports in "ports")',
    ]);
    assert.equal(result.diagnostics[0]!.origin?.line, 7);
    assert.equal(result.diagnostics[0]!.origin?.column, 12);
  });

  it('rejects a wildcard or malformed host name as the address', () => {
    assert.deepEqual(findings('address: "*.corp.net"'), ['spec.address: address "*.corp.net" is not an IP address, a DNS name or a unix:// socket path']);
    assert.deepEqual(findings('address: vm_1.corp.net'), ['spec.address: address "vm_1.corp.net" is not an IP address, a DNS name or a unix:// socket path']);
  });

  it('rejects a port map with a bad port name or a port out of range', () => {
    assert.deepEqual(findings('address: 1.1.1.1\nports: {http_web: 8080, grpc: 0, tcp: 65536}'), [
      'spec.ports.grpc: must be at least 1, got integer 0',
      'spec.ports.tcp: must be at most 65535, got integer 65536',
      `spec.ports.http_web: "http_web" is not a valid port name (at most 63 letters, digits and '-', starting and ending with a letter or digit)`,
    ]);
  });

  it('rejects a weight that is negative or not a number', () => {
    assert.deepEqual(findings('address: 1.1.1.1\nweight: -1'), ['spec.weight: must be at least 0, got integer -1']);
    assert.deepEqual(findings('address: 1.1.1.1\nweight: "10"'), ['spec.weight: expected a number, got string "10"']);
  });

  it('rejects labels that are not strings or not valid label values', () => {
    assert.deepEqual(findings('address: 1.1.1.1\nlabels: {version: 2}'), ['spec.labels.version: expected a string, got integer 2']);
    assert.equal(findings('address: 1.1.1.1\nlabels: {app: "a b"}').length, 1);
  });

  it('rejects an unknown field and suggests the one meant', () => {
    assert.deepEqual(findings('address: 1.1.1.1\nserviceAcount: details'), ['spec.serviceAcount: unknown field "serviceAcount" (did you mean "serviceAccount"?)']);
  });
});
