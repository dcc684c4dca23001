import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseYaml, problems, resourceYaml } from '../../test-support.ts';

/** Reads one ServiceEntry whose spec is `spec` (YAML, written from column 0). */
function parseServiceEntry(spec: string) {
  return parseYaml(resourceYaml('networking.istio.io/v1', 'ServiceEntry', spec, { name: 'external', namespace: 'default' }));
}

function findings(spec: string): string[] {
  return problems(parseServiceEntry(spec));
}

describe('ServiceEntry', () => {
  describe('accepts', () => {
    it('external HTTPS APIs resolved by DNS', () => {
      const result = parseServiceEntry(`
hosts: [api.dropboxapi.com, www.googleapis.com, api.facebook.com]
location: MESH_EXTERNAL
ports:
- {number: 443, name: https, protocol: TLS}
resolution: DNS
`);
      assert.deepEqual(result.diagnostics, []);
      const se = result.resources[0]!.object as { spec: { hosts: string[]; resolution: string } };
      assert.equal(se.spec.hosts.length, 3);
      assert.equal(se.spec.resolution, 'DNS');
    });

    it('mesh-internal VMs with a CIDR of virtual IPs and static IP endpoints', () => {
      assert.deepEqual(findings(`
hosts: [mymongodb.somedomain]
addresses: [192.192.192.192/24]
ports:
- {number: 27018, name: mongodb, protocol: MONGO}
location: MESH_INTERNAL
resolution: STATIC
endpoints:
- address: 2.2.2.2
- address: 3.3.3.3
  ports: {mongodb: 27019}
  labels: {version: v2}
  weight: 2
subjectAltNames: ["spiffe://cluster.local/ns/db/sa/mongo"]
`), []);
    });

    it('wildcard hosts with resolution NONE', () => {
      assert.deepEqual(findings(`
hosts: [wikipedia.org, "*.wikipedia.org"]
ports: [{number: 443, name: https, protocol: TLS}]
resolution: NONE
`), []);
    });

    it('resolution NONE with no addresses and a plain TCP port', () => {
      assert.deepEqual(findings(`
hosts: [db.example.com]
ports: [{number: 5432, name: tcp-postgres, protocol: TCP}]
`), []);
    });

    it('a unix domain socket endpoint with resolution STATIC and one port', () => {
      assert.deepEqual(findings(`
hosts: [example.unix.local]
ports: [{number: 80, name: http, protocol: HTTP}]
resolution: STATIC
endpoints: [{address: "unix:///var/run/example/socket"}]
`), []);
    });

    it('DNS endpoints that map service ports to their own ports', () => {
      assert.deepEqual(findings(`
hosts: [foo.bar.com]
ports: [{number: 80, name: http, protocol: http, targetPort: 8080}]
resolution: DNS
endpoints:
- {address: us.foo.bar.com, ports: {http: 8080}}
- {address: uk.foo.bar.com, ports: {http: 9080}}
- {address: 10.0.0.7}
`), []);
    });

    it('a workloadSelector instead of endpoints, exported to its own namespace', () => {
      assert.deepEqual(findings(`
hosts: [details.bookinfo.com]
location: MESH_INTERNAL
ports: [{number: 80, name: http, protocol: HTTP, targetPort: 8080}]
resolution: STATIC
workloadSelector: {labels: {app: details-legacy}}
exportTo: ["."]
`), []);
    });

    it('resolution STATIC without endpoints, as Istio does', () => {
      assert.deepEqual(findings('hosts: [a.example.com]\nports: [{number: 80, name: http}]\nresolution: STATIC'), []);
    });

    it('an endpoint without address when network is set', () => {
      assert.deepEqual(findings('hosts: [a.example.com]\nresolution: STATIC\nendpoints: [{network: remote-net}]'), []);
    });

    it('DNS_ROUND_ROBIN with one endpoint', () => {
      assert.deepEqual(findings('hosts: [a.example.com]\nresolution: DNS_ROUND_ROBIN\nendpoints: [{address: lb.example.com}]'), []);
    });

    it('DYNAMIC_DNS with wildcard hosts and HTTP or TLS ports', () => {
      assert.deepEqual(findings(`
hosts: ["*.example.com", "*.example.org"]
ports: [{number: 80, name: http, protocol: HTTP}, {number: 443, name: tls, protocol: TLS}]
resolution: DYNAMIC_DNS
`), []);
    });
  });

  describe('hosts and addresses', () => {
    it('rejects an entry without hosts', () => {
      assert.deepEqual(findings('ports: [{number: 80, name: http}]'), ['spec.hosts: required field is missing']);
      assert.deepEqual(findings('hosts: []'), ['spec.hosts: must have at least 1 item, got 0']);
    });

    it('rejects the host "*" alone', () => {
      assert.deepEqual(findings('hosts: ["*"]'), ['spec.hosts[0]: the host "*" would take every host in the mesh; name the hosts, e.g. "*.example.com"']);
    });

    it('rejects a host that is an IP address or has a wildcard inside', () => {
      assert.deepEqual(findings('hosts: [10.1.2.3, "foo.*.com"]'), [
        'spec.hosts[0]: host "10.1.2.3" is not a valid DNS name (its last label is all digits)',
        `spec.hosts[1]: host "foo.*.com": a wildcard '*' is allowed only at the start of the first label (e.g. "*.example.com")`,
      ]);
    });

    it('rejects addresses that are neither IPs nor CIDR blocks', () => {
      assert.deepEqual(findings('hosts: [a.example.com]\naddresses: [10.0.0.0/33, example.com]'), [
        'spec.addresses[0]: "10.0.0.0/33": prefix length must be 0..32',
        'spec.addresses[1]: "example.com" is not an IP address or CIDR block',
      ]);
    });

    it('rejects CIDR addresses unless resolution is NONE or STATIC', () => {
      assert.deepEqual(findings('hosts: [a.example.com]\naddresses: [10.0.0.1, 10.0.0.0/16]\nresolution: DNS'), [
        'spec.addresses[1]: the CIDR block "10.0.0.0/16" is allowed only with resolution NONE or STATIC (resolution is DNS)',
      ]);
    });
  });

  describe('ports', () => {
    it('rejects duplicate port names and numbers', () => {
      assert.deepEqual(findings(`
hosts: [a.example.com]
ports:
- {number: 80, name: http, protocol: HTTP}
- {number: 80, name: http-alt, protocol: HTTP}
- {number: 8080, name: http, protocol: HTTP}
`), [
        'spec.ports[1].number: port 80 is already declared by ports[0]; port numbers must be unique',
        'spec.ports[2].name: port name "http" is already used by ports[0]; port names must be unique',
      ]);
    });

    it('rejects a port without name, with a bad name, an unknown protocol or an out-of-range number', () => {
      const result = parseServiceEntry(`
hosts: [a.example.com]
ports:
- {number: 80, protocol: HTTP}
- {number: 0, name: http_alt, protocol: HTTP1, targetPort: 70000}
`);
      assert.deepEqual(problems(result), [
        'spec.ports[0].name: required field is missing',
        'spec.ports[1].number: must be at least 1, got integer 0',
        'spec.ports[1].protocol: unsupported protocol "HTTP1" (expected one of HTTP, HTTPS, HTTP2, GRPC, GRPC-Web, HTTP_PROXY, TLS, TCP, UDP, Mongo, Redis, MySQL, in any case)',
        `spec.ports[1].name: "http_alt" is not a valid port name (at most 63 letters, digits and '-', starting and ending with a letter or digit)`,
        'spec.ports[1].targetPort: must be at most 65535, got integer 70000',
      ]);
      assert.equal(result.diagnostics[2]!.origin?.line, 10);
    });

    it('rejects a misspelt port field and suggests the one meant', () => {
      assert.deepEqual(findings('hosts: [a.example.com]\nports: [{number: 80, name: http, protocl: HTTP}]'), [
        'spec.ports[0].protocl: unknown field "protocl" (did you mean "protocol"?)',
      ]);
    });

    it('rejects several hosts on a TCP port unless resolution is NONE', () => {
      const spec = 'hosts: [a.example.com, b.example.com]\nports: [{number: 9000, name: tcp, protocol: TCP}, {number: 80, name: http, protocol: HTTP}]';
      assert.deepEqual(findings(`${spec}\nresolution: NONE`), []);
      assert.deepEqual(findings(`${spec}\nresolution: DNS`), [
        'spec.ports[0].protocol: a ServiceEntry with several hosts and resolution DNS needs HTTP or TLS ports, which name their host; port "tcp" is TCP',
      ]);
    });
  });

  describe('endpoints and resolution', () => {
    it('rejects endpoints together with a workloadSelector', () => {
      assert.deepEqual(findings(`
hosts: [a.example.com]
resolution: STATIC
endpoints: [{address: 1.1.1.1}]
workloadSelector: {labels: {app: a}}
`), ['spec.workloadSelector: only one of endpoints or workloadSelector may be set']);
    });

    it('rejects endpoints with resolution NONE', () => {
      assert.deepEqual(findings('hosts: [a.example.com]\nendpoints: [{address: 1.1.1.1}]'), [
        'spec.endpoints: endpoints cannot be set with resolution NONE, which sends traffic to the address the client asked for; use STATIC or DNS',
      ]);
    });

    it('rejects host-name endpoints with resolution STATIC', () => {
      assert.deepEqual(findings('hosts: [a.example.com]\nresolution: STATIC\nendpoints: [{address: 1.1.1.1}, {address: vm.example.com}]'), [
        'spec.endpoints[1].address: with resolution STATIC an endpoint address must be an IP address or a unix:// socket path, got "vm.example.com" (use resolution DNS for host names)',
      ]);
    });

    it('rejects a unix socket endpoint unless the entry has exactly one port, and never with ports of its own', () => {
      assert.deepEqual(findings(`
hosts: [uds.example.local]
ports: [{number: 6553, name: grpc, protocol: GRPC}, {number: 80, name: http, protocol: HTTP}]
resolution: STATIC
endpoints: [{address: "unix:///path/to/socket", ports: {grpc: 6553}}]
`), [
        'spec.endpoints[0].ports: a unix:// address takes no ports; remove "ports"',
        'spec.endpoints[0].address: a unix:// endpoint needs the ServiceEntry to declare exactly one port, got 2',
      ]);
    });

    it('rejects wildcard hosts with resolution DNS and no endpoints, since the hosts themselves are resolved', () => {
      assert.deepEqual(findings('hosts: [a.example.com, "*.example.com"]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: DNS'), [
        'spec.hosts[1]: host "*.example.com": with resolution DNS and no endpoints the proxy resolves the hosts themselves, so they cannot be wildcards',
      ]);
      assert.deepEqual(findings('hosts: ["*.example.com"]\nresolution: DNS\nendpoints: [{address: lb.example.com}]'), []);
    });

    it('rejects unix socket and empty endpoint addresses with resolution DNS', () => {
      assert.deepEqual(findings('hosts: [a.example.com]\nresolution: DNS\nendpoints: [{address: "unix:///var/run/a.sock"}, {network: n1}]'), [
        'spec.endpoints[0].address: with resolution DNS an endpoint cannot be a unix:// socket (use resolution STATIC)',
        'spec.endpoints[1].address: with resolution DNS every endpoint needs an address (an IP address or a DNS name)',
      ]);
    });

    it('rejects more than one endpoint with resolution DNS_ROUND_ROBIN', () => {
      assert.deepEqual(findings('hosts: [a.example.com]\nresolution: DNS_ROUND_ROBIN\nendpoints: [{address: a1.example.com}, {address: a2.example.com}]'), [
        'spec.endpoints: resolution DNS_ROUND_ROBIN allows at most one endpoint, got 2',
      ]);
    });

    it('rejects endpoint ports that name no port of the entry', () => {
      assert.deepEqual(findings(`
hosts: [a.example.com]
ports: [{number: 80, name: http, protocol: HTTP}, {number: 443, name: https, protocol: HTTPS}]
resolution: DNS
endpoints: [{address: a.example.com, ports: {http: 8080, grpc: 9090}}]
`), [`spec.endpoints[0].ports.grpc: "grpc" is not the name of one of the ServiceEntry's ports: http, https`]);
    });

    it('checks each endpoint as a WorkloadEntry', () => {
      assert.deepEqual(findings('hosts: [a.example.com]\nresolution: STATIC\nendpoints: [{}, {address: "1.1.1.1", weigth: 2}]'), [
        'spec.endpoints[0].address: address is required (it may be left out only when network is set)',
        'spec.endpoints[1].weigth: unknown field "weigth" (did you mean "weight"?)',
      ]);
    });

    it('rejects DYNAMIC_DNS with exact hosts, addresses, endpoints or non-HTTP, non-TLS ports', () => {
      assert.deepEqual(findings(`
hosts: [a.example.com]
addresses: [10.0.0.1]
ports: [{number: 5432, name: tcp, protocol: TCP}, {number: 80, name: http}]
resolution: DYNAMIC_DNS
endpoints: [{address: 1.1.1.1}]
`), [
        'spec.hosts[0]: host "a.example.com": resolution DYNAMIC_DNS needs wildcard hosts (e.g. "*.example.com")',
        'spec.addresses: addresses cannot be set with resolution DYNAMIC_DNS, which routes by the hosts alone',
        'spec.endpoints: endpoints cannot be set with resolution DYNAMIC_DNS, which resolves the host each request names',
        'spec.ports[0].protocol: resolution DYNAMIC_DNS supports only HTTP, HTTP2, GRPC, TLS ports; port "tcp" is TCP',
        'spec.ports[1].protocol: resolution DYNAMIC_DNS supports only HTTP, HTTP2, GRPC, TLS ports; port "http" declares no protocol',
      ]);
    });

    it('rejects an unknown resolution or location and suggests the one meant', () => {
      assert.deepEqual(findings('hosts: [a.example.com]\nresolution: DNS_ROUNDROBIN\nlocation: MESH_INTERNEL'), [
        'spec.location: must be one of MESH_EXTERNAL, MESH_INTERNAL, got string "MESH_INTERNEL" (did you mean "MESH_INTERNAL"?)',
        'spec.resolution: must be one of NONE, STATIC, DNS, DNS_ROUND_ROBIN, DYNAMIC_DNS, got string "DNS_ROUNDROBIN" (did you mean "DNS_ROUND_ROBIN"?)',
      ]);
    });
  });

  describe('selector and visibility', () => {
    it('rejects a workloadSelector written as matchLabels, with a suggestion', () => {
      assert.deepEqual(findings('hosts: [a.example.com]\nworkloadSelector: {matchLabels: {app: a}}'), [
        'spec.workloadSelector.matchLabels: unknown field "matchLabels"; expected one of: labels',
      ]);
    });

    it('rejects a wildcard in a selector label', () => {
      assert.equal(findings('hosts: [a.example.com]\nworkloadSelector: {labels: {app: "*"}}').length, 1);
    });

    it('rejects exportTo entries that are not namespaces or "." "*" "~"', () => {
      assert.deepEqual(findings('hosts: [a.example.com]\nexportTo: [Bad_NS]'), ['spec.exportTo[0]: "Bad_NS" is not ".", "*" or a namespace name']);
    });

    it('rejects subjectAltNames that are not a list', () => {
      assert.deepEqual(findings('hosts: [a.example.com]\nsubjectAltNames: spiffe://cluster.local/ns/a/sa/b'), [
        'spec.subjectAltNames: expected a list, got string "spiffe://cluster.local/ns/a/sa/b"',
      ]);
    });
  });
});
