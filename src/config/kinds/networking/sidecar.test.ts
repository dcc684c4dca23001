import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseYaml, problems, resourceYaml } from '../../test-support.ts';

/** Reads one Sidecar whose spec is `spec` (YAML, written from column 0). */
function parseSidecar(spec: string) {
  return parseYaml(resourceYaml('networking.istio.io/v1', 'Sidecar', spec, { name: 'default', namespace: 'prod-us1' }));
}

function findings(spec: string): string[] {
  return problems(parseSidecar(spec));
}

describe('Sidecar', () => {
  describe('accepts', () => {
    it('a namespace default that imports hosts from a few namespaces', () => {
      const result = parseSidecar('egress:\n- hosts: ["./*", "prod-apis/*", "istio-system/*"]');
      assert.deepEqual(result.diagnostics, []);
      const sidecar = result.resources[0]!.object as { spec: { egress: { hosts: string[] }[] } };
      assert.deepEqual(sidecar.spec.egress[0]!.hosts, ['./*', 'prod-apis/*', 'istio-system/*']);
    });

    it('an ingress listener to a unix socket and egress listeners on a port and a catch-all', () => {
      assert.deepEqual(findings(`
workloadSelector:
  labels: {app: productpage}
ingress:
- port: {number: 9080, protocol: HTTP, name: somename}
  defaultEndpoint: unix:///var/run/someuds.sock
- port: {number: 9443, protocol: HTTPS, name: https}
  bind: 0.0.0.0
  captureMode: IPTABLES
  defaultEndpoint: 127.0.0.1:8443
  tls: {mode: SIMPLE, serverCertificate: /etc/certs/cert.pem, privateKey: /etc/certs/key.pem}
  connectionPool: {tcp: {maxConnections: 100}}
egress:
- port: {number: 9080, protocol: HTTP, name: egresshttp}
  hosts: ["prod-us1/*"]
- hosts: ["istio-system/*"]
inboundConnectionPool: {http: {http1MaxPendingRequests: 10}}
`), []);
    });

    it('every defaultEndpoint form Istio knows', () => {
      for (const endpoint of ['127.0.0.1:8080', '0.0.0.0:8080', '"[::1]:8080"', '"[::]:8080"', '":8080"', 'unix:///var/run/app.sock', 'unix://@app']) {
        assert.deepEqual(findings(`ingress:\n- port: {number: 80, protocol: HTTP}\n  defaultEndpoint: ${endpoint}`), [], endpoint);
      }
    });

    it('an egress listener on a unix socket (port 0)', () => {
      assert.deepEqual(findings(`
egress:
- port: {number: 0, protocol: HTTP, name: uds}
  bind: unix:///var/run/egress.sock
  captureMode: NONE
  hosts: ["ns1/bar.example.com"]
`), []);
    });

    it('hosts that exclude namespaces or hosts with "~"', () => {
      assert.deepEqual(findings('egress:\n- hosts: ["*/*", "~ns1/*", "~/foo.example.com"]'), []);
      assert.deepEqual(findings('egress:\n- hosts: ["~/*"]'), []);
    });

    it('only an outbound traffic policy, with an egress proxy under ALLOW_ANY', () => {
      assert.deepEqual(findings('outboundTrafficPolicy: {mode: REGISTRY_ONLY}'), []);
      assert.deepEqual(findings('outboundTrafficPolicy:\n  mode: ALLOW_ANY\n  egressProxy: {host: egress.example.com, port: {number: 3128}}'), []);
    });

    it('an ingress listener without defaultEndpoint', () => {
      assert.deepEqual(findings('ingress:\n- port: {number: 90, protocol: HTTP, name: foo}'), []);
    });
  });

  describe('rejects', () => {
    it('an empty Sidecar', () => {
      assert.deepEqual(findings('{}'), ['spec: a Sidecar must set at least one of egress, ingress, outboundTrafficPolicy or inboundConnectionPool']);
      assert.deepEqual(findings('egress: []'), ['spec: a Sidecar must set at least one of egress, ingress, outboundTrafficPolicy or inboundConnectionPool']);
    });

    it('a workloadSelector written with matchLabels', () => {
      assert.deepEqual(findings('workloadSelector: {matchLabels: {app: a}}\negress:\n- hosts: ["./*"]'), [
        'spec.workloadSelector.matchLabels: unknown field "matchLabels"; expected one of: labels',
      ]);
    });

    it('an egress listener without hosts', () => {
      assert.deepEqual(findings('egress:\n- port: {number: 80, protocol: HTTP}'), ['spec.egress[0].hosts: required field is missing']);
      assert.deepEqual(findings('egress:\n- hosts: []'), ['spec.egress[0].hosts: must have at least 1 item, got 0']);
    });

    it('egress hosts that are not namespace/dnsName', () => {
      const result = parseSidecar('egress:\n- hosts: ["*", "/", "Invalid_NS/*", "ns1/reviews", "ns1/*foo.example.com", "ns1/a.b.1"]');
      assert.deepEqual(problems(result), [
        'spec.egress[0].hosts[0]: "*" must be of the form namespace/dnsName (e.g. "./*", "istio-system/*", "*/api.example.com")',
        'spec.egress[0].hosts[1]: "/": neither the namespace nor the dnsName may be empty',
        'spec.egress[0].hosts[2]: "Invalid_NS/*": namespace "Invalid_NS" must be "*", ".", "~" or a namespace name (optionally prefixed by "~" to exclude it)',
        'spec.egress[0].hosts[3]: "ns1/reviews": "reviews" is a short name; write the fully qualified name (e.g. "reviews.<namespace>.svc.cluster.local")',
        'spec.egress[0].hosts[4]: "ns1/*foo.example.com": a wildcard must be a whole first label (e.g. "*.example.com"), not "*foo.example.com"',
        'spec.egress[0].hosts[5]: "ns1/a.b.1": host "a.b.1" is not a valid DNS name (its last label is all digits)',
      ]);
      assert.equal(result.diagnostics[3]!.origin?.line, 8);
    });

    it('a port-less egress listener that is not the last one', () => {
      assert.deepEqual(findings('egress:\n- hosts: ["*/foo.example.com"]\n- hosts: ["ns1/bar.example.com"]'), [
        'spec.egress[0]: only the last egress listener may leave out port (it takes the hosts of every port no other listener names)',
      ]);
      assert.deepEqual(findings('egress:\n- hosts: ["*/foo.example.com"]\n- port: {number: 80, protocol: HTTP}\n  hosts: ["ns1/bar.example.com"]'), [
        'spec.egress[0]: only the last egress listener may leave out port (it takes the hosts of every port no other listener names)',
      ]);
    });

    it('two egress listeners on the same port or the same unix socket', () => {
      assert.deepEqual(findings(`
egress:
- port: {number: 90, protocol: HTTP, name: foo}
  hosts: ["ns1/bar.example.com"]
- port: {number: 90, protocol: TCP, name: tcp}
  hosts: ["ns2/bar.example.com"]
- port: {number: 0, protocol: HTTP}
  bind: unix://@foo
  hosts: ["ns1/bar.example.com"]
- port: {number: 0, protocol: HTTP}
  bind: unix://@foo
  hosts: ["ns2/bar.example.com"]
`), [
        'spec.egress[1].port.number: port 90 is already used by egress[0]; egress ports must be unique',
        'spec.egress[3].bind: unix socket unix://@foo is already bound by egress[2]; each socket may be bound once',
      ]);
    });

    it('a unix socket egress listener with an IP bind or iptables capture', () => {
      assert.deepEqual(findings('egress:\n- port: {number: 0, protocol: HTTP}\n  bind: 127.0.0.1\n  hosts: ["./*"]'), [
        'spec.egress[0].bind: port number 0 stands for a unix domain socket, so bind must be unix:///path or unix://@name',
      ]);
      assert.deepEqual(findings('egress:\n- port: {number: 0, protocol: HTTP}\n  bind: unix:///a.sock\n  captureMode: IPTABLES\n  hosts: ["./*"]'), [
        'spec.egress[0].captureMode: a unix domain socket listener cannot be captured by iptables; use DEFAULT or NONE',
      ]);
    });

    it('a bind that is not an IP on a numbered port', () => {
      assert.deepEqual(findings('egress:\n- port: {number: 80, protocol: HTTP}\n  bind: foobar\n  hosts: ["./*"]'), ['spec.egress[0].bind: bind "foobar" is not an IP address']);
    });

    it('a bad port: unknown protocol, bad name, out of range, or the meaningless targetPort', () => {
      assert.deepEqual(findings('egress:\n- port: {number: 1000000, protocol: http1, name: "a b", targetPort: 8080}\n  hosts: ["ns1/bar.example.com"]'), [
        'spec.egress[0].port.number: must be at most 65535, got integer 1000000',
        'spec.egress[0].port.protocol: unsupported protocol "http1" (expected one of HTTP, HTTPS, HTTP2, GRPC, GRPC-Web, HTTP_PROXY, TLS, TCP, UDP, Mongo, Redis, MySQL, in any case)',
        `spec.egress[0].port.name: "a b" is not a valid port name (at most 63 letters, digits and '-', starting and ending with a letter or digit)`,
        'spec.egress[0].port.targetPort: targetPort has no effect on a Sidecar; remove it',
      ]);
    });

    it('an unknown capture mode, with a suggestion', () => {
      assert.deepEqual(findings('egress:\n- captureMode: IPTABLE\n  hosts: ["./*"]'), [
        'spec.egress[0].captureMode: must be one of DEFAULT, IPTABLES, NONE, got string "IPTABLE" (did you mean "IPTABLES"?)',
      ]);
    });
  });

  describe('rejects in ingress', () => {
    it('a listener without port, or on port 0 or a unix socket bind', () => {
      assert.deepEqual(findings('ingress:\n- defaultEndpoint: 127.0.0.1:110'), ['spec.ingress[0].port: required field is missing']);
      assert.deepEqual(findings('ingress:\n- port: {number: 0, protocol: HTTP}\n  bind: unix:///@foo/bar\n  defaultEndpoint: 127.0.0.1:9999'), [
        'spec.ingress[0].port.number: an ingress listener needs a port number 1..65535',
        'spec.ingress[0].bind: bind "unix:///@foo/bar" is not an IP address',
      ]);
    });

    it('two listeners on the same port', () => {
      assert.deepEqual(findings('ingress:\n- port: {number: 90, protocol: HTTP}\n- port: {number: 90, protocol: TCP}'), [
        'spec.ingress[1].port.number: port 90 is already used by ingress[0]; ingress ports must be unique',
      ]);
    });

    it('a defaultEndpoint that is not a loopback or any-address port or a unix socket', () => {
      const endpoint = (value: string) => findings(`ingress:\n- port: {number: 90, protocol: HTTP}\n  defaultEndpoint: "${value}"`);
      assert.deepEqual(endpoint('1.1.1.1:90'), [
        'spec.ingress[0].defaultEndpoint: defaultEndpoint must be 127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port> or unix:///path, got "1.1.1.1:90"',
      ]);
      assert.equal(endpoint('[1:1:1:1:1:1:1:1]:90').length, 1);
      assert.equal(endpoint('127.0.0.1').length, 1);
      assert.deepEqual(endpoint('127.0.0.1:hi'), ['spec.ingress[0].defaultEndpoint: defaultEndpoint "127.0.0.1:hi": port must be a number 1..65535']);
      assert.deepEqual(endpoint('[::1]:0'), ['spec.ingress[0].defaultEndpoint: defaultEndpoint "[::1]:0": port must be a number 1..65535']);
      assert.deepEqual(endpoint('unix:///'), [
        'spec.ingress[0].defaultEndpoint: "unix:///" is not an absolute path to a socket file (expected unix:///absolute/path or unix://@abstract-name)',
      ]);
    });

    it('tls on a port that is not HTTPS or TLS', () => {
      assert.deepEqual(findings('ingress:\n- port: {number: 80, protocol: HTTP}\n  tls: {mode: SIMPLE, serverCertificate: /c.pem, privateKey: /k.pem}'), [
        'spec.ingress[0].tls: tls needs an HTTPS or TLS port, but port 80 has protocol HTTP',
      ]);
    });

    it('tls modes and fields a sidecar cannot serve', () => {
      assert.deepEqual(findings(`
ingress:
- port: {number: 443, protocol: HTTPS}
  tls: {mode: SIMPLE, serverCertificate: /c.pem, privateKey: /k.pem, subjectAltNames: [a.example.com], httpsRedirect: true}
- port: {number: 8443, protocol: TLS}
  tls: {mode: AUTO_PASSTHROUGH}
`), [
        'spec.ingress[0].tls.subjectAltNames: subjectAltNames is not supported in the tls of a Sidecar ingress listener',
        'spec.ingress[0].tls.httpsRedirect: httpsRedirect is not supported in the tls of a Sidecar ingress listener',
        'spec.ingress[1].tls.mode: mode AUTO_PASSTHROUGH cannot be used in the tls of a Sidecar ingress listener (expected SIMPLE, MUTUAL or OPTIONAL_MUTUAL)',
      ]);
      assert.ok(findings('ingress:\n- port: {number: 443, protocol: HTTPS}\n  tls: {mode: SIMPLE, credentialName: my-cert}').includes(
        'spec.ingress[0].tls.credentialName: credentialName is not supported in the tls of a Sidecar ingress listener',
      ));
    });

    it('a connection pool that sets neither tcp nor http', () => {
      assert.deepEqual(findings('ingress:\n- port: {number: 80, protocol: HTTP}\n  connectionPool: {}'), ['spec.ingress[0].connectionPool: a connection pool must set tcp or http']);
    });
  });

  describe('rejects in outboundTrafficPolicy', () => {
    it('an egress proxy without ALLOW_ANY', () => {
      assert.deepEqual(findings('outboundTrafficPolicy:\n  egressProxy: {host: egress.example.com, port: {number: 3128}}'), [
        'spec.outboundTrafficPolicy.egressProxy: egressProxy may be set only with mode ALLOW_ANY (mode is REGISTRY_ONLY, the default)',
      ]);
    });

    it('an egress proxy without port or with a wildcard host', () => {
      assert.deepEqual(findings('outboundTrafficPolicy:\n  mode: ALLOW_ANY\n  egressProxy: {host: "*.example.com"}'), [
        'spec.outboundTrafficPolicy.egressProxy.host: host "*.example.com": wildcards are not allowed here',
        'spec.outboundTrafficPolicy.egressProxy.port: egressProxy needs a port',
      ]);
    });

    it('a mode that only the mesh config knows', () => {
      assert.deepEqual(findings('outboundTrafficPolicy: {mode: ALLOW_ANY_DYNAMIC_DNS}'), [
        'spec.outboundTrafficPolicy.mode: must be one of REGISTRY_ONLY, ALLOW_ANY, got string "ALLOW_ANY_DYNAMIC_DNS"',
      ]);
    });
  });
});
