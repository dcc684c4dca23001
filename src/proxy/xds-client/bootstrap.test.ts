import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapDumpSource, parseBootstrap, xdsNode, type Bootstrap } from './bootstrap.ts';

const YAML = `node:
  id: sidecar~10.1.0.7~reviews-v1-5d9f.default~default.svc.cluster.local
  locality: {region: eu-west1, zone: eu-west1-b}
  metadata:
    NAMESPACE: default
    LABELS: {app: reviews, version: v1}
    SERVICE_ACCOUNT: reviews
    WORKLOAD_NAME: reviews-v1
    INSTANCE_IPS: 10.1.0.7
    POD_PORTS: '[{"name":"http","containerPort":9080,"protocol":"TCP"}]'
    ISTIO_VERSION: 1.24.0
ads: {address: 127.0.0.1:15010, mode: delta, initialFetchTimeout: 5s}
admin: {address: 127.0.0.1:0}
`;

function parsed(input: Parameters<typeof parseBootstrap>[0]): Bootstrap {
  const result = parseBootstrap(input);
  assert.ok(result.ok, result.ok ? '' : result.error.join('\n'));
  return result.value;
}

function problems(input: Parameters<typeof parseBootstrap>[0]): string[] {
  const result = parseBootstrap(input);
  assert.equal(result.ok, false, 'expected problems');
  return result.ok ? [] : result.error;
}

describe('parseBootstrap', () => {
  it('reads a YAML file, with Istio\'s metadata and the default ports', () => {
    assert.deepEqual(parsed({ file: { name: 'bootstrap.yaml', text: YAML } }), {
      node: {
        id: 'sidecar~10.1.0.7~reviews-v1-5d9f.default~default.svc.cluster.local',
        cluster: 'reviews.default',
        locality: { region: 'eu-west1', zone: 'eu-west1-b' },
        metadata: {
          NAMESPACE: 'default',
          LABELS: { app: 'reviews', version: 'v1' },
          SERVICE_ACCOUNT: 'reviews',
          WORKLOAD_NAME: 'reviews-v1',
          INSTANCE_IPS: '10.1.0.7',
          POD_PORTS: '[{"name":"http","containerPort":9080,"protocol":"TCP"}]',
          ISTIO_VERSION: '1.24.0',
        },
      },
      ads: { address: '127.0.0.1:15010', mode: 'delta', initialFetchTimeoutMs: 5000 },
      admin: { address: '127.0.0.1:0' },
      health: { address: '0.0.0.0:15021' },
      stats: { address: '0.0.0.0:15090' },
      ca: { address: '127.0.0.1:15010', trustDomain: 'cluster.local' },
    });
  });

  it('reads where the workload certificate comes from, the file first and the flags over it', () => {
    const text = `${YAML}ca: {address: 127.0.0.1:15012, tokenFile: /var/run/weft/token, trustDomain: example.org}\n`;
    assert.deepEqual(parsed({ file: { name: 'b.yaml', text } }).ca, { address: '127.0.0.1:15012', tokenFile: '/var/run/weft/token', trustDomain: 'example.org' });
    assert.deepEqual(parsed({ file: { name: 'b.yaml', text }, flags: { caAddress: '127.0.0.1:15013', caTokenFile: '/tmp/token', trustDomain: 'mesh.local' } }).ca, {
      address: '127.0.0.1:15013', tokenFile: '/tmp/token', trustDomain: 'mesh.local',
    });
    assert.deepEqual(problems({ flags: { id: 'p', xdsAddress: '127.0.0.1:15010', caTokenFile: '/tmp/token', trustDomain: 'Mesh Local' } }), [
      `--trust-domain: "Mesh Local" is not a trust domain (lower-case letters, digits, '.', '-', '_'), e.g. cluster.local`,
    ]);
    assert.deepEqual(problems({ flags: { id: 'p', xdsAddress: '127.0.0.1:15010', caTokenFile: '/tmp/token', namespace: 'default' } }), [
      "ca.tokenFile: the workload certificate is for the node's namespace and service account; set node.metadata.SERVICE_ACCOUNT or --service-account",
    ]);
  });

  it('reads TLS to the control plane from ads.tls or --xds-root-cert, with istiod\'s name by default', () => {
    const text = YAML.replace('ads: {address: 127.0.0.1:15010,', 'ads: {address: 127.0.0.1:15012, tls: {rootCertFile: /etc/weft/root-cert.pem, serverName: istiod.mesh.example},');
    assert.deepEqual(parsed({ file: { name: 'b.yaml', text } }).ads.tls, { rootCertFile: '/etc/weft/root-cert.pem', serverName: 'istiod.mesh.example' });
    assert.deepEqual(parsed({ file: { name: 'b.yaml', text }, flags: { xdsRootCert: '/tmp/root.pem' } }).ads.tls, { rootCertFile: '/tmp/root.pem', serverName: 'istiod.mesh.example' });
    const flagged = parsed({ flags: { id: 'p', xdsAddress: '127.0.0.1:15012', xdsRootCert: '/tmp/root.pem' } });
    assert.deepEqual(flagged.ads.tls, { rootCertFile: '/tmp/root.pem', serverName: 'istiod.istio-system.svc' });
    assert.equal(flagged.ca.address, '127.0.0.1:15012', 'the CA is reached where xDS is, over the same TLS');
    assert.equal(parsed({ flags: { id: 'p', xdsAddress: '127.0.0.1:15010' } }).ads.tls, undefined, 'plaintext without a root');

    assert.deepEqual(problems({ file: { name: 'b.yaml', text: 'ads: {address: 127.0.0.1:15012, tls: {serverName: "not a name", rootCertFle: x}}\n' }, flags: { id: 'p' } }), [
      'b.yaml: ads.tls.rootCertFle: unknown field (did you mean "rootCertFile"?); expected one of rootCertFile, serverName',
      'b.yaml: ads.tls.serverName: "not a name" is not a DNS name, e.g. istiod.istio-system.svc',
      "b.yaml: ads.tls.rootCertFile: required: the PEM file of the mesh root the control plane's certificate must chain to",
    ]);
    assert.deepEqual(problems({ flags: { id: 'p', xdsAddress: '127.0.0.1:15012', xdsRootCert: '' } }), ['--xds-root-cert: must not be empty']);
  });

  it('reads JSON as well', () => {
    const bootstrap = parsed({ file: { name: 'b.json', text: JSON.stringify({ node: { id: 'my-proxy' }, ads: { address: 'istiod.istio-system:15010' } }) } });
    assert.equal(bootstrap.node.id, 'my-proxy');
    assert.deepEqual(bootstrap.ads, { address: 'istiod.istio-system:15010', mode: 'sotw', initialFetchTimeoutMs: 15_000 });
    assert.equal(bootstrap.admin.address, '127.0.0.1:15000');
  });

  it('makes the node id Istio\'s way from the flags, with its metadata', () => {
    const bootstrap = parsed({
      flags: { podName: 'ratings-v1-77c', namespace: 'shop', ip: '10.0.0.9', labels: ['app=ratings', 'version=v1'], serviceAccount: 'ratings', xdsAddress: '127.0.0.1:15010', adsMode: 'sotw', locality: 'r1/z1/s1' },
    });
    assert.deepEqual(bootstrap.node, {
      id: 'sidecar~10.0.0.9~ratings-v1-77c.shop~shop.svc.cluster.local',
      cluster: 'ratings.shop',
      locality: { region: 'r1', zone: 'z1', subZone: 's1' },
      metadata: { NAMESPACE: 'shop', INSTANCE_IPS: '10.0.0.9', SERVICE_ACCOUNT: 'ratings', LABELS: { app: 'ratings', version: 'v1' }, WORKLOAD_NAME: 'ratings-v1-77c' },
    });
    assert.equal(parsed({ flags: { type: 'router', podName: 'gw-1', namespace: 'istio-system', xdsAddress: '127.0.0.1:1' } }).node.id, 'router~~gw-1.istio-system~istio-system.svc.cluster.local');
  });

  it('lets flags override the file', () => {
    const bootstrap = parsed({ file: { name: 'bootstrap.yaml', text: YAML }, flags: { adsMode: 'sotw', adminAddress: '127.0.0.1:15001', labels: ['tier=backend'] } });
    assert.equal(bootstrap.ads.mode, 'sotw');
    assert.equal(bootstrap.admin.address, '127.0.0.1:15001');
    assert.deepEqual(bootstrap.node.metadata['LABELS'], { app: 'reviews', version: 'v1', tier: 'backend' });
  });

  it('names the file and field of each problem', () => {
    const text = `node:
  id: sidecar~not-an-ip~x.default~default.svc.cluster.local
  metadata: {POD_PORTS: [{containerPort: 80}], LABELS: {app: 3}, INSTANCE_IPS: "10.0.0.1,nope"}
ads: {address: localhost, mode: incremental, initialFetchTimeout: 15}
admn: {address: 127.0.0.1:15000}
stats: {address: "127.0.0.1:99999"}
`;
    assert.deepEqual(problems({ file: { name: 'b.yaml', text } }), [
      'b.yaml: admn: unknown field (did you mean "admin"?); expected one of node, ads, admin, health, stats, ca',
      `b.yaml: node.id: "sidecar~not-an-ip~x.default~default.svc.cluster.local" has "not-an-ip" where its IP address belongs`,
      'b.yaml: node.metadata.INSTANCE_IPS: expected IP addresses separated by commas; "nope" is not',
      'b.yaml: node.metadata.POD_PORTS: expected a string, got a list (Istio writes POD_PORTS as a JSON string)',
      'b.yaml: node.metadata.LABELS.app: expected a string, got number 3',
      'b.yaml: ads.address: "localhost" is not host:port (e.g. 127.0.0.1:15000)',
      'b.yaml: ads.mode: expected "sotw" (State of the World) or "delta" (incremental), got "incremental"',
      'b.yaml: ads.initialFetchTimeout: expected a string, got number 15',
      'b.yaml: stats.address: "127.0.0.1:99999" has no valid port (0-65535) after the last \':\'',
    ]);
  });

  it('names the flag of each problem', () => {
    assert.deepEqual(problems({ flags: { id: 'a~b', xdsAddress: '[::1:15010', adsMode: 'fast', podPorts: '{', initialFetchTimeout: 'soon', labels: ['novalue'] } }), [
      '--pod-ports: expected a JSON list of container ports such as [{"name":"http","containerPort":9080,"protocol":"TCP"}], got "{"',
      '--labels: "novalue" is not key=value',
      `--id: "a~b" has 2 parts separated by '~'; expected 4 (type~ip~name.namespace~domain) or none`,
      '--xds-address: "[::1:15010": "[::1" is not a bracketed IPv6 address',
      '--ads-mode: expected "sotw" (State of the World) or "delta" (incremental), got "fast"',
      '--initial-fetch-timeout: "soon" is not a duration (expected a number with a unit: ns, us, ms, s, m, h, e.g. "1.5s" or "100ms")',
    ]);
  });

  it('requires a node id and the control plane address', () => {
    assert.deepEqual(problems({ flags: { namespace: 'default' } }), [
      'node.id: required: set it in the bootstrap file or with --id, or give --pod-name and --namespace to make one',
      'ads.address: required: set it in the bootstrap file or with --xds-address (the control plane, e.g. 127.0.0.1:15010)',
    ]);
    assert.deepEqual(problems({ flags: { podName: 'p', xdsAddress: '127.0.0.1:15010' } }), ['--pod-name: making the node id needs the namespace too (--namespace)']);
  });

  it('reports a file that is not YAML', () => {
    const [problem] = problems({ file: { name: 'b.yaml', text: 'node: [unclosed' } });
    assert.match(problem ?? '', /^b\.yaml: not valid YAML: /);
  });
});

describe('a bootstrap in use', () => {
  const bootstrap = parsed({ file: { name: 'bootstrap.yaml', text: YAML } });

  it('gives the xDS node the proxy sends', () => {
    assert.deepEqual(xdsNode(bootstrap, '0.1.0'), {
      id: bootstrap.node.id,
      cluster: 'reviews.default',
      metadata: bootstrap.node.metadata,
      locality: { region: 'eu-west1', zone: 'eu-west1-b' },
      userAgentName: 'weft',
      userAgentVersion: '0.1.0',
    });
  });

  it('shows itself in the config dump as Envoy\'s BootstrapConfigDump', () => {
    const dump = bootstrapDumpSource(bootstrap, '2026-01-02T03:04:05.000Z').dump() as { '@type': string; bootstrap: Record<string, unknown>; lastUpdated: string };
    assert.equal(dump['@type'], 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump');
    assert.deepEqual(dump.bootstrap['admin'], { address: { socketAddress: { address: '127.0.0.1', portValue: 0 } } });
    assert.deepEqual((dump.bootstrap['dynamicResources'] as { adsConfig: unknown }).adsConfig, { apiType: 'DELTA_GRPC', transportApiVersion: 'V3', grpcServices: [{ envoyGrpc: { clusterName: 'xds-grpc' } }] });
    assert.equal(dump.lastUpdated, '2026-01-02T03:04:05.000Z');
  });

  it("shows TLS to the control plane as Istio's bootstrap does, on the xds-grpc cluster", () => {
    const tls = parsed({ flags: { id: 'p', xdsAddress: '127.0.0.1:15012', xdsRootCert: '/var/run/weft/root-cert.pem' } });
    const dump = bootstrapDumpSource(tls, '2026-01-02T03:04:05.000Z').dump() as unknown as { bootstrap: { staticResources: { clusters: Record<string, unknown>[] } } };
    assert.deepEqual(dump.bootstrap.staticResources.clusters[0]!['transportSocket'], {
      name: 'envoy.transport_sockets.tls',
      typedConfig: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        sni: 'istiod.istio-system.svc',
        commonTlsContext: { validationContext: { trustedCa: { filename: '/var/run/weft/root-cert.pem' }, matchSubjectAltNames: [{ exact: 'istiod.istio-system.svc' }] } },
      },
    });
    const plain = bootstrapDumpSource(bootstrap, '2026-01-02T03:04:05.000Z').dump() as unknown as { bootstrap: { staticResources: { clusters: Record<string, unknown>[] } } };
    assert.equal(plain.bootstrap.staticResources.clusters[0]!['transportSocket'], undefined);
  });
});
