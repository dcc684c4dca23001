import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ofKind, type ParsedConfig } from '../../index.ts';
import { assertValid, parseYaml, problems, resourceYaml } from '../../test-support.ts';

/** Parses one LocalWorkload named reviews-v1 whose spec is `spec`, written without indentation. */
function workload(spec: string): ParsedConfig {
  return parseYaml(resourceYaml('local.weft.dev/v1alpha1', 'LocalWorkload', spec, { name: 'reviews-v1', namespace: 'default' }));
}

function findings(spec: string): string[] {
  return problems(workload(spec));
}

const BASE = 'labels: {app: reviews, version: v1}\ncommand: [node, reviews.ts]';
const HTTP_PORT = 'ports: [{name: http, containerPort: 9080}]';

describe('LocalWorkload', () => {
  describe('accepted forms', () => {
    it('accepts every field and keeps what was written', () => {
      const result = workload(`
labels: {app: reviews, version: v2}
serviceAccount: bookinfo-reviews
ports:
- {name: http, containerPort: 9080, protocol: TCP}
- {name: grpc-web, containerPort: 9090}
command: [node, bookinfo/reviews.ts, --verbose]
workingDir: ..
env:
- {name: STAR_COLOR, value: black}
- {name: ENABLE_RATINGS, value: "true"}
- {name: _private}
replicas: 3
readinessProbe:
  httpGet: {path: /health, port: http, httpHeaders: [{name: x-probe, value: weft}]}
  initialDelaySeconds: 1
  periodSeconds: 2
  timeoutSeconds: 3
  successThreshold: 1
  failureThreshold: 5
`);
      assertValid(result);
      const spec = ofKind(result.resources, 'LocalWorkload')[0]!.object.spec;
      assert.deepEqual(spec.labels, { app: 'reviews', version: 'v2' });
      assert.equal(spec.serviceAccount, 'bookinfo-reviews');
      assert.deepEqual(spec.ports, [
        { name: 'http', containerPort: 9080, protocol: 'TCP' },
        { name: 'grpc-web', containerPort: 9090, protocol: 'TCP' },
      ]);
      assert.deepEqual(spec.command, ['node', 'bookinfo/reviews.ts', '--verbose']);
      assert.equal(spec.workingDir, '..');
      assert.deepEqual(spec.env, [{ name: 'STAR_COLOR', value: 'black' }, { name: 'ENABLE_RATINGS', value: 'true' }, { name: '_private', value: '' }]);
      assert.equal(spec.replicas, 3);
      assert.deepEqual(spec.readinessProbe, {
        httpGet: { path: '/health', port: 'http', httpHeaders: [{ name: 'x-probe', value: 'weft' }] },
        initialDelaySeconds: 1, periodSeconds: 2, timeoutSeconds: 3, successThreshold: 1, failureThreshold: 5,
      });
    });

    it('defaults the service account, ports, working directory, env and replicas', () => {
      const result = workload(BASE);
      assertValid(result);
      const spec = ofKind(result.resources, 'LocalWorkload')[0]!.object.spec;
      assert.equal(spec.serviceAccount, 'default');
      assert.deepEqual(spec.ports, []);
      assert.equal(spec.workingDir, '.');
      assert.deepEqual(spec.env, []);
      assert.equal(spec.replicas, 1);
      assert.equal(spec.readinessProbe, undefined);
    });

    it("gives a probe Kubernetes' timing defaults and a path of /", () => {
      const result = workload(`${BASE}\n${HTTP_PORT}\nreadinessProbe: {httpGet: {port: 9080}}`);
      assertValid(result);
      assert.deepEqual(ofKind(result.resources, 'LocalWorkload')[0]!.object.spec.readinessProbe, {
        httpGet: { path: '/', port: 9080 },
        initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3,
      });
    });

    it('accepts a TCP probe on a named port and zero replicas', () => {
      assert.deepEqual(findings(`${BASE}\n${HTTP_PORT}\nreplicas: 0\nreadinessProbe: {tcpSocket: {port: http}}`), []);
    });

    it('is served only as local.weft.dev/v1alpha1', () => {
      const text = 'apiVersion: networking.istio.io/v1\nkind: LocalWorkload\nmetadata: {name: x}\nspec: {labels: {app: x}, command: [x]}\n';
      assert.deepEqual(problems(parseYaml(text)), [
        'apiVersion: "networking.istio.io/v1" is not valid for LocalWorkload: LocalWorkload belongs to the group local.weft.dev; use local.weft.dev/v1alpha1',
      ]);
    });
  });

  describe('labels', () => {
    it('requires labels', () => {
      assert.deepEqual(findings('command: [node, reviews.ts]'), ['spec.labels: required field is missing']);
    });

    it('requires the app label, and a non-empty one', () => {
      assert.deepEqual(findings('labels: {version: v1}\ncommand: [node]'), [
        'spec.labels: must include the "app" label (Services select workloads by it, and telemetry names them by it), e.g. {app: reviews, version: v1}',
      ]);
      assert.deepEqual(findings('labels: {app: ""}\ncommand: [node]'), ['spec.labels.app: the "app" label must not be empty']);
    });

    it('checks label keys and values as Kubernetes does', () => {
      assert.deepEqual(findings('labels: {app: reviews, version: "v 1"}\ncommand: [node]'), [
        'spec.labels.version: label value "v 1" is not valid (at most 63 letters, digits, \'-\', \'_\' and \'.\', starting and ending with a letter or digit)',
      ]);
    });
  });

  describe('command and working directory', () => {
    it('requires a command', () => {
      assert.deepEqual(findings('labels: {app: reviews}'), ['spec.command: required field is missing']);
    });

    it('rejects an empty command or an empty program', () => {
      assert.deepEqual(findings('labels: {app: reviews}\ncommand: []'), ['spec.command: must name the program to run and its arguments, e.g. [node, server.ts]']);
      assert.deepEqual(findings('labels: {app: reviews}\ncommand: ["", x]'), ['spec.command[0]: the program to run must not be empty']);
    });

    it('asks for a list when the command is written as one string', () => {
      assert.deepEqual(findings('labels: {app: reviews}\ncommand: node reviews.ts'), ['spec.command: expected a list, got string "node reviews.ts"']);
    });

    it('rejects an empty working directory', () => {
      assert.deepEqual(findings(`${BASE}\nworkingDir: ""`), ['spec.workingDir: must not be empty (leave it out to run in the directory of this file)']);
    });
  });

  describe('ports', () => {
    it('rejects duplicate port names and numbers', () => {
      assert.deepEqual(findings(`${BASE}\nports: [{name: http, containerPort: 9080}, {name: http, containerPort: 9081}, {name: admin, containerPort: 9080}]`), [
        'spec.ports[1].name: duplicate port name "http" (already used by ports[0])',
        'spec.ports[2].containerPort: duplicate port 9080 (already declared by ports[0])',
      ]);
    });

    it('accepts only TCP', () => {
      assert.deepEqual(findings(`${BASE}\nports: [{containerPort: 53, protocol: UDP}]`), [
        'spec.ports[0].protocol: only TCP is supported in local mode (the sidecar carries TCP only), got UDP',
      ]);
      assert.deepEqual(findings(`${BASE}\nports: [{containerPort: 80, protocol: TPC}]`), [
        'spec.ports[0].protocol: must be one of TCP, UDP, SCTP, got string "TPC" (did you mean "TCP"?)',
      ]);
    });

    it('checks port numbers and names as Kubernetes does', () => {
      assert.deepEqual(findings(`${BASE}\nports: [{name: HTTP, containerPort: 0}, {name: a-very-long-port-name, containerPort: 70000}]`), [
        'spec.ports[0].name: port name "HTTP" may contain only lower-case letters, digits and \'-\'',
        'spec.ports[0].containerPort: must be at least 1, got integer 0',
        'spec.ports[1].name: port name "a-very-long-port-name" is longer than 15 characters',
        'spec.ports[1].containerPort: must be at most 65535, got integer 70000',
      ]);
    });

    it('rejects Kubernetes port fields that mean nothing on one host, with a suggestion', () => {
      assert.deepEqual(findings(`${BASE}\nports: [{containerPort: 9080, hostPort: 80}]`), [
        'spec.ports[0].hostPort: unknown field "hostPort"; expected one of: name, containerPort, protocol',
      ]);
      assert.deepEqual(findings(`${BASE}\nports: [{port: 9080}]`), [
        'spec.ports[0].containerPort: required field is missing',
        'spec.ports[0].port: unknown field "port"; expected one of: name, containerPort, protocol',
      ]);
    });
  });

  describe('env', () => {
    it('requires C identifiers as names', () => {
      assert.deepEqual(findings(`${BASE}\nenv: [{name: STAR-COLOR, value: red}, {name: 9LIVES, value: x}, {name: ""}]`), [
        'spec.env[0].name: "STAR-COLOR" is not a valid environment variable name (letters, digits and \'_\', not starting with a digit)',
        'spec.env[1].name: "9LIVES" is not a valid environment variable name (letters, digits and \'_\', not starting with a digit)',
        'spec.env[2].name: name must not be empty',
      ]);
    });

    it('rejects a variable set twice', () => {
      assert.deepEqual(findings(`${BASE}\nenv: [{name: A, value: "1"}, {name: A, value: "2"}]`), ['spec.env[1].name: duplicate environment variable A (already set by env[0])']);
    });

    it('refuses the variables weft up sets, saying what each carries', () => {
      assert.deepEqual(findings(`${BASE}\n${HTTP_PORT}\nenv: [{name: PORT, value: "9080"}, {name: POD_NAME, value: x}, {name: HTTP_PROXY, value: x}, {name: PORT_HTTP, value: "1"}, {name: WEFT_DEBUG, value: "1"}]`), [
        'spec.env[0].name: PORT is set by weft up (the port the app must listen on); remove it from env',
        'spec.env[1].name: POD_NAME is set by weft up (the replica\'s name); remove it from env',
        'spec.env[2].name: HTTP_PROXY is set by weft up (the sidecar\'s address in explicit mode); remove it from env',
        'spec.env[3].name: PORT_HTTP is set by weft up (the port assigned to port "http"); remove it from env',
        'spec.env[4].name: names starting with WEFT_ are reserved for weft up; rename WEFT_DEBUG',
      ]);
    });

    it('allows PORT_<NAME> when no port has that name', () => {
      assert.deepEqual(findings(`${BASE}\n${HTTP_PORT}\nenv: [{name: PORT_ADMIN, value: "1"}]`), []);
    });

    it('wants string values and no valueFrom', () => {
      assert.deepEqual(findings(`${BASE}\nenv: [{name: A, value: 3}, {name: B, valueFrom: {secretKeyRef: {name: s, key: k}}}]`), [
        'spec.env[0].value: expected a string, got integer 3',
        'spec.env[1].valueFrom: unknown field "valueFrom"; expected one of: name, value',
      ]);
    });
  });

  describe('replicas', () => {
    it('allows 0..20 whole replicas', () => {
      assert.deepEqual(findings(`${BASE}\nreplicas: 21`), ['spec.replicas: must be at most 20, got integer 21']);
      assert.deepEqual(findings(`${BASE}\nreplicas: -1`), ['spec.replicas: must be at least 0, got integer -1']);
      assert.deepEqual(findings(`${BASE}\nreplicas: 1.5`), ['spec.replicas: expected an integer, got number 1.5']);
    });
  });

  describe('readinessProbe', () => {
    it('requires exactly one of httpGet or tcpSocket', () => {
      assert.deepEqual(findings(`${BASE}\n${HTTP_PORT}\nreadinessProbe: {periodSeconds: 1}`), [
        'spec.readinessProbe: must set httpGet or tcpSocket (exec and grpc probes are not supported in local mode)',
      ]);
      assert.deepEqual(findings(`${BASE}\n${HTTP_PORT}\nreadinessProbe: {httpGet: {port: 9080}, tcpSocket: {port: 9080}}`), [
        'spec.readinessProbe: only one of httpGet or tcpSocket may be set',
      ]);
    });

    it('rejects exec probes with the list of what is supported', () => {
      assert.deepEqual(findings(`${BASE}\n${HTTP_PORT}\nreadinessProbe: {exec: {command: [true]}, tcpSocket: {port: 9080}}`), [
        'spec.readinessProbe.exec: unknown field "exec"; expected one of: httpGet, tcpSocket, initialDelaySeconds, periodSeconds, timeoutSeconds, successThreshold, failureThreshold',
      ]);
    });

    it('requires the probed port to be a declared port, by number or name', () => {
      assert.deepEqual(findings(`${BASE}\n${HTTP_PORT}\nreadinessProbe: {httpGet: {path: /health, port: 9081}}`), [
        "spec.readinessProbe.httpGet.port: port 9081 is not one of the workload's ports: 9080 (http)",
      ]);
      assert.deepEqual(findings(`${BASE}\n${HTTP_PORT}\nreadinessProbe: {tcpSocket: {port: grpc}}`), [
        'spec.readinessProbe.tcpSocket.port: port "grpc" is not one of the workload\'s ports: 9080 (http)',
      ]);
      assert.deepEqual(findings(`${BASE}\nreadinessProbe: {tcpSocket: {port: 9080}}`), [
        'spec.readinessProbe.tcpSocket.port: the workload declares no ports; add the probed port to spec.ports',
      ]);
    });

    it('wants an absolute path, a port number unquoted and valid header names', () => {
      assert.deepEqual(findings(`${BASE}\n${HTTP_PORT}\nreadinessProbe: {httpGet: {path: health, port: "9080", httpHeaders: [{name: "bad header", value: x}]}}`), [
        'spec.readinessProbe.httpGet.port: "9080" is a string, so it would name a port; write 9080 without quotes for a port number',
        'spec.readinessProbe.httpGet.path: must be an absolute path starting with \'/\', got "health"',
        'spec.readinessProbe.httpGet.httpHeaders[0].name: "bad header" is not a valid header name',
      ]);
    });

    it('checks timing bounds', () => {
      assert.deepEqual(findings(`${BASE}\n${HTTP_PORT}\nreadinessProbe: {tcpSocket: {port: 9080}, periodSeconds: 0, initialDelaySeconds: -1}`), [
        'spec.readinessProbe.initialDelaySeconds: must be at least 0, got integer -1',
        'spec.readinessProbe.periodSeconds: must be at least 1, got integer 0',
      ]);
    });
  });

  describe('unknown fields', () => {
    it('suggests the field that was meant', () => {
      assert.deepEqual(findings(`${BASE}\nserviceAcount: reviews\nreplica: 2`), [
        'spec.serviceAcount: unknown field "serviceAcount" (did you mean "serviceAccount"?)',
        'spec.replica: unknown field "replica" (did you mean "replicas"?)',
      ]);
    });

    it('places an error on the line of the field', () => {
      const result = workload(`${BASE}\nreplicas: 99`);
      assert.equal(result.diagnostics[0]!.origin?.line, 9);
    });
  });
});
