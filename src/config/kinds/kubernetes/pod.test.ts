import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatDiagnostic, type ParsedConfig } from '../../index.ts';
import { assertValid, parseYaml, problems, resourceYaml } from '../../test-support.ts';
import { portNameProblem, quantityValue } from './pod.ts';

/** Parses one Pod whose spec is `spec`, written without indentation. */
function pod(spec: string): ParsedConfig {
  return parseYaml(resourceYaml('v1', 'Pod', spec, { name: 'reviews-v1-abc12', namespace: 'bookinfo' }));
}

const APP = `containers:
- name: app
  image: app:1`;

describe('Pod', () => {
  describe('accepted forms', () => {
    it('accepts a full bookinfo-style pod with a native sidecar', () => {
      const result = pod(`
serviceAccountName: bookinfo-reviews
automountServiceAccountToken: true
restartPolicy: Always
terminationGracePeriodSeconds: 30
dnsPolicy: ClusterFirst
nodeSelector: {kubernetes.io/os: linux}
tolerations: [{key: dedicated, operator: Equal, value: mesh, effect: NoSchedule}]
affinity: {podAntiAffinity: {preferredDuringSchedulingIgnoredDuringExecution: []}}
securityContext: {runAsNonRoot: true, fsGroup: 1337}
imagePullSecrets: [{name: regcred}]
volumes:
- name: istio-envoy
  emptyDir: {medium: Memory}
- name: tmp
  emptyDir: {}
initContainers:
- name: istio-proxy
  image: weft/proxy:1.0
  restartPolicy: Always
  args: [proxy, sidecar]
  env:
  - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
  - {name: INSTANCE_IP, valueFrom: {fieldRef: {apiVersion: v1, fieldPath: status.podIP}}}
  - {name: CPU_LIMIT, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}}
  ports: [{containerPort: 15090, name: http-envoy-prom, protocol: TCP}]
  readinessProbe: {httpGet: {path: /healthz/ready, port: 15021}, periodSeconds: 15}
  volumeMounts: [{name: istio-envoy, mountPath: /etc/istio/proxy}]
  securityContext: {runAsUser: 1337, capabilities: {drop: [ALL]}}
containers:
- name: reviews
  image: docker.io/istio/examples-bookinfo-reviews-v1:1.20.2
  imagePullPolicy: IfNotPresent
  command: [/opt/ibm/wlp/bin/server]
  args: [run, defaultServer]
  workingDir: /opt
  ports: [{containerPort: 9080, name: http}]
  envFrom: [{configMapRef: {name: reviews-config}, prefix: REVIEWS_}]
  env:
  - {name: LOG_DIR, value: /tmp/logs}
  - {name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: db, key: password}}}
  resources:
    requests: {cpu: 100m, memory: 128Mi, ephemeral-storage: 1Gi}
    limits: {cpu: "1", memory: 1Gi, example.com/gpu: 1}
  livenessProbe: {tcpSocket: {port: 9080}}
  startupProbe: {exec: {command: [cat, /tmp/ready]}}
  lifecycle: {preStop: {sleep: {seconds: 5}}}
  volumeMounts: [{name: tmp, mountPath: /tmp, readOnly: false}]
  terminationMessagePolicy: FallbackToLogsOnError
  stdin: false
  tty: false
`);
      assertValid(result);
    });

    it('accepts plain numbers as quantities (cpu: 0.1, memory: 200)', () => {
      assertValid(pod(`${APP}\n  resources: {requests: {cpu: 0.1, memory: 200}, limits: {cpu: 1, memory: 1e9}}`));
    });

    it('defaults a container port protocol to TCP', () => {
      const result = pod(`${APP}\n  ports: [{containerPort: 8080}]`);
      assertValid(result);
      const object = result.resources[0]!.object as { spec: { containers: { ports: { protocol: string }[] }[] } };
      assert.equal(object.spec.containers[0]!.ports[0]!.protocol, 'TCP');
    });

    it('accepts fields it does not model closely (os, topologySpreadConstraints, hostAliases, overhead)', () => {
      assertValid(pod(`${APP}
os: {name: linux}
topologySpreadConstraints: [{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule}]
hostAliases: [{ip: 10.0.0.1, hostnames: [db.local]}]
overhead: {cpu: 250m}
schedulingGates: [{name: example.com/gate}]
priorityClassName: system-node-critical
preemptionPolicy: Never
enableServiceLinks: false
setHostnameAsFQDN: true
hostname: reviews
subdomain: reviews-headless`));
    });

    it('accepts the deprecated serviceAccount alias', () => {
      assertValid(pod(`serviceAccount: bookinfo-reviews\n${APP}`));
    });
  });

  describe('PodSpec', () => {
    it('requires at least one container', () => {
      assert.deepEqual(problems(pod('containers: []')), ['spec.containers: must have at least 1 item, got 0']);
    });

    it('rejects a Pod with no spec', () => {
      const result = parseYaml('apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n');
      assert.deepEqual(problems(result), ['spec: required field is missing']);
    });

    it('rejects an unknown PodSpec field with a suggestion', () => {
      const result = pod(`serviceAcountName: reviews\n${APP}`);
      assert.deepEqual(problems(result), ['spec.serviceAcountName: unknown field "serviceAcountName" (did you mean "serviceAccountName"?)']);
      const d = result.diagnostics[0]!;
      assert.equal(d.code, 'WFT0106');
      assert.equal(d.origin?.line, 7);
      assert.equal(formatDiagnostic(d), 'Error [WFT0106] (Pod bookinfo/reviews-v1-abc12 test.yaml:7:3) spec.serviceAcountName: unknown field "serviceAcountName" (did you mean "serviceAccountName"?)');
    });

    it('rejects a serviceAccountName that is not a DNS-1123 subdomain', () => {
      assert.deepEqual(problems(pod(`serviceAccountName: Reviews_SA\n${APP}`)), [
        'spec.serviceAccountName: "Reviews_SA" is not a DNS-1123 subdomain (lower-case letters, digits, \'-\' and \'.\', at most 253 characters, starting and ending with a letter or digit)',
      ]);
    });

    it('rejects unsupported restartPolicy and dnsPolicy values', () => {
      assert.deepEqual(problems(pod(`restartPolicy: always\ndnsPolicy: ClusterFirstWithHost\n${APP}`)), [
        'spec.restartPolicy: must be one of Always, OnFailure, Never, got string "always" (did you mean "Always"?)',
        'spec.dnsPolicy: must be one of ClusterFirstWithHostNet, ClusterFirst, Default, None, got string "ClusterFirstWithHost" (did you mean "ClusterFirstWithHostNet"?)',
      ]);
    });

    it('requires dnsConfig when dnsPolicy is None', () => {
      assert.deepEqual(problems(pod(`dnsPolicy: None\n${APP}`)), ['spec.dnsConfig: dnsConfig with at least one nameserver is required when dnsPolicy is None']);
    });

    it('rejects nodeSelector values that are not label values', () => {
      assert.deepEqual(problems(pod(`nodeSelector: {zone: "us east"}\n${APP}`)), [
        'spec.nodeSelector.zone: label value "us east" is not valid (at most 63 letters, digits, \'-\', \'_\' and \'.\', starting and ending with a letter or digit)',
      ]);
    });

    it('rejects a negative terminationGracePeriodSeconds and a zero activeDeadlineSeconds', () => {
      assert.deepEqual(problems(pod(`terminationGracePeriodSeconds: -1\nactiveDeadlineSeconds: 0\n${APP}`)), [
        'spec.terminationGracePeriodSeconds: must be at least 0, got integer -1',
        'spec.activeDeadlineSeconds: must be at least 1, got integer 0',
      ]);
    });

    it('rejects hostPID together with shareProcessNamespace', () => {
      assert.deepEqual(problems(pod(`hostPID: true\nshareProcessNamespace: true\n${APP}`)), ['spec.shareProcessNamespace: hostPID and shareProcessNamespace cannot both be true']);
    });

    it('rejects container names used twice, across containers and init containers', () => {
      const result = pod(`initContainers:
- {name: app, image: init}
containers:
- {name: app, image: a}
- {name: app, image: b}`);
      assert.deepEqual(problems(result), [
        'spec.containers[1].name: duplicate container name "app" (already used by containers[0]; names must be unique across containers, initContainers and ephemeralContainers)',
        'spec.initContainers[0].name: duplicate container name "app" (already used by containers[0]; names must be unique across containers, initContainers and ephemeralContainers)',
      ]);
    });

    it('rejects volumes with the same name and mounts of undeclared volumes', () => {
      const result = pod(`volumes: [{name: data, emptyDir: {}}, {name: data, configMap: {name: c}}]
containers:
- name: app
  image: app
  volumeMounts: [{name: dat, mountPath: /data}]`);
      assert.deepEqual(problems(result), [
        'spec.volumes[1].name: duplicate volume name "data" (already used by volumes[0])',
        'spec.containers[0].volumeMounts[0].name: no volume named "dat" in spec.volumes',
      ]);
    });

    it('requires hostPort to equal containerPort on the host network', () => {
      const result = pod(`hostNetwork: true
containers:
- name: app
  image: app
  ports: [{containerPort: 80, hostPort: 8080}, {containerPort: 81}]`);
      assert.deepEqual(problems(result), ['spec.containers[0].ports[0].hostPort: must equal containerPort (80) when hostNetwork is true, got 8080']);
    });

    it('rejects a volume without a name but accepts any volume source', () => {
      assert.deepEqual(problems(pod(`volumes: [{emptyDir: {}}, {name: a, someFutureSource: {x: 1}}]\n${APP}`)), ['spec.volumes[0].name: required field is missing']);
    });
  });

  describe('Container', () => {
    it('rejects an unknown container field with a suggestion', () => {
      assert.deepEqual(problems(pod(`${APP}\n  imagePullPolice: Always`)), [
        'spec.containers[0].imagePullPolice: unknown field "imagePullPolice" (did you mean "imagePullPolicy"?)',
      ]);
    });

    it('requires a name, and a name that is a DNS-1123 label', () => {
      assert.deepEqual(problems(pod('containers: [{image: a}, {name: My_App, image: b}]')), [
        'spec.containers[0].name: required field is missing',
        'spec.containers[1].name: "My_App" is not a DNS-1123 label (at most 63 lower-case letters, digits and \'-\', starting and ending with a letter or digit)',
      ]);
    });

    it('requires an image', () => {
      assert.deepEqual(problems(pod('containers: [{name: app}]')), ['spec.containers[0].image: an image is required (the container image to run, e.g. "nginx:1.27")']);
    });

    it('rejects an unknown imagePullPolicy', () => {
      assert.deepEqual(problems(pod(`${APP}\n  imagePullPolicy: IfNotPresnt`)), [
        'spec.containers[0].imagePullPolicy: must be one of Always, IfNotPresent, Never, got string "IfNotPresnt" (did you mean "IfNotPresent"?)',
      ]);
    });

    it('rejects a wrong type for command', () => {
      assert.deepEqual(problems(pod(`${APP}\n  command: /bin/app`)), ['spec.containers[0].command: expected a list, got string "/bin/app"']);
    });

    it('allows restartPolicy only on init containers', () => {
      assert.deepEqual(problems(pod(`${APP}\n  restartPolicy: Always`)), [
        'spec.containers[0].restartPolicy: may be set only on init containers (restartPolicy: Always there makes a sidecar container)',
      ]);
      assert.deepEqual(problems(pod(`initContainers: [{name: init, image: i, restartPolicy: OnFailure}]\n${APP}`)), [
        'spec.initContainers[0].restartPolicy: must be one of Always, got string "OnFailure"',
      ]);
    });

    it('refuses probes and lifecycle on init containers that are not sidecars', () => {
      const result = pod(`initContainers:
- name: init
  image: busybox
  readinessProbe: {httpGet: {port: 80}}
  lifecycle: {postStart: {exec: {command: [true]}}}
${APP}`);
      assert.deepEqual(problems(result), [
        'spec.initContainers[0].lifecycle: may not be set on an init container unless it is a sidecar (restartPolicy: Always)',
        'spec.initContainers[0].readinessProbe: may not be set on an init container unless it is a sidecar (restartPolicy: Always)',
      ]);
    });
  });

  describe('ports', () => {
    it('requires containerPort and checks its range', () => {
      assert.deepEqual(problems(pod(`${APP}\n  ports: [{name: http}, {containerPort: 70000}]`)), [
        'spec.containers[0].ports[0].containerPort: required field is missing',
        'spec.containers[0].ports[1].containerPort: must be at most 65535, got integer 70000',
      ]);
    });

    it('rejects port names that are not IANA service names', () => {
      assert.deepEqual(problems(pod(`${APP}\n  ports: [{containerPort: 1, name: http-metrics-port}, {containerPort: 2, name: "8080"}, {containerPort: 3, name: HTTP}]`)), [
        'spec.containers[0].ports[0].name: port name "http-metrics-port" is longer than 15 characters',
        'spec.containers[0].ports[1].name: port name "8080" must contain at least one letter',
        'spec.containers[0].ports[2].name: port name "HTTP" may contain only lower-case letters, digits and \'-\'',
      ]);
    });

    it('rejects the same port name twice in a container', () => {
      assert.deepEqual(problems(pod(`${APP}\n  ports: [{containerPort: 80, name: http}, {containerPort: 81, name: http}]`)), [
        'spec.containers[0].ports[1].name: duplicate port name "http" (already used by ports[0]; names must be unique within a container)',
      ]);
    });

    it('rejects an unknown protocol with a suggestion and a bad hostIP', () => {
      assert.deepEqual(problems(pod(`${APP}\n  ports: [{containerPort: 53, protocol: udp, hostIP: localhost}]`)), [
        'spec.containers[0].ports[0].protocol: must be one of TCP, UDP, SCTP, got string "udp" (did you mean "UDP"?)',
        'spec.containers[0].ports[0].hostIP: "localhost" is not an IP address',
      ]);
    });
  });

  describe('env', () => {
    it('rejects value together with valueFrom', () => {
      assert.deepEqual(problems(pod(`${APP}\n  env: [{name: A, value: x, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]`)), [
        'spec.containers[0].env[0].valueFrom: only one of value or valueFrom may be set',
      ]);
    });

    it('requires exactly one source in valueFrom', () => {
      assert.deepEqual(problems(pod(`${APP}\n  env:\n  - {name: A, valueFrom: {}}\n  - {name: B, valueFrom: {fieldRef: {fieldPath: metadata.name}, secretKeyRef: {name: s, key: k}}}`)), [
        'spec.containers[0].env[0].valueFrom: must set one of fieldRef, resourceFieldRef, configMapKeyRef or secretKeyRef',
        'spec.containers[0].env[1].valueFrom: only one of fieldRef, resourceFieldRef, configMapKeyRef or secretKeyRef may be set, got fieldRef and secretKeyRef',
      ]);
    });

    it('rejects a non-string value (Kubernetes does not convert numbers)', () => {
      assert.deepEqual(problems(pod(`${APP}\n  env: [{name: PORT, value: 8080}]`)), ['spec.containers[0].env[0].value: expected a string, got integer 8080']);
    });

    it('rejects an empty name and a name with "="', () => {
      assert.deepEqual(problems(pod(`${APP}\n  env: [{name: "", value: a}, {name: "A=B", value: b}]`)), [
        'spec.containers[0].env[0].name: name must not be empty',
        'spec.containers[0].env[1].name: "A=B" is not a valid environment variable name (printable ASCII characters other than \'=\')',
      ]);
    });

    it('requires configMapRef or secretRef in envFrom', () => {
      assert.deepEqual(problems(pod(`${APP}\n  envFrom: [{prefix: X_}]`)), ['spec.containers[0].envFrom[0]: must set configMapRef or secretRef']);
    });

    it('rejects unknown fields in a secretKeyRef', () => {
      assert.deepEqual(problems(pod(`${APP}\n  env: [{name: A, valueFrom: {secretKeyRef: {name: s, keys: k}}}]`)), [
        'spec.containers[0].env[0].valueFrom.secretKeyRef.key: required field is missing',
        'spec.containers[0].env[0].valueFrom.secretKeyRef.keys: unknown field "keys" (did you mean "key"?)',
      ]);
    });
  });

  describe('resources', () => {
    it('rejects a quantity written with a unit Kubernetes does not know, with a suggestion', () => {
      assert.deepEqual(problems(pod(`${APP}\n  resources: {limits: {memory: 512MB, cpu: "half"}}`)), [
        'spec.containers[0].resources.limits.memory: "512MB" is not a quantity (a number with an optional suffix, such as 100m, 0.5, 128Mi, 1Gi or 1e3) (did you mean "512M"?)',
        'spec.containers[0].resources.limits.cpu: "half" is not a quantity (a number with an optional suffix, such as 100m, 0.5, 128Mi, 1Gi or 1e3)',
      ]);
    });

    it('rejects negative quantities', () => {
      assert.deepEqual(problems(pod(`${APP}\n  resources: {requests: {cpu: -1}}`)), ['spec.containers[0].resources.requests.cpu: must not be negative, got -1']);
    });

    it('rejects a resource name that is not a container resource, with a suggestion', () => {
      assert.deepEqual(problems(pod(`${APP}\n  resources: {requests: {mem: 1Gi, cpus: 1}}`)), [
        'spec.containers[0].resources.requests.mem: "mem" is not a container resource (expected cpu, memory, ephemeral-storage, hugepages-<size>, or an extended resource with a domain such as example.com/gpu) (did you mean "memory"?)',
        'spec.containers[0].resources.requests.cpus: "cpus" is not a container resource (expected cpu, memory, ephemeral-storage, hugepages-<size>, or an extended resource with a domain such as example.com/gpu) (did you mean "cpu"?)',
      ]);
    });

    it('rejects a request above its limit', () => {
      assert.deepEqual(problems(pod(`${APP}\n  resources: {requests: {cpu: 2, memory: 1Gi}, limits: {cpu: 500m, memory: 1024Mi}}`)), [
        'spec.containers[0].resources.requests.cpu: must be less than or equal to the cpu limit (500m), got 2',
      ]);
    });

    it('rejects an unknown field in resources with a suggestion', () => {
      assert.deepEqual(problems(pod(`${APP}\n  resources: {request: {cpu: 1}}`)), [
        'spec.containers[0].resources.request: unknown field "request" (did you mean "requests"?)',
      ]);
    });
  });
});

describe('quantityValue', () => {
  it('reads decimal, binary and exponent suffixes', () => {
    assert.equal(quantityValue('100m'), 0.1);
    assert.equal(quantityValue('1Ki'), 1024);
    assert.equal(quantityValue('2Gi'), 2 * 1024 ** 3);
    assert.equal(quantityValue('1.5k'), 1500);
    assert.equal(quantityValue('1E'), 1e18);
    assert.equal(quantityValue('1e3'), 1000);
    assert.equal(quantityValue('.5'), 0.5);
    assert.equal(quantityValue(200), 200);
  });

  it('refuses what is not a quantity', () => {
    for (const bad of ['1e', '1 Gi', 'Mi', '1mi', '1GB', '']) assert.equal(quantityValue(bad), undefined, bad);
  });
});

describe('portNameProblem', () => {
  it('follows the IANA service name rule', () => {
    assert.equal(portNameProblem('http-envoy-prom'), undefined);
    assert.equal(portNameProblem('a--b'), 'port name "a--b" must not contain "--"');
    assert.equal(portNameProblem('-http'), 'port name "-http" must not start or end with \'-\'');
  });
});
