import * as z from 'zod';
import {
  addIssue, ALWAYS, cidrProblem, crossField, isDns1123Label, isDns1123Subdomain, isIP, isIPv4, ipAddress, labelKeyProblem, labels, portNumber,
} from '../../schema/common.ts';
import { defineKind, kubernetesObject } from '../kind-definition.ts';
import { portNameProblem, Protocol } from './pod.ts';

const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** Service names become DNS labels of their own (`name.namespace.svc`), so they must start with a letter. */
export const dns1035Label = z.string().check((ctx) => {
  if (ctx.value.length > 63 || !DNS1035_LABEL.test(ctx.value)) {
    ctx.issues.push({ code: 'custom', message: `"${ctx.value}" is not a DNS-1035 label (at most 63 lower-case letters, digits and '-', starting with a letter and ending with a letter or digit)`, input: ctx.value });
  }
});

/** Kubernetes' qualified name: an optional DNS subdomain and '/', then a name (`kubernetes.io/h2c`, `http`). */
const qualifiedName = z.string().check((ctx) => {
  if (labelKeyProblem(ctx.value) !== undefined) {
    ctx.issues.push({ code: 'custom', message: `"${ctx.value}" is not a qualified name (an optional DNS subdomain and '/', then at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit)`, input: ctx.value });
  }
});

/** A container port number, or the name of a container port. */
export const targetPort = z.union([z.number(), z.string()]).check((ctx) => {
  const value = ctx.value;
  let problem: string | undefined;
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 1 || value > 65535) problem = `must be a port number 1..65535 or a port name, got ${value}`;
  } else if (/^\d+$/.test(value)) {
    problem = `"${value}" is a string, so it would name a port; write ${value} without quotes for a port number`;
  } else {
    problem = portNameProblem(value);
  }
  if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: value });
});

export const ServicePort = z.strictObject({
  name: z.string().optional(),
  protocol: Protocol.default('TCP'),
  appProtocol: qualifiedName.optional(),
  port: portNumber,
  targetPort: targetPort.optional(),
  nodePort: portNumber.optional(),
});
export type ServicePort = z.infer<typeof ServicePort>;

export const ClientIPConfig = z.strictObject({ timeoutSeconds: z.number().int().min(1).max(86400).optional() });
export type ClientIPConfig = z.infer<typeof ClientIPConfig>;

export const SessionAffinityConfig = z.strictObject({ clientIP: ClientIPConfig.optional() });
export type SessionAffinityConfig = z.infer<typeof SessionAffinityConfig>;

/** "None" (a headless Service), or an IP address. */
const clusterIP = z.string().check((ctx) => {
  if (ctx.value !== 'None' && ctx.value !== '' && !isIP(ctx.value)) {
    ctx.issues.push({ code: 'custom', message: `"${ctx.value}" is not an IP address or "None" (for a headless Service)`, input: ctx.value });
  }
});

const TYPES_WITH_NODE_PORTS = ['NodePort', 'LoadBalancer'];

export const ServiceSpec = z
  .strictObject({
    type: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']).default('ClusterIP'),
    selector: labels.optional(),
    ports: z.array(ServicePort).optional(),
    clusterIP: clusterIP.optional(),
    clusterIPs: z.array(clusterIP).optional(),
    externalName: z.string().optional(),
    externalIPs: z.array(ipAddress).optional(),
    sessionAffinity: z.enum(['None', 'ClientIP']).optional(),
    sessionAffinityConfig: SessionAffinityConfig.optional(),
    loadBalancerIP: z.string().optional(),
    loadBalancerSourceRanges: z.array(z.string()).optional(),
    loadBalancerClass: qualifiedName.optional(),
    allocateLoadBalancerNodePorts: z.boolean().optional(),
    externalTrafficPolicy: z.enum(['Cluster', 'Local']).optional(),
    internalTrafficPolicy: z.enum(['Cluster', 'Local']).optional(),
    healthCheckNodePort: portNumber.optional(),
    publishNotReadyAddresses: z.boolean().optional(),
    ipFamilies: z.array(z.enum(['IPv4', 'IPv6'])).optional(),
    ipFamilyPolicy: z.enum(['SingleStack', 'PreferDualStack', 'RequireDualStack']).optional(),
    trafficDistribution: z.enum(['PreferClose', 'PreferSameZone', 'PreferSameNode']).optional(),
  })
  .superRefine(crossField((s, ctx) => {
    const headless = s.clusterIP === 'None' || s.clusterIPs?.[0] === 'None';
    const ports = s.ports ?? [];
    if (ports.length === 0 && !headless && s.type !== 'ExternalName') {
      addIssue(ctx, ['ports'], 'at least one port is required (only headless Services, with clusterIP: None, and ExternalName Services may have none)');
    }
    checkPorts(s, ctx);
    checkClusterIPs(s, headless, ctx);

    if (s.type === 'ExternalName') {
      const cname = (s.externalName ?? '').replace(/\.$/, '');
      if (cname === '') addIssue(ctx, ['externalName'], 'required when type is ExternalName (the DNS name the Service is an alias for)');
      else if (!isDns1123Subdomain(cname)) addIssue(ctx, ['externalName'], `"${s.externalName}" is not a DNS name (lower-case letters, digits, '-' and '.')`);
    }
    if (s.sessionAffinity !== 'ClientIP' && s.sessionAffinityConfig !== undefined) {
      addIssue(ctx, ['sessionAffinityConfig'], 'may be set only when sessionAffinity is ClientIP');
    }
    const loadBalancerOnly = ['loadBalancerSourceRanges', 'allocateLoadBalancerNodePorts', 'loadBalancerClass'] as const;
    for (const field of loadBalancerOnly) {
      if (s[field] !== undefined && s.type !== 'LoadBalancer') addIssue(ctx, [field], `may be set only when type is LoadBalancer, not ${s.type}`);
    }
    s.loadBalancerSourceRanges?.forEach((range, i) => {
      const problem = cidrProblem(range.trim());
      if (problem !== undefined) addIssue(ctx, ['loadBalancerSourceRanges', i], problem);
    });
    const externallyAccessible = TYPES_WITH_NODE_PORTS.includes(s.type) || (s.type === 'ClusterIP' && (s.externalIPs ?? []).length > 0);
    if (s.externalTrafficPolicy !== undefined && !externallyAccessible) {
      addIssue(ctx, ['externalTrafficPolicy'], 'may be set only for Services reachable from outside the cluster (type NodePort or LoadBalancer, or with externalIPs)');
    }
    if (s.healthCheckNodePort !== undefined && !(s.type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local')) {
      addIssue(ctx, ['healthCheckNodePort'], 'may be set only when type is LoadBalancer and externalTrafficPolicy is Local');
    }
  }), ALWAYS);
export type ServiceSpec = z.infer<typeof ServiceSpec>;

type RefineContext = z.core.$RefinementCtx<unknown>;

/** Kubernetes' port rules: names required and unique with several ports, no (port, protocol) twice. */
function checkPorts(s: ServiceSpec, ctx: RefineContext): void {
  const ports = s.ports ?? [];
  const names = new Map<string, number>();
  const numbers = new Map<string, number>();
  const nodePorts = new Map<string, number>();
  ports.forEach((p, i) => {
    if (p.name === undefined || p.name === '') {
      if (ports.length > 1) addIssue(ctx, ['ports', i, 'name'], 'a name is required when a Service has more than one port');
    } else if (!isDns1123Label(p.name)) {
      addIssue(ctx, ['ports', i, 'name'], `"${p.name}" is not a DNS-1123 label (at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit)`);
    } else if (names.has(p.name)) {
      addIssue(ctx, ['ports', i, 'name'], `duplicate port name "${p.name}" (already used by ports[${names.get(p.name)}])`);
    } else {
      names.set(p.name, i);
    }
    const key = `${p.port}/${p.protocol}`;
    if (numbers.has(key)) addIssue(ctx, ['ports', i], `port ${key} is already declared by ports[${numbers.get(key)}]`);
    else numbers.set(key, i);
    if (p.nodePort === undefined) return;
    if (s.type === 'ClusterIP' || s.type === 'ExternalName') addIssue(ctx, ['ports', i, 'nodePort'], `may be set only when type is NodePort or LoadBalancer, not ${s.type}`);
    const nodeKey = `${p.nodePort}/${p.protocol}`;
    if (nodePorts.has(nodeKey)) addIssue(ctx, ['ports', i, 'nodePort'], `node port ${nodeKey} is already used by ports[${nodePorts.get(nodeKey)}]`);
    else nodePorts.set(nodeKey, i);
  });
}

/** clusterIP, clusterIPs, ipFamilies and ipFamilyPolicy must agree. */
function checkClusterIPs(s: ServiceSpec, headless: boolean, ctx: RefineContext): void {
  if (s.type === 'ExternalName') {
    for (const field of ['clusterIPs', 'ipFamilies', 'ipFamilyPolicy'] as const) {
      if (s[field] !== undefined && !(Array.isArray(s[field]) && s[field].length === 0)) addIssue(ctx, [field], 'may not be set for ExternalName Services');
    }
    if (s.clusterIP !== undefined && s.clusterIP !== '') addIssue(ctx, ['clusterIP'], 'may not be set for ExternalName Services');
    return;
  }
  if (headless && TYPES_WITH_NODE_PORTS.includes(s.type)) addIssue(ctx, ['clusterIP'], `may not be "None" for ${s.type} Services`);
  const ips = s.clusterIPs ?? [];
  if (s.clusterIP !== undefined && s.clusterIP !== '' && ips.length > 0 && ips[0] !== s.clusterIP) {
    addIssue(ctx, ['clusterIPs', 0], `must equal clusterIP ("${s.clusterIP}")`);
  }
  if (ips.length > 2) addIssue(ctx, ['clusterIPs'], `may hold at most two addresses (one per IP family), got ${ips.length}`);
  if (ips.length > 1 && ips.includes('None')) addIssue(ctx, ['clusterIPs'], '"None" must be the only entry of a headless Service');
  if (ips.length === 2 && ips.every((ip) => isIP(ip)) && isIPv4(ips[0]!) === isIPv4(ips[1]!)) {
    addIssue(ctx, ['clusterIPs', 1], 'the two addresses must be of different IP families (one IPv4, one IPv6)');
  }
  const families = s.ipFamilies ?? [];
  if (families.length > 2) addIssue(ctx, ['ipFamilies'], `may hold at most two families, got ${families.length}`);
  if (families.length === 2 && families[0] === families[1]) addIssue(ctx, ['ipFamilies', 1], `duplicate IP family "${families[1]}"`);
  if (s.ipFamilyPolicy === 'SingleStack' && (ips.length > 1 || families.length > 1)) {
    addIssue(ctx, ['ipFamilyPolicy'], 'SingleStack allows one IP family; use PreferDualStack or RequireDualStack for two');
  }
}

export const ServiceKind = defineKind({
  kind: 'Service',
  group: '',
  versions: ['v1'],
  namespaced: true,
  schema: kubernetesObject({ spec: ServiceSpec.prefault({}), status: z.unknown().optional() }, dns1035Label),
});
export type Service = z.infer<typeof ServiceKind.schema>;
