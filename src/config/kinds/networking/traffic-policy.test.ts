import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Diagnostic } from '../../index.ts';
import { assertValid, indent, parseYaml, problems, resourceYaml } from '../../test-support.ts';

/** Parses a DestinationRule whose spec.trafficPolicy is `policy` (YAML written from column 0). */
function parsePolicy(policy: string) {
  const spec = `host: reviews.default.svc.cluster.local\ntrafficPolicy:\n${indent(policy)}`;
  return parseYaml(resourceYaml('networking.istio.io/v1', 'DestinationRule', spec, { name: 'reviews', namespace: 'default' }));
}

function errors(policy: string): Diagnostic[] {
  return parsePolicy(policy).diagnostics;
}

function accepted(policy: string): void {
  assertValid(parsePolicy(policy));
}

/** The single finding, as `path: message`. */
function only(policy: string): string {
  const found = problems(parsePolicy(policy));
  assert.equal(found.length, 1, `expected one finding, got: ${found.join(' | ')}`);
  return found[0]!;
}

const P = 'spec.trafficPolicy';

describe('TrafficPolicy', () => {
  it('refuses an empty traffic policy', () => {
    assert.equal(only('{}'), `${P}: a traffic policy must set at least one of loadBalancer, connectionPool, outlierDetection, tls, portLevelSettings, tunnel, proxyProtocol, retryBudget`);
  });

  it('suggests the field meant by a misspelt name', () => {
    assert.equal(only('loadBalancr:\n  simple: RANDOM'), `${P}.loadBalancr: unknown field "loadBalancr" (did you mean "loadBalancer"?)`);
  });

  it('accepts tunnel settings and refuses them together with proxyProtocol', () => {
    accepted('tunnel:\n  protocol: POST\n  targetHost: egress.example.com\n  targetPort: 8443');
    accepted('tunnel:\n  targetHost: 10.0.0.1\n  targetPort: 443');
    assert.equal(
      only('tunnel:\n  targetHost: egress.example.com\n  targetPort: 443\nproxyProtocol:\n  version: V2'),
      `${P}.proxyProtocol: only one of tunnel or proxyProtocol may be set`,
    );
  });

  it('refuses a tunnel to a short name, to a bad port or with an unknown protocol', () => {
    assert.equal(
      only('tunnel:\n  targetHost: egress_host.example.com\n  targetPort: 443'),
      `${P}.tunnel.targetHost: targetHost must be a fully-qualified domain name or an IP address: "egress_host.example.com": label "egress_host" is not valid (lower-case letters, digits and '-', starting and ending with a letter or digit)`,
    );
    assert.match(only('tunnel:\n  targetHost: 10.0.0\n  targetPort: 443'), /the top-level domain "0" cannot be all digits/);
    assert.equal(only('tunnel:\n  targetHost: a.example.com\n  targetPort: 70000'), `${P}.tunnel.targetPort: must be at most 65535, got integer 70000`);
    assert.match(only('tunnel:\n  protocol: GET\n  targetHost: a.example.com\n  targetPort: 443'), /tunnel\.protocol: must be one of CONNECT, POST/);
    assert.equal(only('tunnel:\n  targetHost: a.example.com'), `${P}.tunnel.targetPort: required field is missing`);
  });

  it('accepts proxyProtocol V1 and V2 and refuses other versions', () => {
    accepted('proxyProtocol:\n  version: V1');
    assert.match(only('proxyProtocol:\n  version: V3'), /proxyProtocol\.version: must be one of V1, V2/);
  });

  it('accepts a retry budget with a percentage of 0..100', () => {
    accepted('retryBudget:\n  percent: 25.5\n  minRetryConcurrency: 3\n  budgetInterval: 0s');
    assert.equal(only('retryBudget:\n  percent: 120'), `${P}.retryBudget.percent: must be at most 100, got integer 120`);
  });
});

describe('LoadBalancerSettings', () => {
  it('accepts every simple algorithm, including the deprecated LEAST_CONN', () => {
    for (const simple of ['UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST']) accepted(`loadBalancer:\n  simple: ${simple}`);
  });

  it('suggests the algorithm meant by a misspelling', () => {
    assert.match(only('loadBalancer:\n  simple: ROUNDROBIN'), /did you mean "ROUND_ROBIN"\?/);
  });

  it('refuses simple together with consistentHash', () => {
    assert.equal(
      only('loadBalancer:\n  simple: RANDOM\n  consistentHash:\n    useSourceIp: true'),
      `${P}.loadBalancer.consistentHash: only one of simple or consistentHash may be set, got simple and consistentHash`,
    );
  });

  it('accepts each consistent hash key', () => {
    accepted('loadBalancer:\n  consistentHash:\n    httpHeaderName: x-user');
    accepted('loadBalancer:\n  consistentHash:\n    useSourceIp: true');
    accepted('loadBalancer:\n  consistentHash:\n    httpQueryParameterName: user');
    accepted('loadBalancer:\n  consistentHash:\n    httpCookie:\n      name: user\n      path: /\n      ttl: 0s\n      attributes:\n      - name: SameSite\n        value: Strict\n      - name: Secure');
  });

  it('refuses two hash keys at once', () => {
    assert.equal(
      only('loadBalancer:\n  consistentHash:\n    httpHeaderName: x-user\n    useSourceIp: true'),
      `${P}.loadBalancer.consistentHash.useSourceIp: only one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName may be set, got httpHeaderName and useSourceIp`,
    );
  });

  it('refuses a cookie with no name and a cookie attribute given twice', () => {
    assert.equal(only('loadBalancer:\n  consistentHash:\n    httpCookie:\n      ttl: 10s'), `${P}.loadBalancer.consistentHash.httpCookie.name: required field is missing`);
    assert.equal(
      only('loadBalancer:\n  consistentHash:\n    httpCookie:\n      name: user\n      attributes:\n      - name: Secure\n      - name: Secure'),
      `${P}.loadBalancer.consistentHash.httpCookie.attributes[1].name: cookie attribute "Secure" is given twice`,
    );
  });

  it('refuses a header name with spaces', () => {
    assert.equal(
      only('loadBalancer:\n  consistentHash:\n    httpHeaderName: "x user"'),
      `${P}.loadBalancer.consistentHash.httpHeaderName: "x user" is not a valid header name (letters, digits, '-' and '_')`,
    );
  });

  it('accepts ringHash and maglev with a prime table size, but not both', () => {
    accepted('loadBalancer:\n  consistentHash:\n    useSourceIp: true\n    ringHash:\n      minimumRingSize: 2048');
    accepted('loadBalancer:\n  consistentHash:\n    useSourceIp: true\n    maglev:\n      tableSize: 65537');
    assert.equal(
      only('loadBalancer:\n  consistentHash:\n    useSourceIp: true\n    ringHash: {}\n    maglev:\n      tableSize: 65537'),
      `${P}.loadBalancer.consistentHash.maglev: only one of ringHash or maglev may be set, got ringHash and maglev`,
    );
  });

  it('refuses a maglev table size that is not a prime below 5000011', () => {
    const maglev = (size: number) => only(`loadBalancer:\n  consistentHash:\n    useSourceIp: true\n    maglev:\n      tableSize: ${size}`);
    assert.equal(maglev(65536), `${P}.loadBalancer.consistentHash.maglev.tableSize: tableSize must be a prime number (such as 65537), got 65536`);
    assert.equal(maglev(5000011), `${P}.loadBalancer.consistentHash.maglev.tableSize: tableSize must be below 5000011, got 5000011`);
    assert.match(only('loadBalancer:\n  consistentHash:\n    useSourceIp: true\n    maglev: {}'), /maglev needs tableSize/);
  });

  it('accepts the deprecated minimumRingSize alone but not beside ringHash', () => {
    accepted('loadBalancer:\n  consistentHash:\n    httpHeaderName: x-user\n    minimumRingSize: 1024');
    assert.match(
      only('loadBalancer:\n  consistentHash:\n    httpHeaderName: x-user\n    minimumRingSize: 1024\n    ringHash:\n      minimumRingSize: 1024'),
      /consistentHash\.minimumRingSize: the deprecated minimumRingSize cannot be combined with ringHash/,
    );
  });

  it('accepts warmup and the deprecated warmupDurationSecs, one at a time', () => {
    accepted('loadBalancer:\n  simple: ROUND_ROBIN\n  warmup:\n    duration: 60s\n    minimumPercent: 20\n    aggression: 1.5');
    accepted('loadBalancer:\n  simple: LEAST_REQUEST\n  warmupDurationSecs: 60s');
    assert.equal(
      only('loadBalancer:\n  warmupDurationSecs: 60s\n  warmup:\n    duration: 60s'),
      `${P}.loadBalancer.warmupDurationSecs: only one of warmup or the deprecated warmupDurationSecs may be set`,
    );
  });

  it('refuses a warmup without duration, above 100 percent or with no aggression', () => {
    assert.match(only('loadBalancer:\n  warmup:\n    minimumPercent: 10'), /^spec\.trafficPolicy\.loadBalancer\.warmup\.duration: /);
    assert.equal(only('loadBalancer:\n  warmup:\n    duration: 1m\n    minimumPercent: 101'), `${P}.loadBalancer.warmup.minimumPercent: must be at most 100, got integer 101`);
    assert.equal(only('loadBalancer:\n  warmup:\n    duration: 1m\n    aggression: 0'), `${P}.loadBalancer.warmup.aggression: aggression must be greater than 0, got 0`);
  });

  it('refuses localityLbSetting together with zoneAwareLbSetting', () => {
    assert.match(
      only('loadBalancer:\n  localityLbSetting:\n    enabled: true\n  zoneAwareLbSetting:\n    enabled: true'),
      /only one of localityLbSetting or zoneAwareLbSetting may be set/,
    );
  });
});

describe('LocalityLoadBalancerSetting', () => {
  const lb = (setting: string) => `loadBalancer:\n  localityLbSetting:\n${setting.trim().split('\n').map((l) => `    ${l}`).join('\n')}\noutlierDetection:\n  consecutive5xxErrors: 5`;
  const L = `${P}.loadBalancer.localityLbSetting`;

  it('accepts distribute weights that add up to 100', () => {
    accepted(lb('enabled: true\ndistribute:\n- from: us-west/zone1/*\n  to:\n    "us-west/zone1/*": 80\n    "us-west/zone2/*": 20\n- from: us-west/zone2/*\n  to:\n    "us-west/zone1/*": 20\n    "us-west/zone2/*": 80'));
  });

  it('refuses distribute weights that do not add up to 100', () => {
    assert.equal(
      only(lb('distribute:\n- from: us-west/zone1/*\n  to:\n    "us-west/zone1/*": 80\n    "us-west/zone2/*": 10')),
      `${L}.distribute[0].to: the weights add up to 90; they must add up to 100`,
    );
  });

  it('refuses a weight that is not a number, without a misleading sum', () => {
    assert.equal(only(lb('distribute:\n- from: us-west\n  to:\n    us-west: "100"')), `${L}.distribute[0].to["us-west"]: expected a number, got string "100"`);
  });

  it('refuses a locality weight of 0', () => {
    const found = errors(lb('distribute:\n- from: us-west\n  to:\n    us-west: 100\n    us-east: 0'));
    assert.deepEqual(found.map((d) => d.path), [`${L}.distribute[0].to["us-east"]`]);
    assert.equal(found[0]!.message, 'a locality weight must be 1..100, got 0');
  });

  it('refuses overlapping and malformed localities', () => {
    assert.equal(
      only(lb('distribute:\n- from: us-west/*\n  to:\n    us-west: 100\n- from: us-west/zone1\n  to:\n    us-west: 100')),
      `${L}.distribute: locality "us-west/zone1" overlaps a locality given before it`,
    );
    assert.equal(
      only(lb('distribute:\n- from: us-*/zone1\n  to:\n    us-west: 100')),
      `${L}.distribute: locality "us-*/zone1": a wildcard '*' may appear only once, at the end`,
    );
    assert.match(only(lb('distribute:\n- from: us-west//a\n  to:\n    us-west: 100')), /has an empty part/);
    assert.equal(only(lb('distribute:\n- to:\n    us-west: 100')), `${L}.distribute: a locality must not be empty (expected region, region/zone or region/zone/sub-zone)`);
  });

  it('accepts failover between regions, and refuses zones, wildcards and failing over to the same region', () => {
    accepted(lb('failover:\n- from: us-east\n  to: eu-west\n- from: us-west\n  to: us-east'));
    assert.equal(only(lb('failover:\n- from: us-east\n  to: us-east')), `${L}.failover[0].to: locality failover must fail over to a different region than "us-east"`);
    assert.equal(only(lb('failover:\n- from: us-east/zone1\n  to: eu-west')), `${L}.failover[0].from: locality failover names regions only, got "us-east/zone1"`);
    assert.equal(only(lb('failover:\n- from: us-east')), `${L}.failover[0].to: locality failover needs both a "from" and a "to" region`);
    assert.equal(only(lb('failover:\n- from: us-east\n  to: "eu-*"')), `${L}.failover[0].to: locality failover region must not contain a wildcard '*', got "eu-*"`);
  });

  it('refuses distribute together with failover or failoverPriority', () => {
    assert.equal(
      only(lb('distribute:\n- from: us-west\n  to:\n    us-west: 100\nfailover:\n- from: us-east\n  to: eu-west')),
      `${L}.failover: only one of distribute, failover or failoverPriority may be set, got distribute and failover`,
    );
    assert.match(
      only(lb('distribute:\n- from: us-west\n  to:\n    us-west: 100\nfailoverPriority:\n- topology.istio.io/network')),
      /only one of distribute, failover or failoverPriority may be set, got distribute and failoverPriority/,
    );
  });

  it('accepts failoverPriority by label key or key=value, with failover only when it names no region or zone label', () => {
    accepted(lb('failoverPriority:\n- topology.istio.io/network\n- topology.kubernetes.io/region\n- version=v1'));
    accepted(lb('failover:\n- from: us-east\n  to: eu-west\nfailoverPriority:\n- topology.istio.io/network'));
    assert.equal(
      only(lb('failover:\n- from: us-east\n  to: eu-west\nfailoverPriority:\n- topology.kubernetes.io/zone')),
      `${L}.failoverPriority[0]: "topology.kubernetes.io/zone" cannot be used in failoverPriority together with failover, which already orders regions`,
    );
  });

  it('refuses a failoverPriority entry that is not a label', () => {
    assert.match(only(lb('failoverPriority:\n- "bad key"')), /failoverPriority\[0\]: label key "bad key" is not valid/);
  });
});

describe('ZoneAwareLoadBalancerSetting', () => {
  it('accepts failover and a minimum cluster size', () => {
    accepted('loadBalancer:\n  simple: LEAST_REQUEST\n  zoneAwareLbSetting:\n    enabled: true\n    minClusterSize: 3\n    failover:\n    - from: us-east\n      to: eu-west');
  });

  it('refuses region and zone labels in failoverPriority and a minClusterSize of 0', () => {
    assert.match(only('loadBalancer:\n  zoneAwareLbSetting:\n    failoverPriority:\n    - topology.kubernetes.io/region'), /handles region, zone and sub-zone by itself/);
    assert.equal(only('loadBalancer:\n  zoneAwareLbSetting:\n    minClusterSize: 0'), `${P}.loadBalancer.zoneAwareLbSetting.minClusterSize: must be at least 1, got integer 0`);
  });
});

describe('ConnectionPoolSettings', () => {
  it('accepts every TCP and HTTP setting', () => {
    accepted(`connectionPool:
  tcp:
    maxConnections: 100
    connectTimeout: 30ms
    tcpKeepalive:
      probes: 9
      time: 7200s
      interval: 75s
    maxConnectionDuration: 1h
    idleTimeout: 0s
  http:
    http1MaxPendingRequests: 100
    http2MaxRequests: 1000
    maxRequestsPerConnection: 10
    maxRetries: 3
    idleTimeout: 1h
    h2UpgradePolicy: DO_NOT_UPGRADE
    useClientProtocol: true
    maxConcurrentStreams: 100
    http2KeepAlive:
      interval: 30s
      timeout: 5s`);
  });

  it('refuses an empty connection pool', () => {
    assert.equal(only('connectionPool: {}'), `${P}.connectionPool: a connection pool must set tcp or http`);
  });

  it('refuses negative limits and non-integers', () => {
    assert.equal(only('connectionPool:\n  tcp:\n    maxConnections: -1'), `${P}.connectionPool.tcp.maxConnections: must be at least 0, got integer -1`);
    assert.equal(only('connectionPool:\n  http:\n    maxRetries: 1.5'), `${P}.connectionPool.http.maxRetries: expected an integer, got number 1.5`);
    assert.equal(only('connectionPool:\n  http:\n    http2MaxRequests: lots'), `${P}.connectionPool.http.http2MaxRequests: expected a number, got string "lots"`);
  });

  it('refuses durations below 1ms, and a TCP idle timeout that is neither 0s nor at least 1ms', () => {
    assert.match(only('connectionPool:\n  tcp:\n    connectTimeout: 0s'), /connectTimeout: duration must be at least 1ms, got "0s"/);
    assert.match(only('connectionPool:\n  tcp:\n    connectTimeout: 10'), /^spec\.trafficPolicy\.connectionPool\.tcp\.connectTimeout: /);
    assert.match(only('connectionPool:\n  tcp:\n    idleTimeout: 500us'), /idleTimeout: duration must be 0s \(off\) or at least 1ms/);
  });

  it('refuses useClientProtocol with h2UpgradePolicy UPGRADE', () => {
    assert.match(only('connectionPool:\n  http:\n    h2UpgradePolicy: UPGRADE\n    useClientProtocol: true'), /http\.useClientProtocol: useClientProtocol cannot be true with h2UpgradePolicy UPGRADE/);
  });

  it('needs both interval and timeout for HTTP/2 keepalive', () => {
    assert.match(only('connectionPool:\n  http:\n    http2KeepAlive:\n      interval: 10s'), /^spec\.trafficPolicy\.connectionPool\.http\.http2KeepAlive\.timeout: /);
  });

  it('refuses an unknown h2UpgradePolicy', () => {
    assert.match(only('connectionPool:\n  http:\n    h2UpgradePolicy: ALWAYS'), /must be one of DEFAULT, DO_NOT_UPGRADE, UPGRADE/);
  });
});

describe('OutlierDetection', () => {
  it('accepts every field, including the deprecated consecutiveErrors', () => {
    accepted(`outlierDetection:
  consecutiveErrors: 5
  consecutive5xxErrors: 5
  consecutiveGatewayErrors: 3
  splitExternalLocalOriginErrors: true
  consecutiveLocalOriginFailures: 4
  interval: 10s
  baseEjectionTime: 30s
  maxEjectionPercent: 100
  minHealthPercent: 0
  outlierDetectionHttpErrorCodes: [500, 503]`);
  });

  it('refuses percentages outside 0..100', () => {
    assert.equal(only('outlierDetection:\n  maxEjectionPercent: 101'), `${P}.outlierDetection.maxEjectionPercent: must be at most 100, got integer 101`);
    assert.equal(only('outlierDetection:\n  minHealthPercent: -1'), `${P}.outlierDetection.minHealthPercent: must be at least 0, got integer -1`);
  });

  it('refuses consecutiveLocalOriginFailures without splitExternalLocalOriginErrors', () => {
    assert.equal(
      only('outlierDetection:\n  consecutiveLocalOriginFailures: 3'),
      `${P}.outlierDetection.consecutiveLocalOriginFailures: consecutiveLocalOriginFailures counts only when splitExternalLocalOriginErrors is true`,
    );
  });

  it('refuses an error code that is not an HTTP status', () => {
    assert.equal(only('outlierDetection:\n  outlierDetectionHttpErrorCodes: [600]'), `${P}.outlierDetection.outlierDetectionHttpErrorCodes[0]: must be at most 599, got integer 600`);
  });
});

describe('ClientTLSSettings', () => {
  it('accepts each mode in its usual form', () => {
    accepted('tls:\n  mode: DISABLE');
    accepted('tls:\n  mode: SIMPLE\n  sni: api.example.com\n  caCertificates: /etc/certs/ca.pem\n  subjectAltNames: [api.example.com]');
    accepted('tls:\n  mode: MUTUAL\n  clientCertificate: /etc/certs/cert.pem\n  privateKey: /etc/certs/key.pem\n  caCertificates: /etc/certs/ca.pem\n  caCrl: /etc/certs/crl.pem');
    accepted('tls:\n  mode: MUTUAL\n  credentialName: client-credential');
    accepted('tls:\n  mode: ISTIO_MUTUAL');
    accepted('tls:\n  mode: SIMPLE\n  insecureSkipVerify: true');
  });

  it('lets ISTIO_MUTUAL carry sni and subjectAltNames, as Istio\'s egress gateway recipes do', () => {
    accepted('tls:\n  mode: ISTIO_MUTUAL\n  sni: edition.cnn.com\n  subjectAltNames: [spiffe://cluster.local/ns/istio-system/sa/egress]');
  });

  it('refuses certificates with ISTIO_MUTUAL', () => {
    assert.deepEqual(problems(parsePolicy('tls:\n  mode: ISTIO_MUTUAL\n  clientCertificate: /c.pem\n  credentialName: cred')), [
      `${P}.tls.clientCertificate: clientCertificate must be empty with mode ISTIO_MUTUAL, which uses the mesh's own certificates`,
      `${P}.tls.credentialName: credentialName must be empty with mode ISTIO_MUTUAL, which uses the mesh's own certificates`,
    ]);
  });

  it('needs clientCertificate and privateKey for MUTUAL without credentialName', () => {
    const found = errors('tls:\n  mode: MUTUAL\n  caCertificates: /ca.pem');
    assert.deepEqual(found.map((d) => d.path), [`${P}.tls.clientCertificate`, `${P}.tls.privateKey`]);
    assert.equal(found[0]!.message, 'mode MUTUAL needs clientCertificate and privateKey, or credentialName');
  });

  it('refuses certificate files beside credentialName', () => {
    assert.equal(
      only('tls:\n  mode: SIMPLE\n  credentialName: cred\n  caCertificates: /ca.pem'),
      `${P}.tls.caCertificates: caCertificates cannot be combined with credentialName, whose secret holds the certificates`,
    );
  });

  it('refuses verification settings beside insecureSkipVerify', () => {
    assert.equal(
      only('tls:\n  mode: SIMPLE\n  insecureSkipVerify: true\n  subjectAltNames: [a.example.com]'),
      `${P}.tls.subjectAltNames: subjectAltNames cannot be set when insecureSkipVerify is true, which turns verification off`,
    );
  });

  it('refuses an unknown mode', () => {
    assert.match(only('tls:\n  mode: STRICT'), /tls\.mode: must be one of DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL, got string "STRICT"/);
  });
});

describe('PortTrafficPolicy', () => {
  it('accepts settings per port', () => {
    accepted('portLevelSettings:\n- port:\n    number: 80\n  loadBalancer:\n    simple: LEAST_REQUEST\n- port:\n    number: 9080\n  tls:\n    mode: ISTIO_MUTUAL');
  });

  it('refuses an entry without a port, an empty entry and a repeated port', () => {
    assert.equal(only('portLevelSettings:\n- loadBalancer:\n    simple: RANDOM'), `${P}.portLevelSettings[0].port: required field is missing`);
    assert.equal(
      only('portLevelSettings:\n- port:\n    number: 80'),
      `${P}.portLevelSettings[0]: a port-level policy must set at least one of loadBalancer, connectionPool, outlierDetection, tls`,
    );
    assert.equal(
      only('portLevelSettings:\n- port:\n    number: 80\n  tls:\n    mode: SIMPLE\n- port:\n    number: 80\n  loadBalancer:\n    simple: RANDOM'),
      `${P}.portLevelSettings[1].port.number: port 80 already has settings at portLevelSettings[0]; merge them into one entry`,
    );
  });

  it('refuses fields that only the top-level policy has', () => {
    assert.equal(
      only('portLevelSettings:\n- port:\n    number: 80\n  tunnel:\n    targetHost: a.example.com\n    targetPort: 443'),
      `${P}.portLevelSettings[0].tunnel: unknown field "tunnel"; expected one of: port, loadBalancer, connectionPool, outlierDetection, tls`,
    );
  });

  it('refuses a port number out of range', () => {
    assert.equal(only('portLevelSettings:\n- port:\n    number: 0\n  tls:\n    mode: SIMPLE'), `${P}.portLevelSettings[0].port.number: must be at least 1, got integer 0`);
  });

  it('reports where a finding is written', () => {
    const [finding] = errors('portLevelSettings:\n- port:\n    number: 80\n  loadBalancer:\n    simple: FASTEST');
    assert.equal(finding!.origin?.line, 13);
    assert.equal(finding!.origin?.column, 17);
  });
});
