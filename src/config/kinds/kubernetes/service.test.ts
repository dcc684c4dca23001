import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ParsedConfig } from '../../index.ts';
import { assertValid, parseYaml, problems, resourceYaml } from '../../test-support.ts';

/** Parses one Service named `name` whose spec is `spec`, written without indentation. */
function service(spec: string, name = 'reviews'): ParsedConfig {
  return parseYaml(resourceYaml('v1', 'Service', spec, { name, namespace: 'bookinfo' }));
}

const PORT = 'ports: [{port: 9080, name: http}]';

describe('Service', () => {
  describe('accepted forms', () => {
    it('accepts a ClusterIP Service and defaults type and protocol', () => {
      const result = service(`
selector: {app: reviews}
ports:
- name: http
  port: 9080
  targetPort: 9080
  appProtocol: http
- name: grpc-web
  port: 9090
  targetPort: grpc
  appProtocol: kubernetes.io/h2c
sessionAffinity: None
publishNotReadyAddresses: false
internalTrafficPolicy: Cluster
trafficDistribution: PreferClose
ipFamilies: [IPv4, IPv6]
ipFamilyPolicy: PreferDualStack
clusterIP: 10.96.0.10
clusterIPs: [10.96.0.10, "fd00::10"]
`);
      assertValid(result);
      const spec = (result.resources[0]!.object as { spec: { type: string; ports: { protocol: string }[] } }).spec;
      assert.equal(spec.type, 'ClusterIP');
      assert.equal(spec.ports[0]!.protocol, 'TCP');
    });

    it('accepts a LoadBalancer with node ports, health check port and source ranges', () => {
      assertValid(service(`
type: LoadBalancer
selector: {istio: ingressgateway}
ports:
- {name: http2, port: 80, targetPort: 8080, nodePort: 30080}
- {name: https, port: 443, targetPort: 8443, nodePort: 30443}
- {name: dns, port: 53, protocol: UDP}
- {name: dns-tcp, port: 53, protocol: TCP}
externalTrafficPolicy: Local
healthCheckNodePort: 32000
loadBalancerSourceRanges: [10.0.0.0/8, " 192.168.0.0/16"]
loadBalancerClass: example.com/lb
allocateLoadBalancerNodePorts: true
loadBalancerIP: 203.0.113.10
sessionAffinity: ClientIP
sessionAffinityConfig: {clientIP: {timeoutSeconds: 10800}}
`));
    });

    it('accepts a single unnamed port', () => {
      assertValid(service('ports: [{port: 80}]'));
    });

    it('accepts a headless Service without ports', () => {
      assertValid(service('clusterIP: None\nselector: {app: db}'));
    });

    it('accepts an ExternalName Service with a trailing dot', () => {
      assertValid(service('type: ExternalName\nexternalName: db.example.com.'));
    });

    it('accepts a ClusterIP Service with externalIPs and an externalTrafficPolicy', () => {
      assertValid(service(`${PORT}\nexternalIPs: [198.51.100.7]\nexternalTrafficPolicy: Cluster`));
    });

    it('accepts a status', () => {
      const text = 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\nstatus: {loadBalancer: {ingress: [{ip: 1.2.3.4}]}}\n';
      assert.deepEqual(problems(parseYaml(text)), []);
    });
  });

  describe('metadata', () => {
    it('requires the name to be a DNS-1035 label (starting with a letter)', () => {
      assert.deepEqual(problems(service(PORT, '9reviews')), [
        'metadata.name: "9reviews" is not a DNS-1035 label (at most 63 lower-case letters, digits and \'-\', starting with a letter and ending with a letter or digit)',
      ]);
      assert.deepEqual(problems(service(PORT, 'reviews.v1')).length, 1);
    });
  });

  describe('ports', () => {
    it('requires a port unless the Service is headless or ExternalName', () => {
      assert.deepEqual(problems(service('selector: {app: reviews}')), [
        'spec.ports: at least one port is required (only headless Services, with clusterIP: None, and ExternalName Services may have none)',
      ]);
    });

    it('reports a Service with no spec as missing its ports', () => {
      const result = parseYaml('apiVersion: v1\nkind: Service\nmetadata: {name: s}\n');
      assert.equal(problems(result)[0], 'spec.ports: at least one port is required (only headless Services, with clusterIP: None, and ExternalName Services may have none)');
    });

    it('requires port, in range', () => {
      assert.deepEqual(problems(service('ports: [{name: a, targetPort: 80}, {name: b, port: 0}, {name: c, port: 65536}]')), [
        'spec.ports[0].port: required field is missing',
        'spec.ports[1].port: must be at least 1, got integer 0',
        'spec.ports[2].port: must be at most 65535, got integer 65536',
      ]);
    });

    it('requires names when there is more than one port', () => {
      assert.deepEqual(problems(service('ports: [{port: 80}, {port: 443, name: https}]')), [
        'spec.ports[0].name: a name is required when a Service has more than one port',
      ]);
    });

    it('requires unique port names that are DNS-1123 labels', () => {
      assert.deepEqual(problems(service('ports: [{port: 80, name: http}, {port: 81, name: http}, {port: 82, name: HTTP_2}]')), [
        'spec.ports[1].name: duplicate port name "http" (already used by ports[0])',
        'spec.ports[2].name: "HTTP_2" is not a DNS-1123 label (at most 63 lower-case letters, digits and \'-\', starting and ending with a letter or digit)',
      ]);
    });

    it('rejects the same port and protocol twice', () => {
      assert.deepEqual(problems(service('ports: [{port: 80, name: a}, {port: 80, name: b, protocol: TCP}]')), [
        'spec.ports[1]: port 80/TCP is already declared by ports[0]',
      ]);
    });

    it('rejects an unknown protocol with a suggestion', () => {
      assert.deepEqual(problems(service('ports: [{port: 80, protocol: HTTP}]')), [
        'spec.ports[0].protocol: must be one of TCP, UDP, SCTP, got string "HTTP"',
      ]);
      assert.deepEqual(problems(service('ports: [{port: 80, protocol: tcp}]')), [
        'spec.ports[0].protocol: must be one of TCP, UDP, SCTP, got string "tcp" (did you mean "TCP"?)',
      ]);
    });

    it('accepts a targetPort number or name, and explains a quoted number', () => {
      assert.deepEqual(problems(service('ports: [{port: 80, targetPort: "8080"}]')), [
        'spec.ports[0].targetPort: "8080" is a string, so it would name a port; write 8080 without quotes for a port number',
      ]);
    });

    it('rejects a targetPort out of range or a bad port name', () => {
      assert.deepEqual(problems(service('ports: [{port: 80, name: a, targetPort: 0}, {port: 81, name: b, targetPort: 70000}, {port: 82, name: c, targetPort: http_web}]')), [
        'spec.ports[0].targetPort: must be a port number 1..65535 or a port name, got 0',
        'spec.ports[1].targetPort: must be a port number 1..65535 or a port name, got 70000',
        'spec.ports[2].targetPort: port name "http_web" may contain only lower-case letters, digits and \'-\'',
      ]);
    });

    it('rejects an appProtocol that is not a qualified name', () => {
      assert.deepEqual(problems(service('ports: [{port: 80, appProtocol: "http 2"}]')), [
        'spec.ports[0].appProtocol: "http 2" is not a qualified name (an optional DNS subdomain and \'/\', then at most 63 letters, digits, \'-\', \'_\' and \'.\', starting and ending with a letter or digit)',
      ]);
    });

    it('rejects nodePort on a ClusterIP Service and the same node port twice', () => {
      assert.deepEqual(problems(service('ports: [{port: 80, nodePort: 30080}]')), [
        'spec.ports[0].nodePort: may be set only when type is NodePort or LoadBalancer, not ClusterIP',
      ]);
      assert.deepEqual(problems(service('type: NodePort\nports: [{name: a, port: 80, nodePort: 30080}, {name: b, port: 81, nodePort: 30080}]')), [
        'spec.ports[1].nodePort: node port 30080/TCP is already used by ports[0]',
      ]);
    });

    it('rejects an unknown port field with a suggestion', () => {
      assert.deepEqual(problems(service('ports: [{port: 80, target_port: 8080}]')), [
        'spec.ports[0].target_port: unknown field "target_port" (did you mean "targetPort"?)',
      ]);
    });
  });

  describe('type', () => {
    it('rejects an unknown type with a suggestion', () => {
      assert.deepEqual(problems(service(`type: Loadbalancer\n${PORT}`)), [
        'spec.type: must be one of ClusterIP, NodePort, LoadBalancer, ExternalName, got string "Loadbalancer" (did you mean "LoadBalancer"?)',
      ]);
    });

    it('requires externalName for an ExternalName Service, and a DNS name', () => {
      assert.deepEqual(problems(service('type: ExternalName')), ['spec.externalName: required when type is ExternalName (the DNS name the Service is an alias for)']);
      assert.deepEqual(problems(service('type: ExternalName\nexternalName: "http://db.example.com"')), [
        'spec.externalName: "http://db.example.com" is not a DNS name (lower-case letters, digits, \'-\' and \'.\')',
      ]);
    });

    it('refuses cluster IPs and IP families on an ExternalName Service', () => {
      assert.deepEqual(problems(service('type: ExternalName\nexternalName: db.example.com\nclusterIP: 10.0.0.1\nipFamilyPolicy: SingleStack')), [
        'spec.ipFamilyPolicy: may not be set for ExternalName Services',
        'spec.clusterIP: may not be set for ExternalName Services',
      ]);
    });

    it('refuses a headless NodePort or LoadBalancer Service', () => {
      assert.deepEqual(problems(service(`type: LoadBalancer\nclusterIP: None\n${PORT}`)), ['spec.clusterIP: may not be "None" for LoadBalancer Services']);
    });
  });

  describe('cluster IPs', () => {
    it('rejects a clusterIP that is neither an IP nor None', () => {
      assert.deepEqual(problems(service(`clusterIP: none\n${PORT}`)), ['spec.clusterIP: "none" is not an IP address or "None" (for a headless Service)']);
    });

    it('requires clusterIPs[0] to equal clusterIP and two different families', () => {
      assert.deepEqual(problems(service(`clusterIP: 10.0.0.1\nclusterIPs: [10.0.0.2, 10.0.0.3]\n${PORT}`)), [
        'spec.clusterIPs[0]: must equal clusterIP ("10.0.0.1")',
        'spec.clusterIPs[1]: the two addresses must be of different IP families (one IPv4, one IPv6)',
      ]);
    });

    it('rejects two families with SingleStack and a duplicated family', () => {
      assert.deepEqual(problems(service(`ipFamilies: [IPv4, IPv4]\nipFamilyPolicy: SingleStack\n${PORT}`)), [
        'spec.ipFamilies[1]: duplicate IP family "IPv4"',
        'spec.ipFamilyPolicy: SingleStack allows one IP family; use PreferDualStack or RequireDualStack for two',
      ]);
    });

    it('rejects externalIPs that are not IP addresses', () => {
      assert.deepEqual(problems(service(`externalIPs: [example.com]\n${PORT}`)), ['spec.externalIPs[0]: "example.com" is not an IP address']);
    });
  });

  describe('fields tied to the type', () => {
    it('allows load balancer fields only on LoadBalancer Services', () => {
      assert.deepEqual(problems(service(`loadBalancerSourceRanges: [10.0.0.0/8]\nallocateLoadBalancerNodePorts: false\n${PORT}`)), [
        'spec.loadBalancerSourceRanges: may be set only when type is LoadBalancer, not ClusterIP',
        'spec.allocateLoadBalancerNodePorts: may be set only when type is LoadBalancer, not ClusterIP',
      ]);
    });

    it('checks load balancer source ranges as CIDRs', () => {
      assert.deepEqual(problems(service(`type: LoadBalancer\nloadBalancerSourceRanges: [10.0.0.0/33]\n${PORT}`)), [
        'spec.loadBalancerSourceRanges[0]: "10.0.0.0/33": prefix length must be 0..32',
      ]);
    });

    it('allows externalTrafficPolicy only for Services reachable from outside', () => {
      assert.deepEqual(problems(service(`externalTrafficPolicy: Local\n${PORT}`)), [
        'spec.externalTrafficPolicy: may be set only for Services reachable from outside the cluster (type NodePort or LoadBalancer, or with externalIPs)',
      ]);
    });

    it('allows healthCheckNodePort only with LoadBalancer and externalTrafficPolicy Local', () => {
      assert.deepEqual(problems(service(`type: LoadBalancer\nexternalTrafficPolicy: Cluster\nhealthCheckNodePort: 32000\n${PORT}`)), [
        'spec.healthCheckNodePort: may be set only when type is LoadBalancer and externalTrafficPolicy is Local',
      ]);
    });

    it('allows sessionAffinityConfig only with ClientIP affinity, and bounds its timeout', () => {
      assert.deepEqual(problems(service(`sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}\n${PORT}`)), [
        'spec.sessionAffinityConfig: may be set only when sessionAffinity is ClientIP',
      ]);
      assert.deepEqual(problems(service(`sessionAffinity: ClientIP\nsessionAffinityConfig: {clientIP: {timeoutSeconds: 86401}}\n${PORT}`)), [
        'spec.sessionAffinityConfig.clientIP.timeoutSeconds: must be at most 86400, got integer 86401',
      ]);
    });

    it('rejects an unknown trafficDistribution and internalTrafficPolicy', () => {
      assert.deepEqual(problems(service(`trafficDistribution: Closest\ninternalTrafficPolicy: Node\n${PORT}`)), [
        'spec.internalTrafficPolicy: must be one of Cluster, Local, got string "Node"',
        'spec.trafficDistribution: must be one of PreferClose, PreferSameZone, PreferSameNode, got string "Closest"',
      ]);
    });
  });

  describe('selector', () => {
    it('checks selector labels as Kubernetes labels', () => {
      assert.deepEqual(problems(service(`selector: {app: 3}\n${PORT}`)), ['spec.selector.app: expected a string, got integer 3']);
    });

    it('rejects an unknown spec field with a suggestion', () => {
      assert.deepEqual(problems(service(`selectors: {app: reviews}\n${PORT}`)), ['spec.selectors: unknown field "selectors" (did you mean "selector"?)']);
    });
  });
});
