/**
 * LocalWorkload (local.weft.dev/v1alpha1): a workload of Weft's own that `weft up` runs as local
 * processes, each replica with a sidecar. It says what a Deployment's pod template says, reduced to
 * what a process needs: the labels that Services, subsets and policies select, the service
 * account that is its identity, the ports it listens on, the command, its environment, and a
 * readiness probe. docs/local-workload.md is the user's reference and the contract with `weft up`.
 *
 * Several workloads declare the same containerPort (every bookinfo service says 9080), and
 * replicas share one host, so the declared ports are names for the Service's targetPort, not the
 * ports the processes bind: `weft up` gives each replica free ports and passes them in `PORT` and
 * `PORT_<NAME>`. The environment names that `weft up` sets are therefore refused in `env`.
 */
import * as z from 'zod';
import { addIssue, ALWAYS, crossField, dns1123Subdomain, labels, portNumber } from '../../schema/common.ts';
import { defineKind, kubernetesObject } from '../kind-definition.ts';
import { portName, Protocol } from '../kubernetes/pod.ts';
import { targetPort } from '../kubernetes/service.ts';

export const LOCAL_WEFT_GROUP = 'local.weft.dev';
export const LOCAL_WEFT_VERSIONS = ['v1alpha1'] as const;

export const MAX_REPLICAS = 20;

/** The environment variable that carries the port `weft up` assigned to the declared port named `name`. */
export function portEnvName(name: string): string {
  return `PORT_${name.toUpperCase().replaceAll('-', '_')}`;
}

/** The environment variables `weft up` sets, with what each carries (users may not set them). */
const RESERVED_ENV: Readonly<Record<string, string>> = {
  PORT: 'the port the app must listen on',
  WEFT_WORKLOAD: "the workload's name",
  WEFT_NAMESPACE: "the workload's namespace",
  POD_NAME: "the replica's name",
  HTTP_PROXY: "the sidecar's address in explicit mode",
  http_proxy: "the sidecar's address in explicit mode",
  NO_PROXY: 'the addresses that bypass the sidecar in explicit mode',
  no_proxy: 'the addresses that bypass the sidecar in explicit mode',
  NODE_USE_ENV_PROXY: "whether Node sends its requests through the sidecar in explicit mode",
};

/** A C identifier, the portable form of an environment variable name (a shell can set and read it). */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const LocalWorkloadPort = z.strictObject({
  name: portName.optional(),
  containerPort: portNumber,
  protocol: Protocol.default('TCP'),
});
export type LocalWorkloadPort = z.infer<typeof LocalWorkloadPort>;

export const LocalEnvVar = z.strictObject({
  name: z.string(),
  value: z.string().default(''),
});
export type LocalEnvVar = z.infer<typeof LocalEnvVar>;

export const HTTPHeader = z.strictObject({ name: z.string(), value: z.string() });
export type HTTPHeader = z.infer<typeof HTTPHeader>;

export const HTTPGetAction = z
  .strictObject({
    path: z.string().default('/'),
    port: targetPort,
    httpHeaders: z.array(HTTPHeader).optional(),
  })
  .superRefine(crossField((action, ctx) => {
    if (!action.path.startsWith('/')) addIssue(ctx, ['path'], `must be an absolute path starting with '/', got "${action.path}"`);
    action.httpHeaders?.forEach((header, i) => {
      if (!/^[-!#$%&'*+.^_`|~0-9A-Za-z]+$/.test(header.name)) addIssue(ctx, ['httpHeaders', i, 'name'], `"${header.name}" is not a valid header name`);
    });
  }), ALWAYS);
export type HTTPGetAction = z.infer<typeof HTTPGetAction>;

export const TCPSocketAction = z.strictObject({ port: targetPort });
export type TCPSocketAction = z.infer<typeof TCPSocketAction>;

const seconds = (min: number) => z.number().int().min(min).max(3600);
const threshold = z.number().int().min(1).max(1000);

/** Kubernetes' probe, reduced to HTTP GET and TCP connect, with Kubernetes' defaults. */
export const Probe = z
  .strictObject({
    httpGet: HTTPGetAction.optional(),
    tcpSocket: TCPSocketAction.optional(),
    initialDelaySeconds: seconds(0).default(0),
    periodSeconds: seconds(1).default(10),
    timeoutSeconds: seconds(1).default(1),
    successThreshold: threshold.default(1),
    failureThreshold: threshold.default(3),
  })
  .superRefine(crossField((probe, ctx) => {
    if (probe.httpGet === undefined && probe.tcpSocket === undefined) addIssue(ctx, [], 'must set httpGet or tcpSocket (exec and grpc probes are not supported in local mode)');
    if (probe.httpGet !== undefined && probe.tcpSocket !== undefined) addIssue(ctx, [], 'only one of httpGet or tcpSocket may be set');
  }), ALWAYS);
export type Probe = z.infer<typeof Probe>;

export const LocalWorkloadSpec = z
  .strictObject({
    labels,
    serviceAccount: dns1123Subdomain.default('default'),
    ports: z.array(LocalWorkloadPort).default([]),
    command: z.array(z.string()),
    workingDir: z.string().default('.'),
    env: z.array(LocalEnvVar).default([]),
    replicas: z.number().int().min(0).max(MAX_REPLICAS).default(1),
    readinessProbe: Probe.optional(),
  })
  .superRefine(crossField((spec, ctx) => {
    if (spec.labels !== undefined) {
      const app = spec.labels['app'];
      if (app === undefined) addIssue(ctx, ['labels'], 'must include the "app" label (Services select workloads by it, and telemetry names them by it), e.g. {app: reviews, version: v1}');
      else if (app === '') addIssue(ctx, ['labels', 'app'], 'the "app" label must not be empty');
    }
    if (spec.command !== undefined) {
      if (spec.command.length === 0) addIssue(ctx, ['command'], 'must name the program to run and its arguments, e.g. [node, server.ts]');
      else if (spec.command[0] === '') addIssue(ctx, ['command', 0], 'the program to run must not be empty');
    }
    if (spec.workingDir === '') addIssue(ctx, ['workingDir'], 'must not be empty (leave it out to run in the directory of this file)');
    const ports = spec.ports ?? [];
    checkPorts(ports, ctx);
    checkEnv(spec.env ?? [], ports, ctx);
    const probe = spec.readinessProbe;
    const action = probe?.httpGet !== undefined ? 'httpGet' : probe?.tcpSocket !== undefined ? 'tcpSocket' : undefined;
    if (action !== undefined) {
      const port = probe?.[action]?.port;
      const path = ['readinessProbe', action, 'port'];
      // A port that is itself malformed is reported as such, not looked up.
      const malformed = ctx.issues.some((issue) => path.every((segment, i) => issue.path?.[i] === segment));
      if (port !== undefined && !malformed) checkProbePort(port, ports, path, ctx);
    }
  }), ALWAYS);
export type LocalWorkloadSpec = z.infer<typeof LocalWorkloadSpec>;

type RefineContext = z.core.$RefinementCtx<unknown>;

function checkPorts(ports: readonly LocalWorkloadPort[], ctx: RefineContext): void {
  const names = new Map<string, number>();
  const numbers = new Map<number, number>();
  ports.forEach((port, i) => {
    if (port.protocol === 'UDP' || port.protocol === 'SCTP') {
      addIssue(ctx, ['ports', i, 'protocol'], `only TCP is supported in local mode (the sidecar carries TCP only), got ${port.protocol}`);
    }
    if (port.name !== undefined) {
      const first = names.get(port.name);
      if (first !== undefined) addIssue(ctx, ['ports', i, 'name'], `duplicate port name "${port.name}" (already used by ports[${first}])`);
      else names.set(port.name, i);
    }
    if (port.containerPort !== undefined) {
      const first = numbers.get(port.containerPort);
      if (first !== undefined) addIssue(ctx, ['ports', i, 'containerPort'], `duplicate port ${port.containerPort} (already declared by ports[${first}])`);
      else numbers.set(port.containerPort, i);
    }
  });
}

function checkEnv(env: readonly LocalEnvVar[], ports: readonly LocalWorkloadPort[], ctx: RefineContext): void {
  const portEnv = new Map(ports.flatMap((p) => (p.name !== undefined ? [[portEnvName(p.name), p.name] as const] : [])));
  const seen = new Map<string, number>();
  env.forEach((variable, i) => {
    const name = variable.name;
    if (name === undefined) return;
    if (name === '') {
      addIssue(ctx, ['env', i, 'name'], 'name must not be empty');
      return;
    }
    if (!ENV_NAME.test(name)) {
      addIssue(ctx, ['env', i, 'name'], `"${name}" is not a valid environment variable name (letters, digits and '_', not starting with a digit)`);
      return;
    }
    const reserved = RESERVED_ENV[name];
    const port = portEnv.get(name);
    if (reserved !== undefined) addIssue(ctx, ['env', i, 'name'], `${name} is set by weft up (${reserved}); remove it from env`);
    else if (name.startsWith('WEFT_')) addIssue(ctx, ['env', i, 'name'], `names starting with WEFT_ are reserved for weft up; rename ${name}`);
    else if (port !== undefined) addIssue(ctx, ['env', i, 'name'], `${name} is set by weft up (the port assigned to port "${port}"); remove it from env`);
    const first = seen.get(name);
    if (first !== undefined) addIssue(ctx, ['env', i, 'name'], `duplicate environment variable ${name} (already set by env[${first}])`);
    else seen.set(name, i);
  });
}

/** A probe targets one of the declared ports, by number or name, since `weft up` maps those to the ports the replica binds. */
function checkProbePort(port: number | string, ports: readonly LocalWorkloadPort[], path: PropertyKey[], ctx: RefineContext): void {
  if (ports.length === 0) {
    addIssue(ctx, path, 'the workload declares no ports; add the probed port to spec.ports');
    return;
  }
  const found = typeof port === 'number' ? ports.some((p) => p.containerPort === port) : ports.some((p) => p.name === port);
  if (found) return;
  const declared = ports.map((p) => (p.name !== undefined ? `${p.containerPort} (${p.name})` : String(p.containerPort))).join(', ');
  addIssue(ctx, path, `${typeof port === 'number' ? `port ${port}` : `port "${port}"`} is not one of the workload's ports: ${declared}`);
}

export const LocalWorkloadKind = defineKind({
  kind: 'LocalWorkload',
  group: LOCAL_WEFT_GROUP,
  versions: LOCAL_WEFT_VERSIONS,
  namespaced: true,
  schema: kubernetesObject({ spec: LocalWorkloadSpec, status: z.unknown().optional() }),
});
export type LocalWorkload = z.infer<typeof LocalWorkloadKind.schema>;
