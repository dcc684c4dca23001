import * as z from 'zod';
import { addIssue, ALWAYS, crossField, isDns1123Label, isIP, labels, uint32 } from '../../schema/common.ts';
import { defineKind, istioObject, ISTIO_NETWORKING_GROUP, ISTIO_NETWORKING_VERSIONS } from '../kind-definition.ts';
import { ServerTLSSettings } from './gateway.ts';
import { Destination } from './shared.ts';
import { ConnectionPoolSettings } from './traffic-policy.ts';
import { domainNameProblem, portName, UNIX_ADDRESS_PREFIX, unixSocketProblem } from './workload-entry.ts';

/** The port protocols Istio knows, as it spells them; a port's protocol matches one of them ignoring case. */
export const PROTOCOLS = ['HTTP', 'HTTPS', 'HTTP2', 'GRPC', 'GRPC-Web', 'HTTP_PROXY', 'TLS', 'TCP', 'UDP', 'Mongo', 'Redis', 'MySQL'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** The protocol a port declares, or undefined when it declares none (Istio then sniffs it) or an unknown one. */
export function protocolOf(value: string | undefined): Protocol | undefined {
  if (value === undefined) return undefined;
  return PROTOCOLS.find((p) => p.toLowerCase() === value.toLowerCase());
}

export function isHTTPProtocol(protocol: Protocol | undefined): boolean {
  return protocol === 'HTTP' || protocol === 'HTTP2' || protocol === 'HTTP_PROXY' || protocol === 'GRPC' || protocol === 'GRPC-Web';
}

export function isTLSProtocol(protocol: Protocol | undefined): boolean {
  return protocol === 'HTTPS' || protocol === 'TLS';
}

/** A port's protocol; empty means "sniff it". */
export const portProtocol = z.string().max(256).check((ctx) => {
  if (ctx.value !== '' && protocolOf(ctx.value) === undefined) {
    ctx.issues.push({ code: 'custom', message: `unsupported protocol "${ctx.value}" (expected one of ${PROTOCOLS.join(', ')}, in any case)`, input: ctx.value });
  }
});

/**
 * The WorkloadSelector of Sidecar and ServiceEntry (`labels`, unlike the `matchLabels` of the
 * security and telemetry kinds). Labels cannot hold wildcards, which the label syntax refuses.
 */
export const WorkloadSelector = z.strictObject({ labels: labels.optional() });
export type WorkloadSelector = z.infer<typeof WorkloadSelector>;

/** Port 0 stands for a unix domain socket, which only egress listeners accept. */
export const SidecarPort = z.strictObject({
  number: z.number().int().min(0).max(65535).optional(),
  protocol: portProtocol.optional(),
  name: portName.optional(),
  targetPort: uint32.optional(),
});
export type SidecarPort = z.infer<typeof SidecarPort>;

export const CaptureMode = z.enum(['DEFAULT', 'IPTABLES', 'NONE']);
export type CaptureMode = z.infer<typeof CaptureMode>;

function checkTargetPort(port: SidecarPort | undefined, ctx: z.core.$RefinementCtx<unknown>): void {
  if (port?.targetPort !== undefined && port.targetPort > 0) addIssue(ctx, ['port', 'targetPort'], 'targetPort has no effect on a Sidecar; remove it');
}

function checkIpBind(bind: string | undefined, ctx: z.core.$RefinementCtx<unknown>): void {
  if (bind !== undefined && bind !== '' && !isIP(bind)) addIssue(ctx, ['bind'], `bind "${bind}" is not an IP address`);
}

const LOOPBACK_OR_ANY = new Set(['', '127.0.0.1', '0.0.0.0', '::1', '::']);
const DEFAULT_ENDPOINT_FORMS = '127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port> or unix:///path';

/** Where an ingress listener forwards: a loopback or any-address port of the workload, or a unix socket. */
function defaultEndpointProblem(endpoint: string): string | undefined {
  if (endpoint.startsWith(UNIX_ADDRESS_PREFIX)) return unixSocketProblem(endpoint);
  const bracketed = /^\[([^\]]*)\]:(.*)$/.exec(endpoint);
  const colon = endpoint.lastIndexOf(':');
  const [host, port] = bracketed !== null ? [bracketed[1]!, bracketed[2]!] : colon >= 0 ? [endpoint.slice(0, colon), endpoint.slice(colon + 1)] : [undefined, undefined];
  if (host === undefined || port === undefined || (bracketed === null && host.includes(':')) || !LOOPBACK_OR_ANY.has(host)) {
    return `defaultEndpoint must be ${DEFAULT_ENDPOINT_FORMS}, got "${endpoint}"`;
  }
  if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) return `defaultEndpoint "${endpoint}": port must be a number 1..65535`;
  return undefined;
}

const SIDECAR_TLS_UNSUPPORTED = ['subjectAltNames', 'httpsRedirect', 'credentialName', 'credentialNames', 'tlsCertificates'] as const;

/** What a sidecar's inbound TLS cannot do that a gateway's can: its certificate comes from files, not from Secrets. */
function checkSidecarTls(tls: ServerTLSSettings, port: SidecarPort, ctx: z.core.$RefinementCtx<unknown>): void {
  for (const field of SIDECAR_TLS_UNSUPPORTED) {
    const value = tls[field];
    const set = value !== undefined && value !== false && value !== '' && !(Array.isArray(value) && value.length === 0);
    if (set) addIssue(ctx, ['tls', field], `${field} is not supported in the tls of a Sidecar ingress listener`);
  }
  if (tls.mode === 'ISTIO_MUTUAL' || tls.mode === 'AUTO_PASSTHROUGH') {
    addIssue(ctx, ['tls', 'mode'], `mode ${tls.mode} cannot be used in the tls of a Sidecar ingress listener (expected SIMPLE, MUTUAL or OPTIONAL_MUTUAL)`);
  }
  const declared = port.protocol !== undefined && port.protocol !== '';
  if (declared && protocolOf(port.protocol) === undefined) return;
  if (!isTLSProtocol(protocolOf(port.protocol))) {
    addIssue(ctx, ['tls'], `tls needs an HTTPS or TLS port, but port ${port.number ?? 0} has ${declared ? `protocol ${port.protocol}` : 'no protocol'}`);
  }
}

export const IstioIngressListener = z
  .strictObject({
    port: SidecarPort,
    bind: z.string().optional(),
    captureMode: CaptureMode.optional(),
    defaultEndpoint: z.string().optional(),
    tls: ServerTLSSettings.optional(),
    connectionPool: ConnectionPoolSettings.optional(),
  })
  .superRefine(crossField((l, ctx) => {
    if ((l.port.number ?? 0) === 0) addIssue(ctx, ['port', 'number'], 'an ingress listener needs a port number 1..65535');
    checkTargetPort(l.port, ctx);
    checkIpBind(l.bind, ctx);
    if (l.defaultEndpoint !== undefined && l.defaultEndpoint !== '') {
      const problem = defaultEndpointProblem(l.defaultEndpoint);
      if (problem !== undefined) addIssue(ctx, ['defaultEndpoint'], problem);
    }
    if (l.tls !== undefined) checkSidecarTls(l.tls, l.port, ctx);
  }), ALWAYS);
export type IstioIngressListener = z.infer<typeof IstioIngressListener>;

/**
 * An egress host, `namespace/dnsName`: the namespace is `*` (any), `.` (this one), a name, or
 * `~`-prefixed to exclude; the name is fully qualified, `*`, or has a whole-label wildcard prefix.
 */
export function egressHostProblem(host: string): string | undefined {
  const slash = host.indexOf('/');
  if (slash < 0) return `"${host}" must be of the form namespace/dnsName (e.g. "./*", "istio-system/*", "*/api.example.com")`;
  const namespace = host.slice(0, slash);
  const dnsName = host.slice(slash + 1);
  if (namespace === '' || dnsName === '') return `"${host}": neither the namespace nor the dnsName may be empty`;
  const bare = namespace.startsWith('~') ? namespace.slice(1) : namespace;
  if (bare !== '' && bare !== '*' && bare !== '.' && !isDns1123Label(bare)) {
    return `"${host}": namespace "${namespace}" must be "*", ".", "~" or a namespace name (optionally prefixed by "~" to exclude it)`;
  }
  if (dnsName === '*') return undefined;
  if (!dnsName.includes('.')) return `"${host}": "${dnsName}" is a short name; write the fully qualified name (e.g. "${dnsName}.<namespace>.svc.cluster.local")`;
  if (dnsName.includes('*') && !dnsName.startsWith('*.')) return `"${host}": a wildcard must be a whole first label (e.g. "*.example.com"), not "${dnsName}"`;
  const problem = domainNameProblem(dnsName, { wildcard: true });
  return problem !== undefined ? `"${host}": ${problem}` : undefined;
}

const egressHost = z.string().check((ctx) => {
  const problem = egressHostProblem(ctx.value);
  if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
});

export const IstioEgressListener = z
  .strictObject({
    port: SidecarPort.optional(),
    bind: z.string().optional(),
    captureMode: CaptureMode.optional(),
    hosts: z.array(egressHost).min(1),
  })
  .superRefine(crossField((l, ctx) => {
    if (l.port === undefined) return;
    checkTargetPort(l.port, ctx);
    if ((l.port.number ?? 0) !== 0) {
      checkIpBind(l.bind, ctx);
      return;
    }
    const bind = l.bind ?? '';
    if (!bind.startsWith(UNIX_ADDRESS_PREFIX)) {
      addIssue(ctx, ['bind'], 'port number 0 stands for a unix domain socket, so bind must be unix:///path or unix://@name');
    } else {
      const problem = unixSocketProblem(bind);
      if (problem !== undefined) addIssue(ctx, ['bind'], problem);
    }
    if (l.captureMode === 'IPTABLES') addIssue(ctx, ['captureMode'], 'a unix domain socket listener cannot be captured by iptables; use DEFAULT or NONE');
  }), ALWAYS);
export type IstioEgressListener = z.infer<typeof IstioEgressListener>;

export const OutboundTrafficPolicy = z
  .strictObject({
    mode: z.enum(['REGISTRY_ONLY', 'ALLOW_ANY']).optional(),
    egressProxy: Destination.optional(),
  })
  .superRefine(crossField((p, ctx) => {
    if (p.egressProxy === undefined) return;
    if (p.mode === undefined || p.mode === 'REGISTRY_ONLY') {
      addIssue(ctx, ['egressProxy'], `egressProxy may be set only with mode ALLOW_ANY (mode is ${p.mode ?? 'REGISTRY_ONLY, the default'})`);
      return;
    }
    const problem = domainNameProblem(p.egressProxy.host, { wildcard: false });
    if (problem !== undefined) addIssue(ctx, ['egressProxy', 'host'], problem);
    if (p.egressProxy.port === undefined) addIssue(ctx, ['egressProxy', 'port'], 'egressProxy needs a port');
  }), ALWAYS);
export type OutboundTrafficPolicy = z.infer<typeof OutboundTrafficPolicy>;

export const SidecarSpec = z
  .strictObject({
    workloadSelector: WorkloadSelector.optional(),
    ingress: z.array(IstioIngressListener).optional(),
    egress: z.array(IstioEgressListener).optional(),
    outboundTrafficPolicy: OutboundTrafficPolicy.optional(),
    inboundConnectionPool: ConnectionPoolSettings.optional(),
  })
  .superRefine(crossField((s, ctx) => {
    if (typeof s !== 'object' || s === null) return; // already reported as not a mapping
    if ((s.ingress ?? []).length === 0 && (s.egress ?? []).length === 0 && s.outboundTrafficPolicy === undefined && s.inboundConnectionPool === undefined) {
      addIssue(ctx, [], 'a Sidecar must set at least one of egress, ingress, outboundTrafficPolicy or inboundConnectionPool');
    }
  }), ALWAYS)
  .superRefine(crossField((s, ctx) => {
    const ports = new Map<number, number>();
    (s.ingress ?? []).forEach((l, i) => {
      const number = l.port.number ?? 0;
      const first = ports.get(number);
      if (first !== undefined) addIssue(ctx, ['ingress', i, 'port', 'number'], `port ${number} is already used by ingress[${first}]; ingress ports must be unique`);
      else ports.set(number, i);
    });
  }), ALWAYS)
  .superRefine(crossField((s, ctx) => {
    const egress = s.egress ?? [];
    const ports = new Map<number, number>();
    const socketBinds = new Map<string, number>();
    egress.forEach((l, i) => {
      if (l.port === undefined) {
        if (i !== egress.length - 1) addIssue(ctx, ['egress', i], 'only the last egress listener may leave out port (it takes the hosts of every port no other listener names)');
        return;
      }
      const number = l.port.number ?? 0;
      if (number === 0) {
        const bind = l.bind ?? '';
        const first = socketBinds.get(bind);
        if (first !== undefined) addIssue(ctx, ['egress', i, 'bind'], `unix socket ${bind} is already bound by egress[${first}]; each socket may be bound once`);
        else socketBinds.set(bind, i);
        return;
      }
      const first = ports.get(number);
      if (first !== undefined) addIssue(ctx, ['egress', i, 'port', 'number'], `port ${number} is already used by egress[${first}]; egress ports must be unique`);
      else ports.set(number, i);
    });
  }), ALWAYS);
export type SidecarSpec = z.infer<typeof SidecarSpec>;

export const SidecarKind = defineKind({
  kind: 'Sidecar',
  group: ISTIO_NETWORKING_GROUP,
  versions: ISTIO_NETWORKING_VERSIONS,
  schema: istioObject(SidecarSpec),
});
export type Sidecar = z.infer<typeof SidecarKind.schema>;
