/**
 * Pod (v1), and the PodSpec, Container and PodTemplateSpec that Deployments reuse.
 *
 * PodSpec is huge and grows with every Kubernetes release, and the API server validates it anyway.
 * So the schema is strict where the mesh reads (the top level of PodSpec, so a misspelt field is
 * caught with a suggestion; containers and init containers, whose names, ports, env, resources and
 * probes sidecar injection and the service registry use; serviceAccountName, which is the workload's
 * identity; hostNetwork; volumes and volume mounts, which injection adds to) and checks those with
 * Kubernetes' own rules, but tolerant below fields the mesh never reads (affinity, tolerations,
 * securityContext, probe bodies, volume sources, ...): those take any mapping, so a field added by
 * a newer Kubernetes is not refused.
 */
import * as z from 'zod';
import { closestMatch } from '../../../core/index.ts';
import {
  addIssue, ALWAYS, crossField, dns1123Label, dns1123Subdomain, int32, ipAddress, labelKeyProblem, labels, portNumber,
} from '../../schema/common.ts';
import { defineKind, kubernetesObject } from '../kind-definition.ts';
import { objectMeta } from '../object-meta.ts';

/** A mapping whose contents the mesh does not read, so Weft leaves them to Kubernetes. */
const opaque = z.looseObject({});

export const Protocol = z.enum(['TCP', 'UDP', 'SCTP']);
export type Protocol = z.infer<typeof Protocol>;

/** Why `name` is not an IANA service name (a named container port), or undefined when it is. */
export function portNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'port name must not be empty';
  if (name.length > 15) return `port name "${name}" is longer than 15 characters`;
  if (!/^[-a-z0-9]+$/.test(name)) return `port name "${name}" may contain only lower-case letters, digits and '-'`;
  if (!/[a-z]/.test(name)) return `port name "${name}" must contain at least one letter`;
  if (name.includes('--')) return `port name "${name}" must not contain "--"`;
  if (name.startsWith('-') || name.endsWith('-')) return `port name "${name}" must not start or end with '-'`;
  return undefined;
}

/** A named port (IANA_SVC_NAME): at most 15 lower-case letters, digits and '-', with at least one letter. */
export const portName = z.string().check((ctx) => {
  const problem = portNameProblem(ctx.value);
  if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
});

const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;
const SUFFIX_FACTOR: Readonly<Record<string, number>> = {
  '': 1, n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** The value of a Kubernetes quantity (`100m` is 0.1, `1Ki` is 1024), or undefined when it is not one. */
export function quantityValue(quantity: string | number): number | undefined {
  if (typeof quantity === 'number') return quantity;
  const match = QUANTITY.exec(quantity);
  if (match === null) return undefined;
  const suffix = match[2] ?? '';
  const factor = /^[eE][+-]?\d/.test(suffix) ? 10 ** Number(suffix.slice(1)) : SUFFIX_FACTOR[suffix];
  return factor === undefined ? undefined : Number(match[1]) * factor;
}

/** A Kubernetes quantity: `100m`, `0.5`, `128Mi`, `1Gi`, `1e3`, or a plain YAML number (`cpu: 0.1`, `memory: 200`). */
export const Quantity = z.union([z.number(), z.string()]).check((ctx) => {
  const value = quantityValue(ctx.value);
  if (value === undefined) {
    const unit = typeof ctx.value === 'string' ? /^([\d.]+)\s*([kKMGTPE])(i?)[bB]$/.exec(ctx.value) : null;
    const hint = unit !== null ? ` (did you mean "${unit[1]}${unit[2] === 'K' && unit[3] === '' ? 'k' : unit[2]}${unit[3]}"?)` : '';
    ctx.issues.push({ code: 'custom', message: `"${String(ctx.value)}" is not a quantity (a number with an optional suffix, such as 100m, 0.5, 128Mi, 1Gi or 1e3)${hint}`, input: ctx.value });
  } else if (value < 0) {
    ctx.issues.push({ code: 'custom', message: `must not be negative, got ${String(ctx.value)}`, input: ctx.value });
  }
});
export type Quantity = z.infer<typeof Quantity>;

const STANDARD_CONTAINER_RESOURCES = ['cpu', 'memory', 'ephemeral-storage'];

function resourceNameProblem(name: string): string | undefined {
  if (name.includes('/')) {
    return labelKeyProblem(name) === undefined ? undefined : `"${name}" is not a valid resource name (a DNS subdomain, '/', and a name, such as example.com/gpu)`;
  }
  if (STANDARD_CONTAINER_RESOURCES.includes(name)) return undefined;
  if (name.startsWith('hugepages-') && quantityValue(name.slice('hugepages-'.length)) !== undefined) return undefined;
  const suggestion = STANDARD_CONTAINER_RESOURCES.find((r) => name.length > 1 && r.startsWith(name)) ?? closestMatch(name, STANDARD_CONTAINER_RESOURCES);
  const hint = suggestion !== undefined ? ` (did you mean "${suggestion}"?)` : '';
  return `"${name}" is not a container resource (expected cpu, memory, ephemeral-storage, hugepages-<size>, or an extended resource with a domain such as example.com/gpu)${hint}`;
}

/** Resource name to quantity, as in `requests` and `limits`. */
export const ResourceList = z.record(z.string(), Quantity).superRefine(crossField((map, ctx) => {
  for (const name of Object.keys(map)) {
    const problem = resourceNameProblem(name);
    if (problem !== undefined) addIssue(ctx, [name], problem);
  }
}), ALWAYS);
export type ResourceList = z.infer<typeof ResourceList>;

export const ResourceClaim = z.strictObject({ name: dns1123Label, request: z.string().optional() });
export type ResourceClaim = z.infer<typeof ResourceClaim>;

export const ResourceRequirements = z
  .strictObject({
    limits: ResourceList.optional(),
    requests: ResourceList.optional(),
    claims: z.array(ResourceClaim).optional(),
  })
  .superRefine(crossField((r, ctx) => {
    for (const [name, request] of Object.entries(r.requests ?? {})) {
      const limit = r.limits?.[name];
      if (limit === undefined) continue;
      const requested = quantityValue(request);
      const limited = quantityValue(limit);
      if (requested !== undefined && limited !== undefined && requested > limited) {
        addIssue(ctx, ['requests', name], `must be less than or equal to the ${name} limit (${String(limit)}), got ${String(request)}`);
      }
    }
  }), ALWAYS);
export type ResourceRequirements = z.infer<typeof ResourceRequirements>;

export const ContainerPort = z.strictObject({
  containerPort: portNumber,
  name: portName.optional(),
  protocol: Protocol.default('TCP'),
  hostPort: portNumber.optional(),
  hostIP: ipAddress.optional(),
});
export type ContainerPort = z.infer<typeof ContainerPort>;

export const ObjectFieldSelector = z.strictObject({ apiVersion: z.string().optional(), fieldPath: z.string() });
export type ObjectFieldSelector = z.infer<typeof ObjectFieldSelector>;

export const ResourceFieldSelector = z.strictObject({ containerName: z.string().optional(), resource: z.string(), divisor: Quantity.optional() });
export type ResourceFieldSelector = z.infer<typeof ResourceFieldSelector>;

const keySelector = z.strictObject({ name: dns1123Subdomain.optional(), key: z.string(), optional: z.boolean().optional() });

export const ConfigMapKeySelector = keySelector;
export type ConfigMapKeySelector = z.infer<typeof ConfigMapKeySelector>;
export const SecretKeySelector = keySelector;
export type SecretKeySelector = z.infer<typeof SecretKeySelector>;

const ENV_SOURCES = ['fieldRef', 'resourceFieldRef', 'configMapKeyRef', 'secretKeyRef', 'fileKeyRef'] as const;

export const EnvVarSource = z
  .strictObject({
    fieldRef: ObjectFieldSelector.optional(),
    resourceFieldRef: ResourceFieldSelector.optional(),
    configMapKeyRef: ConfigMapKeySelector.optional(),
    secretKeyRef: SecretKeySelector.optional(),
    fileKeyRef: opaque.optional(),
  })
  .superRefine(crossField((s, ctx) => {
    const set = ENV_SOURCES.filter((k) => s[k] !== undefined);
    if (set.length === 0) addIssue(ctx, [], 'must set one of fieldRef, resourceFieldRef, configMapKeyRef or secretKeyRef');
    if (set.length > 1) addIssue(ctx, [], `only one of fieldRef, resourceFieldRef, configMapKeyRef or secretKeyRef may be set, got ${set.join(' and ')}`);
  }), ALWAYS);
export type EnvVarSource = z.infer<typeof EnvVarSource>;

/** Kubernetes' relaxed rule for environment variable names: printable ASCII other than '='. */
const ENV_VAR_NAME = /^[\x20-\x3c\x3e-\x7e]+$/;

export const EnvVar = z
  .strictObject({ name: z.string(), value: z.string().optional(), valueFrom: EnvVarSource.optional() })
  .superRefine(crossField((e, ctx) => {
    if (e.name === '') addIssue(ctx, ['name'], 'name must not be empty');
    else if (!ENV_VAR_NAME.test(e.name)) addIssue(ctx, ['name'], `"${e.name}" is not a valid environment variable name (printable ASCII characters other than '=')`);
    if (e.value !== undefined && e.value !== '' && e.valueFrom !== undefined) addIssue(ctx, ['valueFrom'], 'only one of value or valueFrom may be set');
  }), ALWAYS);
export type EnvVar = z.infer<typeof EnvVar>;

const envSource = z.strictObject({ name: dns1123Subdomain, optional: z.boolean().optional() });

export const ConfigMapEnvSource = envSource;
export type ConfigMapEnvSource = z.infer<typeof ConfigMapEnvSource>;
export const SecretEnvSource = envSource;
export type SecretEnvSource = z.infer<typeof SecretEnvSource>;

export const EnvFromSource = z
  .strictObject({ prefix: z.string().optional(), configMapRef: ConfigMapEnvSource.optional(), secretRef: SecretEnvSource.optional() })
  .superRefine(crossField((e, ctx) => {
    if (e.configMapRef === undefined && e.secretRef === undefined) addIssue(ctx, [], 'must set configMapRef or secretRef');
    if (e.configMapRef !== undefined && e.secretRef !== undefined) addIssue(ctx, [], 'only one of configMapRef or secretRef may be set');
  }), ALWAYS);
export type EnvFromSource = z.infer<typeof EnvFromSource>;

export const VolumeMount = z.looseObject({ name: z.string(), mountPath: z.string() });
export type VolumeMount = z.infer<typeof VolumeMount>;

/** Probes: injection rewrites their HTTP targets as a whole; their bodies are left to Kubernetes to check. */
export const Probe = opaque;
export type Probe = z.infer<typeof Probe>;

export const Container = z
  .strictObject({
    name: dns1123Label,
    image: z.string().optional(),
    command: z.array(z.string()).optional(),
    args: z.array(z.string()).optional(),
    workingDir: z.string().optional(),
    ports: z.array(ContainerPort).optional(),
    envFrom: z.array(EnvFromSource).optional(),
    env: z.array(EnvVar).optional(),
    resources: ResourceRequirements.optional(),
    resizePolicy: z.array(opaque).optional(),
    restartPolicy: z.enum(['Always']).optional(),
    restartPolicyRules: z.array(opaque).optional(),
    volumeMounts: z.array(VolumeMount).optional(),
    volumeDevices: z.array(opaque).optional(),
    livenessProbe: Probe.optional(),
    readinessProbe: Probe.optional(),
    startupProbe: Probe.optional(),
    lifecycle: opaque.optional(),
    terminationMessagePath: z.string().optional(),
    terminationMessagePolicy: z.enum(['File', 'FallbackToLogsOnError']).optional(),
    imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
    securityContext: opaque.optional(),
    stdin: z.boolean().optional(),
    stdinOnce: z.boolean().optional(),
    tty: z.boolean().optional(),
  })
  .superRefine(crossField((c, ctx) => {
    // A missing image is reported here rather than as a missing field, so that the hint for a
    // removed apiVersion (which lists what the new version requires) does not name it.
    if (c.image === undefined || c.image === '') addIssue(ctx, ['image'], 'an image is required (the container image to run, e.g. "nginx:1.27")');
    const portNames = new Map<string, number>();
    c.ports?.forEach((port, i) => {
      if (port.name === undefined) return;
      const first = portNames.get(port.name);
      if (first !== undefined) addIssue(ctx, ['ports', i, 'name'], `duplicate port name "${port.name}" (already used by ports[${first}]; names must be unique within a container)`);
      else portNames.set(port.name, i);
    });
  }), ALWAYS);
export type Container = z.infer<typeof Container>;

/** A reference to an object in the same namespace by name only. */
export const LocalObjectReference = z.strictObject({ name: z.string().optional() });
export type LocalObjectReference = z.infer<typeof LocalObjectReference>;

export const Volume = z.looseObject({ name: dns1123Label });
export type Volume = z.infer<typeof Volume>;

const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'] as const;
const INIT_ONLY_WITH_RESTART = ['lifecycle', 'livenessProbe', 'readinessProbe', 'startupProbe'] as const;

export const PodSpec = z
  .strictObject({
    volumes: z.array(Volume).optional(),
    initContainers: z.array(Container).optional(),
    containers: z.array(Container).min(1),
    ephemeralContainers: z.array(z.looseObject({ name: dns1123Label })).optional(),
    restartPolicy: z.enum(['Always', 'OnFailure', 'Never']).optional(),
    terminationGracePeriodSeconds: z.number().int().min(0).optional(),
    activeDeadlineSeconds: z.number().int().min(1).max(2147483647).optional(),
    dnsPolicy: z.enum(['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None']).optional(),
    nodeSelector: labels.optional(),
    serviceAccountName: dns1123Subdomain.optional(),
    serviceAccount: dns1123Subdomain.optional(),
    automountServiceAccountToken: z.boolean().optional(),
    nodeName: dns1123Subdomain.optional(),
    hostNetwork: z.boolean().optional(),
    hostPID: z.boolean().optional(),
    hostIPC: z.boolean().optional(),
    shareProcessNamespace: z.boolean().optional(),
    securityContext: opaque.optional(),
    imagePullSecrets: z.array(LocalObjectReference).optional(),
    hostname: dns1123Label.optional(),
    subdomain: dns1123Label.optional(),
    affinity: opaque.optional(),
    schedulerName: z.string().optional(),
    tolerations: z.array(opaque).optional(),
    hostAliases: z.array(opaque).optional(),
    priorityClassName: dns1123Subdomain.optional(),
    priority: int32.optional(),
    dnsConfig: opaque.optional(),
    readinessGates: z.array(opaque).optional(),
    runtimeClassName: dns1123Subdomain.optional(),
    enableServiceLinks: z.boolean().optional(),
    preemptionPolicy: z.enum(['PreemptLowerPriority', 'Never']).optional(),
    overhead: z.record(z.string(), z.unknown()).optional(),
    topologySpreadConstraints: z.array(opaque).optional(),
    setHostnameAsFQDN: z.boolean().optional(),
    os: opaque.optional(),
    hostUsers: z.boolean().optional(),
    schedulingGates: z.array(opaque).optional(),
    resourceClaims: z.array(opaque).optional(),
    resources: opaque.optional(),
    hostnameOverride: z.string().optional(),
  })
  .superRefine(crossField((spec, ctx) => {
    const containerNames = new Map<string, string>();
    for (const list of CONTAINER_LISTS) {
      const containers: readonly { name: string }[] = spec[list] ?? [];
      containers.forEach((c, i) => {
        const first = containerNames.get(c.name);
        if (first !== undefined) addIssue(ctx, [list, i, 'name'], `duplicate container name "${c.name}" (already used by ${first}; names must be unique across containers, initContainers and ephemeralContainers)`);
        else containerNames.set(c.name, `${list}[${i}]`);
      });
    }
    spec.containers.forEach((c, i) => {
      if (c.restartPolicy !== undefined) addIssue(ctx, ['containers', i, 'restartPolicy'], 'may be set only on init containers (restartPolicy: Always there makes a sidecar container)');
    });
    spec.initContainers?.forEach((c, i) => {
      if (c.restartPolicy === 'Always') return;
      for (const field of INIT_ONLY_WITH_RESTART) {
        if (c[field] !== undefined) addIssue(ctx, ['initContainers', i, field], `may not be set on an init container unless it is a sidecar (restartPolicy: Always)`);
      }
    });

    const volumeNames = new Map<string, number>();
    spec.volumes?.forEach((v, i) => {
      const first = volumeNames.get(v.name);
      if (first !== undefined) addIssue(ctx, ['volumes', i, 'name'], `duplicate volume name "${v.name}" (already used by volumes[${first}])`);
      else volumeNames.set(v.name, i);
    });
    for (const list of ['containers', 'initContainers'] as const) {
      (spec[list] ?? []).forEach((c, i) => {
        c.volumeMounts?.forEach((m, j) => {
          if (!volumeNames.has(m.name)) addIssue(ctx, [list, i, 'volumeMounts', j, 'name'], `no volume named "${m.name}" in spec.volumes`);
        });
        if (spec.hostNetwork === true) {
          c.ports?.forEach((p, j) => {
            if (p.hostPort !== undefined && p.hostPort !== p.containerPort) {
              addIssue(ctx, [list, i, 'ports', j, 'hostPort'], `must equal containerPort (${p.containerPort}) when hostNetwork is true, got ${p.hostPort}`);
            }
          });
        }
      });
    }

    if (spec.dnsPolicy === 'None' && spec.dnsConfig === undefined) addIssue(ctx, ['dnsConfig'], 'dnsConfig with at least one nameserver is required when dnsPolicy is None');
    if (spec.hostPID === true && spec.shareProcessNamespace === true) addIssue(ctx, ['shareProcessNamespace'], 'hostPID and shareProcessNamespace cannot both be true');
  }), ALWAYS);
export type PodSpec = z.infer<typeof PodSpec>;

/** The pod part of a workload (Deployment, ...): the pods' metadata, whose name is generated, and their spec. */
export const PodTemplateSpec = z.strictObject({
  metadata: objectMeta(dns1123Subdomain).partial({ name: true }).optional(),
  spec: PodSpec,
});
export type PodTemplateSpec = z.infer<typeof PodTemplateSpec>;

export const PodKind = defineKind({
  kind: 'Pod',
  group: '',
  versions: ['v1'],
  namespaced: true,
  schema: kubernetesObject({ spec: PodSpec, status: z.unknown().optional() }),
});
export type Pod = z.infer<typeof PodKind.schema>;
