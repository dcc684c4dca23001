import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ProxyView } from '../model/index.ts';
import { parseProxyNode, type XdsNode } from './proxy-node.ts';

const SIDECAR_ID = 'sidecar~10.0.0.1~reviews-v1-1.default~default.svc.cluster.local';

function view(node: XdsNode): ProxyView {
  const result = parseProxyNode(node);
  assert.ok(result.ok, result.ok ? '' : result.error);
  return result.value;
}

function problem(node: XdsNode): string {
  const result = parseProxyNode(node);
  assert.ok(!result.ok, 'expected the node to be refused');
  return result.error;
}

describe('parseProxyNode', () => {
  describe('the node id', () => {
    it('reads an Istio sidecar id: kind, IP, pod name and namespace', () => {
      assert.deepEqual(view({ id: SIDECAR_ID }), {
        id: 'reviews-v1-1.default',
        kind: 'sidecar',
        generator: 'envoy',
        namespace: 'default',
        labels: {},
        serviceAccount: 'default',
        workloadName: 'reviews-v1-1',
        ipAddresses: ['10.0.0.1'],
        ports: [],
        locality: '',
        version: '',
        interceptionMode: 'REDIRECT',
        appPorts: [], localServicePorts: [],
      });
    });

    it('reads a gateway as a router', () => {
      const gateway = view({ id: 'router~10.0.0.9~istio-ingressgateway-5d9f.istio-system~istio-system.svc.cluster.local' });
      assert.equal(gateway.kind, 'router');
      assert.equal(gateway.namespace, 'istio-system');
      assert.equal(gateway.id, 'istio-ingressgateway-5d9f.istio-system');
      assert.deepEqual(gateway.ipAddresses, ['10.0.0.9']);
    });

    it('reads an IPv6 address from the id', () => {
      assert.deepEqual(view({ id: 'sidecar~fd00::1~reviews-v1-1.default~default.svc.cluster.local' }).ipAddresses, ['fd00::1']);
    });

    it('takes an id with no IP as a proxy with no address', () => {
      assert.deepEqual(view({ id: 'sidecar~~reviews-v1-1.default~default.svc.cluster.local' }).ipAddresses, []);
    });

    it('takes a bare id as a sidecar with no IP in the default namespace', () => {
      const client = view({ id: 'my-client' });
      assert.equal(client.id, 'my-client');
      assert.equal(client.kind, 'sidecar');
      assert.deepEqual(client.ipAddresses, []);
      assert.equal(client.namespace, 'default');
      assert.equal(client.workloadName, 'my-client');
    });

    it('takes the namespace from the name when the domain has none', () => {
      assert.equal(view({ id: 'sidecar~10.0.0.1~reviews-v1-1.shop~' }).namespace, 'shop');
    });

    it('refuses a node with no id', () => {
      assert.equal(
        problem({ metadata: { NAMESPACE: 'default' } }),
        'the node has no id (a proxy names itself as type~ip~name.namespace~domain, e.g. sidecar~10.0.0.1~reviews-v1-1.default~default.svc.cluster.local; a proxyless client by any non-empty id)',
      );
      assert.match(problem({ id: '' }), /^the node has no id/);
    });

    it('refuses an id with the wrong number of parts', () => {
      assert.equal(
        problem({ id: 'sidecar~10.0.0.1~reviews' }),
        'node "sidecar~10.0.0.1~reviews": node id "sidecar~10.0.0.1~reviews" has 3 parts separated by \'~\'; expected 4 (type~ip~name.namespace~domain, e.g. sidecar~10.0.0.1~reviews-v1-1.default~default.svc.cluster.local) or an id without \'~\'',
      );
    });

    it('refuses a proxy type other than sidecar or router', () => {
      assert.equal(
        problem({ id: 'waypoint~10.0.0.1~w.default~default.svc.cluster.local' }),
        'node "waypoint~10.0.0.1~w.default~default.svc.cluster.local": node id "waypoint~10.0.0.1~w.default~default.svc.cluster.local" has the proxy type "waypoint"; expected sidecar or router',
      );
    });

    it('refuses something other than an IP where the IP belongs', () => {
      assert.match(problem({ id: 'sidecar~localhost~a.default~default.svc.cluster.local' }), /has "localhost" where its IP address belongs$/);
    });

    it('refuses an id with an empty name', () => {
      assert.match(problem({ id: 'sidecar~10.0.0.1~~default.svc.cluster.local' }), /has no name between its second and third '~'/);
    });
  });

  describe('metadata', () => {
    it('reads every field Istio proxies send', () => {
      const proxy = view({
        id: SIDECAR_ID,
        cluster: 'reviews.default',
        metadata: {
          NAMESPACE: 'bookinfo',
          LABELS: { app: 'reviews', version: 'v1' },
          SERVICE_ACCOUNT: 'bookinfo-reviews',
          WORKLOAD_NAME: 'reviews-v1',
          INSTANCE_IPS: '10.0.0.1,fd00::1',
          POD_PORTS: '[{"name":"http","containerPort":9080,"protocol":"TCP"},{"containerPort":9090}]',
          ISTIO_VERSION: '1.24.0',
          CLUSTER_ID: 'Kubernetes',
        },
        locality: { region: 'us-east1', zone: 'us-east1-b', subZone: 'rack-3' },
        userAgentName: 'envoy',
      });
      assert.deepEqual(proxy, {
        id: 'reviews-v1-1.default',
        kind: 'sidecar',
        generator: 'envoy',
        namespace: 'bookinfo',
        labels: { app: 'reviews', version: 'v1' },
        serviceAccount: 'bookinfo-reviews',
        workloadName: 'reviews-v1',
        ipAddresses: ['10.0.0.1', 'fd00::1'],
        ports: [{ port: 9080, name: 'http', protocol: 'TCP' }, { port: 9090 }],
        locality: 'us-east1/us-east1-b/rack-3',
        version: '1.24.0',
        interceptionMode: 'REDIRECT',
        appPorts: [], localServicePorts: [],
      });
    });

    it('reads explicit mode: INTERCEPTION_MODE NONE and the app ports of local mode', () => {
      const proxy = view({ id: SIDECAR_ID, metadata: { INTERCEPTION_MODE: 'NONE', APP_PORTS: '{"9080": 41000, "15": 16}' } });
      assert.equal(proxy.interceptionMode, 'NONE');
      assert.deepEqual(proxy.appPorts, [{ port: 15, appPort: 16 }, { port: 9080, appPort: 41000 }]);
      const local = view({ id: SIDECAR_ID, metadata: { LOCAL_SERVICE_PORTS: '{"20001": "mysql.db.svc.cluster.local:3306", "20000": "reviews.default.svc.cluster.local:9080"}' } });
      assert.deepEqual(local.localServicePorts, [
        { localPort: 20000, hostname: 'reviews.default.svc.cluster.local', port: 9080 },
        { localPort: 20001, hostname: 'mysql.db.svc.cluster.local', port: 3306 },
      ]);
      assert.match(problem({ id: SIDECAR_ID, metadata: { LOCAL_SERVICE_PORTS: '{"20000": "reviews"}' } }), /LOCAL_SERVICE_PORTS\["20000"\] must map a port number to "host:port"/);
      assert.deepEqual(view({ id: SIDECAR_ID, metadata: { POD_PORTS: '[{"containerPort":9080,"hostPort":41001}]' } }).ports, [{ port: 9080, hostPort: 41001 }]);
      assert.match(problem({ id: SIDECAR_ID, metadata: { POD_PORTS: '[{"containerPort":9080,"hostPort":"x"}]' } }), /POD_PORTS\[0\]\.hostPort must be a port number/);
    });

    it('refuses an interception mode Weft does not run and app ports that are not ports', () => {
      assert.match(problem({ id: SIDECAR_ID, metadata: { INTERCEPTION_MODE: 'TPROXY' } }), /INTERCEPTION_MODE must be REDIRECT or NONE, got "TPROXY"/);
      assert.match(problem({ id: SIDECAR_ID, metadata: { APP_PORTS: '{"9080": "x"}' } }), /APP_PORTS\["9080"\] must map a port number/);
      assert.match(problem({ id: SIDECAR_ID, metadata: { APP_PORTS: '[1]' } }), /APP_PORTS must be a JSON mapping/);
    });

    it('prefers INSTANCE_IPS to the IP of the id, trimming spaces', () => {
      assert.deepEqual(view({ id: SIDECAR_ID, metadata: { INSTANCE_IPS: ' 10.0.0.7 , 10.0.0.8' } }).ipAddresses, ['10.0.0.7', '10.0.0.8']);
    });

    it('gives a bare id an address from INSTANCE_IPS', () => {
      assert.deepEqual(view({ id: 'my-client', metadata: { INSTANCE_IPS: '127.0.0.1' } }).ipAddresses, ['127.0.0.1']);
    });

    it('takes the namespace from metadata before the id', () => {
      assert.equal(view({ id: 'my-client', metadata: { NAMESPACE: 'shop' } }).namespace, 'shop');
    });

    it('names the workload by the pod when WORKLOAD_NAME is missing', () => {
      assert.equal(view({ id: SIDECAR_ID, metadata: { NAMESPACE: 'default' } }).workloadName, 'reviews-v1-1');
    });

    it('reads GENERATOR grpc as a proxyless gRPC client', () => {
      assert.equal(view({ id: 'my-client', metadata: { GENERATOR: 'grpc' } }).generator, 'grpc');
      assert.equal(view({ id: 'my-client', metadata: { GENERATOR: 'envoy' } }).generator, 'envoy');
    });

    it('takes POD_PORTS given as a list as well as JSON text', () => {
      assert.deepEqual(view({ id: SIDECAR_ID, metadata: { POD_PORTS: [{ name: 'grpc', containerPort: 7070 }] } }).ports, [{ port: 7070, name: 'grpc' }]);
    });

    it('shortens the locality when zone or sub-zone is unknown', () => {
      assert.equal(view({ id: SIDECAR_ID, locality: { region: 'us-east1' } }).locality, 'us-east1');
      assert.equal(view({ id: SIDECAR_ID, locality: { region: 'us-east1', zone: 'b' } }).locality, 'us-east1/b');
      assert.equal(view({ id: SIDECAR_ID, locality: {} }).locality, '');
    });

    it('refuses POD_PORTS that is not JSON', () => {
      assert.equal(
        problem({ id: 'my-client', metadata: { POD_PORTS: '[{name: http}' } }),
        'node "my-client": metadata POD_PORTS is not valid JSON (expected a JSON list such as [{"name":"http","containerPort":9080,"protocol":"TCP"}])',
      );
    });

    it('refuses a port that is not a port number', () => {
      assert.equal(
        problem({ id: 'my-client', metadata: { POD_PORTS: '[{"name":"http","containerPort":70000}]' } }),
        'node "my-client": metadata POD_PORTS[0].containerPort must be a port number (1-65535), got 70000',
      );
      assert.match(problem({ id: 'my-client', metadata: { POD_PORTS: '{"containerPort":80}' } }), /metadata POD_PORTS must be a JSON list/);
    });

    it('refuses INSTANCE_IPS with something other than IP addresses', () => {
      assert.equal(
        problem({ id: 'my-client', metadata: { INSTANCE_IPS: '10.0.0.1,pod.local' } }),
        'node "my-client": metadata INSTANCE_IPS must list IP addresses separated by commas; "pod.local" is not',
      );
    });

    it('refuses labels that are not strings', () => {
      assert.equal(
        problem({ id: 'my-client', metadata: { LABELS: { app: 'reviews', replicas: 3 } } }),
        'node "my-client": metadata LABELS["replicas"] must be a string, got 3',
      );
      assert.match(problem({ id: 'my-client', metadata: { LABELS: 'app=reviews' } }), /metadata LABELS must be a mapping of strings/);
    });

    it('refuses a metadata field of the wrong type, naming every problem at once', () => {
      assert.equal(
        problem({ id: 'my-client', metadata: { NAMESPACE: 7, SERVICE_ACCOUNT: ['a'] } }),
        'node "my-client": metadata NAMESPACE must be a string, got 7; metadata SERVICE_ACCOUNT must be a string, got ["a"]',
      );
    });
  });
});
