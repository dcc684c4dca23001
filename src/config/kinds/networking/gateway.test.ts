import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ofKind } from '../../index.ts';
import { countAcceptedSeedResources, indent, parseYaml, problems, resourceYaml, seedFiles } from '../../test-support.ts';
import { gatewayProtocol } from './gateway.ts';

/** The seed files whose DestinationRules and Gateways must be accepted as written. */
const SEED_FILES = seedFiles(/^(000-|001-|002-booking-gateway|003-).*\.yaml$/);

function parseGateway(spec: string, name = 'bookinfo-gateway') {
  return parseYaml(resourceYaml('networking.istio.io/v1', 'Gateway', spec, { name, namespace: 'istio-system' }));
}

function findings(spec: string, name?: string): string[] {
  return problems(parseGateway(spec, name));
}

/** A gateway with one server; `server` is YAML written from column 0. */
function server(yaml: string): string[] {
  return findings(`selector:\n  istio: ingressgateway\nservers:\n${indent(yaml).replace(/^ {2}/, '- ')}`);
}

const S = 'spec.servers[0]';
const HTTP = 'port:\n  number: 80\n  name: http\n  protocol: HTTP\nhosts: ["*"]';
const https = (tls: string) => `port:\n  number: 443\n  name: https\n  protocol: HTTPS\nhosts: ["bookinfo.example.com"]\ntls:\n${indent(tls)}`;

describe('Gateway', () => {
  it('accepts every Gateway of the seed examples', () => {
    assert.equal(countAcceptedSeedResources('Gateway', SEED_FILES), 2);
  });

  it('accepts an HTTP and an HTTPS server and keeps their values', () => {
    const result = parseGateway(`selector:
  istio: ingressgateway
servers:
- port:
    number: 80
    name: http
    protocol: HTTP
  hosts: ["*"]
  tls:
    httpsRedirect: true
- port:
    number: 443
    name: https
    protocol: HTTPS
  hosts: ["bookinfo/*.example.com", "./reviews.example.com", "*/ratings.example.com"]
  name: main-https
  tls:
    mode: SIMPLE
    credentialName: bookinfo-cert
    minProtocolVersion: TLSV1_2
    cipherSuites: [ECDHE-RSA-AES128-GCM-SHA256]`);
    assert.deepEqual(result.diagnostics, []);
    const [gateway] = ofKind(result.resources, 'Gateway');
    assert.equal(gateway!.object.spec.servers?.[1]?.tls?.credentialName, 'bookinfo-cert');
  });

  it('needs at least one server', () => {
    assert.deepEqual(findings('selector:\n  istio: ingressgateway'), ['spec.servers: a Gateway needs at least one server']);
    assert.deepEqual(findings('servers: []'), ['spec.servers: a Gateway needs at least one server']);
  });

  it('refuses a Gateway name with dots', () => {
    assert.deepEqual(findings(`servers:\n${indent(HTTP).replace(/^ {2}/, '- ')}`, 'my.gateway'), [
      `metadata.name: a Gateway name must be a DNS-1123 label (lower-case letters, digits and '-', no dots), got "my.gateway"`,
    ]);
  });

  it('suggests the field meant by a misspelling', () => {
    assert.deepEqual(server(`${HTTP}\nhost: ["*"]`), [`${S}.host: unknown field "host" (did you mean "hosts"?)`]);
  });
});

describe('Server', () => {
  it('reads the protocol case-insensitively, as Istio does', () => {
    assert.deepEqual(server('port:\n  number: 80\n  name: http\n  protocol: http\nhosts: ["*"]'), []);
    assert.deepEqual(server('port:\n  number: 8080\n  name: grpc\n  protocol: Grpc-Web\nhosts: ["*"]'), []);
    assert.equal(gatewayProtocol('grpc-web'), 'GRPC-WEB');
  });

  it('accepts every gateway protocol', () => {
    for (const protocol of ['HTTP', 'GRPC', 'GRPC-WEB', 'HTTP2', 'MONGO', 'TCP']) {
      assert.deepEqual(server(`port:\n  number: 9000\n  name: p\n  protocol: ${protocol}\nhosts: ["*"]`), [], protocol);
    }
    for (const protocol of ['HTTPS', 'TLS']) {
      assert.deepEqual(server(`port:\n  number: 9443\n  name: p\n  protocol: ${protocol}\nhosts: ["*"]\ntls:\n  mode: PASSTHROUGH`), [], protocol);
    }
  });

  it('refuses an unknown protocol and suggests the one meant', () => {
    assert.deepEqual(server('port:\n  number: 80\n  name: http\n  protocol: TPC\nhosts: ["*"]'), [
      `${S}.port.protocol: "TPC" is not a gateway protocol; expected one of HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, MONGO, TCP, TLS (did you mean "TCP"?)`,
    ]);
  });

  it('requires a port with a number, a protocol and a name', () => {
    assert.deepEqual(server('hosts: ["*"]'), [`${S}.port: required field is missing`]);
    assert.deepEqual(server('port:\n  number: 80\n  protocol: HTTP\nhosts: ["*"]'), [`${S}.port.name: required field is missing`]);
    assert.deepEqual(server('port:\n  number: 80\n  name: ""\n  protocol: HTTP\nhosts: ["*"]'), [`${S}.port.name: port name must not be empty`]);
  });

  it('refuses a port number out of range, and 0 unless bound to a unix socket', () => {
    assert.deepEqual(server('port:\n  number: 70000\n  name: http\n  protocol: HTTP\nhosts: ["*"]'), [`${S}.port.number: must be at most 65535, got integer 70000`]);
    assert.deepEqual(server('port:\n  number: 0\n  name: http\n  protocol: HTTP\nhosts: ["*"]'), [`${S}.port.number: port number must be 1..65535, got 0`]);
    assert.deepEqual(server('port:\n  number: 0\n  name: http\n  protocol: HTTP\nbind: unix:///var/run/gw.sock\nhosts: ["*"]'), []);
    assert.deepEqual(server('port:\n  number: 80\n  name: http\n  protocol: HTTP\nbind: unix://@gw\nhosts: ["*"]'), [
      `${S}.port.number: port number must be 0 when binding to a unix socket, got 80`,
    ]);
  });

  it('refuses the deprecated targetPort, which a gateway ignores', () => {
    assert.deepEqual(server('port:\n  number: 80\n  name: http\n  protocol: HTTP\n  targetPort: 8080\nhosts: ["*"]'), [`${S}.port.targetPort: targetPort has no effect on a Gateway; remove it`]);
  });

  it('accepts an IP address or unix socket as bind, and refuses anything else', () => {
    assert.deepEqual(server(`${HTTP}\nbind: 127.0.0.1`), []);
    assert.deepEqual(server(`${HTTP}\nbind: localhost`), [`${S}.bind: bind "localhost" must be an IP address or a unix socket (unix:///path or unix://@name)`]);
    assert.deepEqual(server('port:\n  number: 0\n  name: http\n  protocol: HTTP\nbind: unix://relative/path\nhosts: ["*"]'), [
      `${S}.bind: "unix://relative/path": a unix socket must be an absolute file path (unix:///path/to/socket) or an abstract name (unix://@name)`,
    ]);
  });

  it('accepts a defaultEndpoint written as address:port or a unix socket', () => {
    assert.deepEqual(server(`${HTTP}\ndefaultEndpoint: 127.0.0.1:8080`), []);
    assert.deepEqual(server(`${HTTP}\ndefaultEndpoint: unix:///var/run/app.sock`), []);
    assert.match(server(`${HTTP}\ndefaultEndpoint: backend`)[0]!, /defaultEndpoint "backend" must be an IP address and port such as 127\.0\.0\.1:8080/);
  });
});

describe('Server hosts', () => {
  const host = (h: string) => server(`port:\n  number: 80\n  name: http\n  protocol: HTTP\nhosts: [${JSON.stringify(h)}]`);

  it('accepts host, ns/host, */host, ./host, wildcards and IP addresses', () => {
    for (const h of ['*', 'bookinfo.example.com', '*.example.com', 'prod/*', 'prod/reviews.example.com', '*/reviews.example.com', './*.example.com', '10.0.0.1']) {
      assert.deepEqual(host(h), [], h);
    }
  });

  it('requires at least one host', () => {
    assert.deepEqual(server('port:\n  number: 80\n  name: http\n  protocol: HTTP'), [`${S}.hosts: required field is missing`]);
    assert.deepEqual(server('port:\n  number: 80\n  name: http\n  protocol: HTTP\nhosts: []'), [`${S}.hosts: must have at least 1 item, got 0`]);
  });

  it('refuses short names, partial wildcards and bad namespaces', () => {
    assert.deepEqual(host('reviews'), [`${S}.hosts[0]: host "reviews": "reviews" is a short name; a gateway host must be fully qualified (e.g. "reviews.example.com") or "*"`]);
    assert.deepEqual(host('*foo.example.com'), [`${S}.hosts[0]: host "*foo.example.com": a partial wildcard is not allowed; write "*" or "*.<domain>"`]);
    assert.deepEqual(host('Prod_NS/a.example.com'), [`${S}.hosts[0]: host "Prod_NS/a.example.com": "Prod_NS" is not "*", "." or a namespace name`]);
    assert.deepEqual(host('/a.example.com'), [`${S}.hosts[0]: host "/a.example.com": both the namespace and the host name must be given ("namespace/host")`]);
    assert.match(host('a.*.example.com')[0]!, /a partial wildcard is not allowed/);
    assert.match(host('a..example.com')[0]!, /is not a valid DNS name/);
  });
});

describe('Server TLS requirements', () => {
  it('requires tls on HTTPS and TLS servers', () => {
    assert.deepEqual(server('port:\n  number: 443\n  name: https\n  protocol: HTTPS\nhosts: ["*"]'), [
      `${S}.tls: a HTTPS server needs tls settings (e.g. mode: SIMPLE with credentialName, or mode: PASSTHROUGH)`,
    ]);
  });

  it('lets a plain HTTP server set only httpsRedirect', () => {
    assert.deepEqual(server(`${HTTP}\ntls:\n  httpsRedirect: true`), []);
    assert.deepEqual(server(`${HTTP}\ntls:\n  mode: SIMPLE\n  credentialName: cert`), [`${S}.tls: a plain-text HTTP server can only set tls.httpsRedirect; terminate TLS on an HTTPS server`]);
  });

  it('refuses tls on a TCP server', () => {
    assert.deepEqual(server('port:\n  number: 27017\n  name: mongo\n  protocol: MONGO\nhosts: ["*"]\ntls:\n  mode: SIMPLE\n  credentialName: cert'), [
      `${S}.tls: a MONGO server cannot have tls settings; use protocol TLS or HTTPS to terminate or pass through TLS`,
    ]);
  });
});

describe('ServerTLSSettings', () => {
  const T = `${S}.tls`;

  it('accepts each mode in its usual form', () => {
    assert.deepEqual(server(https('mode: SIMPLE\nserverCertificate: /etc/certs/server.pem\nprivateKey: /etc/certs/key.pem')), []);
    assert.deepEqual(server(https('mode: MUTUAL\ncredentialName: bookinfo-cert')), []);
    assert.deepEqual(server(https('mode: MUTUAL\nserverCertificate: /s.pem\nprivateKey: /k.pem\ncaCertificates: /ca.pem\ncaCrl: /crl.pem\nsubjectAltNames: [client.example.com]')), []);
    assert.deepEqual(server(https('mode: OPTIONAL_MUTUAL\ncredentialNames: [rsa-cert, ecdsa-cert]')), []);
    assert.deepEqual(server(https('mode: SIMPLE\ntlsCertificates:\n- serverCertificate: /rsa.pem\n  privateKey: /rsa.key\n- serverCertificate: /ec.pem\n  privateKey: /ec.key')), []);
    assert.deepEqual(server(https('mode: ISTIO_MUTUAL')), []);
    assert.deepEqual(server(https('mode: AUTO_PASSTHROUGH')), []);
  });

  it('needs credentialName or serverCertificate and privateKey for SIMPLE', () => {
    assert.deepEqual(server(https('mode: SIMPLE')), [`${T}: mode SIMPLE needs credentialName (a Secret with the certificate), or serverCertificate and privateKey`]);
    assert.deepEqual(server(https('mode: SIMPLE\nserverCertificate: /s.pem')), [`${T}.privateKey: mode SIMPLE needs privateKey together with serverCertificate`]);
    assert.deepEqual(server(https('mode: SIMPLE\ntlsCertificates:\n- serverCertificate: /s.pem')), [`${T}.tlsCertificates[0].privateKey: mode SIMPLE needs a privateKey in each tlsCertificates entry`]);
  });

  it('needs a client CA for MUTUAL without credentialName', () => {
    assert.deepEqual(server(https('mode: MUTUAL\nserverCertificate: /s.pem\nprivateKey: /k.pem')), [
      `${T}.caCertificates: mode MUTUAL needs caCertificates (the CA that verifies client certificates), or credentialName`,
    ]);
  });

  it('refuses certificates with ISTIO_MUTUAL', () => {
    assert.deepEqual(server(https('mode: ISTIO_MUTUAL\ncredentialName: cert\ncaCertificates: /ca.pem')), [
      `${T}.caCertificates: caCertificates must be empty with mode ISTIO_MUTUAL, which uses the gateway's mesh certificate`,
      `${T}.credentialName: credentialName must be empty with mode ISTIO_MUTUAL, which uses the gateway's mesh certificate`,
    ]);
  });

  it('refuses two certificate sources', () => {
    assert.deepEqual(server(https('mode: SIMPLE\ncredentialName: a\ncredentialNames: [b]')), [
      `${T}: only one certificate source may be set: credentialName, credentialNames, serverCertificate/privateKey or tlsCertificates, got credentialName and credentialNames`,
    ]);
  });

  it('refuses more than two credentialNames or tlsCertificates', () => {
    assert.deepEqual(server(https('mode: SIMPLE\ncredentialNames: [a, b, c]')), [`${T}.credentialNames: must have at most 2 items, got 3`]);
  });

  it('refuses a CRL with credentialName or with SIMPLE', () => {
    assert.deepEqual(server(https('mode: SIMPLE\nserverCertificate: /s.pem\nprivateKey: /k.pem\ncaCrl: /crl.pem')), [
      `${T}.caCrl: caCrl has no effect with mode SIMPLE, which does not ask for client certificates`,
    ]);
    assert.deepEqual(server(https('mode: PASSTHROUGH\ncredentialName: cert\ncaCrl: /crl.pem')), [
      `${T}.caCrl: caCrl cannot be combined with credentialName; put the CRL in the credential's Secret (key ca.crl)`,
    ]);
  });

  it('refuses unknown TLS versions and a maximum below the minimum', () => {
    assert.match(server(https('mode: PASSTHROUGH\nminProtocolVersion: TLSV1_4'))[0]!, /minProtocolVersion: must be one of TLS_AUTO, TLSV1_0, TLSV1_1, TLSV1_2, TLSV1_3/);
    assert.deepEqual(server(https('mode: PASSTHROUGH\nminProtocolVersion: TLSV1_3\nmaxProtocolVersion: TLSV1_2')), [`${T}.maxProtocolVersion: maxProtocolVersion TLSV1_2 is below minProtocolVersion TLSV1_3`]);
  });

  it('refuses unknown and repeated cipher suites, but passes OpenSSL expressions through', () => {
    assert.deepEqual(server(https('mode: PASSTHROUGH\ncipherSuites: ["-AES128-SHA", "[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]"]')), []);
    assert.deepEqual(server(https('mode: PASSTHROUGH\ncipherSuites: [ECDHE-RSA-AES128-GCM-SHA265, AES128-SHA, AES128-SHA]')), [
      `${T}.cipherSuites[0]: "ECDHE-RSA-AES128-GCM-SHA265" is not a supported cipher suite (did you mean "ECDHE-RSA-AES128-GCM-SHA256"?)`,
      `${T}.cipherSuites[2]: cipher suite "AES128-SHA" is listed twice`,
    ]);
  });

  it('checks certificate pins', () => {
    const spki = Buffer.alloc(32, 0xfe).toString('base64');
    const hash = 'DF:AD:'.repeat(15) + 'DF:AD';
    assert.deepEqual(server(https(`mode: MUTUAL\ncredentialName: cert\nverifyCertificateSpki: ["${spki}"]\nverifyCertificateHash: ["${hash}"]`)), []);
    assert.deepEqual(server(https('mode: MUTUAL\ncredentialName: cert\nverifyCertificateHash: [abc]')), [
      `${T}.verifyCertificateHash[0]: "abc" is not a hex-encoded SHA-256 hash (64 hex digits, optionally in colon-separated pairs)`,
    ]);
  });

  it('refuses an unknown mode and suggests the one meant', () => {
    assert.match(server(https('mode: MUTUAL_TLS\ncredentialName: cert'))[0]!, /tls\.mode: must be one of .* \(did you mean "MUTUAL"\?\)/);
  });
});

describe('Server uniqueness', () => {
  it('refuses two servers with the same port name or the same server name', () => {
    assert.deepEqual(findings(`servers:
- port: {number: 80, name: http, protocol: HTTP}
  hosts: ["a.example.com"]
  name: web
- port: {number: 8080, name: http, protocol: HTTP}
  hosts: ["b.example.com"]
  name: web`), [
      'spec.servers[1].port.name: port name "http" is already used by servers[0]; port names must be unique across servers',
      'spec.servers[1].name: server name "web" is already used by servers[0]; server names must be unique',
    ]);
  });
});
