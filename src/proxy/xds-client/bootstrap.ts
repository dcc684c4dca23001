import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { closestMatch, err, ok, parseDuration, type Result } from '../../core/index.ts';
import type { ProtoJson } from '../../xds/index.ts';
import { ConfigDumpType, type BootstrapConfigDump, type ConfigDumpSource } from '../admin/config-dump.ts';

/**
 * What a proxy knows before it reaches the control plane: who it is (the xDS node, with Istio's
 * metadata keys), where the control plane is and which ADS protocol to speak, and where its own
 * admin, health and Prometheus ports listen. Read from a YAML or JSON file, from flags, or both
 * (flags win):
 *
 * ```yaml
 * node:
 *   id: sidecar~10.1.0.7~reviews-v1-5d9f.default~default.svc.cluster.local
 *   cluster: reviews.default
 *   locality: {region: eu-west1, zone: eu-west1-b}
 *   metadata: {NAMESPACE: default, LABELS: {app: reviews, version: v1}, SERVICE_ACCOUNT: reviews, POD_PORTS: '[{"containerPort":9080}]'}
 * ads: {address: istiod.istio-system.svc:15012, mode: sotw, initialFetchTimeout: 15s, tls: {rootCertFile: /var/run/secrets/istio/root-cert.pem, serverName: istiod.istio-system.svc}}
 * admin: {address: 127.0.0.1:15000}
 * health: {address: 0.0.0.0:15021}
 * stats: {address: 0.0.0.0:15090}
 * ca: {tokenFile: /var/run/secrets/weft/token, trustDomain: cluster.local}
 * ```
 */
export type AdsMode = 'sotw' | 'delta';

export interface NodeLocality {
  readonly region?: string;
  readonly zone?: string;
  readonly subZone?: string;
}

export interface BootstrapNode {
  readonly id: string;
  readonly cluster: string;
  readonly locality?: NodeLocality;
  /** Istio's keys (NAMESPACE, LABELS, SERVICE_ACCOUNT, WORKLOAD_NAME, INSTANCE_IPS, POD_PORTS, ISTIO_VERSION) and any others. */
  readonly metadata: Readonly<Record<string, unknown>>;
}

export interface AdsSettings {
  /** `host:port` of the control plane: its TLS port (Istio's 15012) with `tls`, else its plaintext one (15010). */
  readonly address: string;
  readonly mode: AdsMode;
  /** How long the initial fetch of each type may take before the proxy goes on without it (Envoy's initial_fetch_timeout); 0 waits forever. */
  readonly initialFetchTimeoutMs: number;
  /** TLS to the control plane, for xDS and the CA alike; plaintext when absent. */
  readonly tls?: ControlPlaneTlsSettings;
}

/** How the proxy checks the control plane it talks to, as Istio's agent checks istiod on 15012. */
export interface ControlPlaneTlsSettings {
  /** PEM file of the mesh root(s) the control plane's certificate must chain to (Istio's istio-ca-root-cert). */
  readonly rootCertFile: string;
  /** The name the control plane's certificate must carry (and the TLS SNI), whatever address is dialled; DEFAULT_CONTROL_PLANE_SERVER_NAME unless given. */
  readonly serverName: string;
}

/** Where the proxy gets its workload certificate (Istio's CA service on the control plane). */
export interface CaSettings {
  /** `host:port` of the CA, the ADS address unless given; over TLS when `ads.tls` is set, with the same root and server name. */
  readonly address: string;
  /** The file holding the bearer token; without it the proxy asks for no certificate. */
  readonly tokenFile?: string;
  /** The trust domain of the proxy's SPIFFE id. */
  readonly trustDomain: string;
}

export interface Bootstrap {
  readonly node: BootstrapNode;
  readonly ads: AdsSettings;
  readonly ca: CaSettings;
  readonly admin: { readonly address: string };
  readonly health: { readonly address: string };
  readonly stats: { readonly address: string };
}

export const DEFAULT_ADMIN_ADDRESS = '127.0.0.1:15000';
export const DEFAULT_HEALTH_ADDRESS = '0.0.0.0:15021';
export const DEFAULT_STATS_ADDRESS = '0.0.0.0:15090';
export const DEFAULT_INITIAL_FETCH_TIMEOUT_MS = 15_000;
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';
/** istiod's Service name, which its TLS certificate carries. */
export const DEFAULT_CONTROL_PLANE_SERVER_NAME = 'istiod.istio-system.svc';

/** The flags of `weft proxy` that make a bootstrap, already parsed into strings. */
export interface BootstrapFlags {
  /** The node id; without it, one is made Istio's way from type, ip, pod name and namespace. */
  readonly id?: string;
  /** `sidecar` (default) or `router` (a gateway). */
  readonly type?: string;
  readonly podName?: string;
  readonly namespace?: string;
  /** The workload's IP addresses, comma-separated (INSTANCE_IPS). */
  readonly ip?: string;
  /** The DNS domain of the node id (default `<namespace>.svc.cluster.local`). */
  readonly domain?: string;
  readonly cluster?: string;
  readonly serviceAccount?: string;
  readonly workloadName?: string;
  /** `key=value` pairs (LABELS). */
  readonly labels?: readonly string[];
  /** A JSON list of container ports (POD_PORTS). */
  readonly podPorts?: string;
  readonly istioVersion?: string;
  /** `region/zone/subzone`. */
  readonly locality?: string;
  readonly xdsAddress?: string;
  /** The mesh root file: with it, xDS and the CA go over TLS, the control plane checked against it. */
  readonly xdsRootCert?: string;
  readonly adsMode?: string;
  readonly initialFetchTimeout?: string;
  readonly adminAddress?: string;
  readonly healthAddress?: string;
  readonly statsAddress?: string;
  readonly caAddress?: string;
  readonly caTokenFile?: string;
  readonly trustDomain?: string;
}

export interface BootstrapInput {
  /** The bootstrap file as read by the caller: its name (for messages and to tell JSON from YAML) and text. */
  readonly file?: { readonly name: string; readonly text: string };
  readonly flags?: BootstrapFlags;
}

interface Draft {
  id?: string;
  cluster?: string;
  locality?: NodeLocality;
  metadata: Record<string, unknown>;
  adsAddress?: string;
  adsMode?: AdsMode;
  adsRootCertFile?: string;
  adsServerName?: string;
  initialFetchTimeoutMs?: number;
  adminAddress?: string;
  healthAddress?: string;
  statsAddress?: string;
  caAddress?: string;
  caTokenFile?: string;
  trustDomain?: string;
}

/** Parses and checks a bootstrap; each problem names the file and field, or the flag, it comes from. */
export function parseBootstrap(input: BootstrapInput): Result<Bootstrap, string[]> {
  const problems: string[] = [];
  const draft: Draft = { metadata: {} };
  if (input.file !== undefined) readFile(input.file, draft, problems);
  if (input.flags !== undefined) readFlags(input.flags, draft, problems);
  if (problems.length > 0) return err(problems);

  const id = draft.id;
  if (id === undefined) problems.push('node.id: required: set it in the bootstrap file or with --id, or give --pod-name and --namespace to make one');
  if (draft.adsAddress === undefined) problems.push('ads.address: required: set it in the bootstrap file or with --xds-address (the control plane, e.g. 127.0.0.1:15010)');
  if (draft.caTokenFile !== undefined) {
    for (const [key, flag] of [['NAMESPACE', 'namespace'], ['SERVICE_ACCOUNT', 'service-account']] as const) {
      if (draft.metadata[key] === undefined) problems.push(`ca.tokenFile: the workload certificate is for the node's namespace and service account; set node.metadata.${key} or --${flag}`);
    }
  }
  if (draft.adsServerName !== undefined && draft.adsRootCertFile === undefined) problems.push('ads.tls.serverName: TLS to the control plane needs its root too: set ads.tls.rootCertFile or --xds-root-cert');
  if (id === undefined || draft.adsAddress === undefined || problems.length > 0) return err(problems);
  const tls = draft.adsRootCertFile === undefined ? undefined : { rootCertFile: draft.adsRootCertFile, serverName: draft.adsServerName ?? DEFAULT_CONTROL_PLANE_SERVER_NAME };
  return ok({
    node: { id, cluster: draft.cluster ?? defaultCluster(draft.metadata), ...(draft.locality === undefined ? {} : { locality: draft.locality }), metadata: draft.metadata },
    ads: { address: draft.adsAddress, mode: draft.adsMode ?? 'sotw', initialFetchTimeoutMs: draft.initialFetchTimeoutMs ?? DEFAULT_INITIAL_FETCH_TIMEOUT_MS, ...(tls === undefined ? {} : { tls }) },
    admin: { address: draft.adminAddress ?? DEFAULT_ADMIN_ADDRESS },
    health: { address: draft.healthAddress ?? DEFAULT_HEALTH_ADDRESS },
    stats: { address: draft.statsAddress ?? DEFAULT_STATS_ADDRESS },
    ca: {
      address: draft.caAddress ?? draft.adsAddress,
      ...(draft.caTokenFile === undefined ? {} : { tokenFile: draft.caTokenFile }),
      trustDomain: draft.trustDomain ?? DEFAULT_TRUST_DOMAIN,
    },
  });
}

/** Istio's service cluster: the app label (else the workload name) and the namespace. */
function defaultCluster(metadata: Readonly<Record<string, unknown>>): string {
  const labels = metadata['LABELS'] as Readonly<Record<string, string>> | undefined;
  const app = labels?.['app'] ?? (metadata['WORKLOAD_NAME'] as string | undefined);
  const namespace = metadata['NAMESPACE'] as string | undefined;
  if (app === undefined) return '';
  return namespace === undefined ? app : `${app}.${namespace}`;
}

// ---- the file ----

const TOP_LEVEL = ['node', 'ads', 'admin', 'health', 'stats', 'ca'];
const NODE_FIELDS = ['id', 'cluster', 'locality', 'metadata'];
const LOCALITY_FIELDS = ['region', 'zone', 'subZone'];
const ADS_FIELDS = ['address', 'mode', 'initialFetchTimeout', 'tls'];
const ADS_TLS_FIELDS = ['rootCertFile', 'serverName'];
const ADDRESS_FIELDS = ['address'];
const CA_FIELDS = ['address', 'tokenFile', 'trustDomain'];

function readFile(file: { readonly name: string; readonly text: string }, draft: Draft, problems: string[]): void {
  let document: unknown;
  try {
    document = file.name.endsWith('.json') ? JSON.parse(file.text) : parseYaml(file.text);
  } catch (error) {
    problems.push(`${file.name}: not valid ${file.name.endsWith('.json') ? 'JSON' : 'YAML'}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    return;
  }
  if (document === null || document === undefined) return;
  const at = (path: string, message: string): void => {
    problems.push(`${file.name}: ${path}: ${message}`);
  };
  const root = mapping(document, '(top level)', TOP_LEVEL, at);
  if (root === undefined) return;

  const node = root['node'] === undefined ? undefined : mapping(root['node'], 'node', NODE_FIELDS, at);
  if (node !== undefined) {
    draft.id = optionalText(node['id'], 'node.id', at, nodeIdProblem);
    draft.cluster = optionalText(node['cluster'], 'node.cluster', at);
    if (node['locality'] !== undefined) {
      const locality = mapping(node['locality'], 'node.locality', LOCALITY_FIELDS, at);
      if (locality !== undefined) {
        const region = optionalText(locality['region'], 'node.locality.region', at);
        const zone = optionalText(locality['zone'], 'node.locality.zone', at);
        const subZone = optionalText(locality['subZone'], 'node.locality.subZone', at);
        draft.locality = { ...(region === undefined ? {} : { region }), ...(zone === undefined ? {} : { zone }), ...(subZone === undefined ? {} : { subZone }) };
      }
    }
    if (node['metadata'] !== undefined) {
      const metadata = mapping(node['metadata'], 'node.metadata', undefined, at);
      if (metadata !== undefined) {
        checkMetadata(metadata, (key, message) => at(`node.metadata.${key}`, message));
        draft.metadata = { ...metadata };
      }
    }
  }

  const ads = root['ads'] === undefined ? undefined : mapping(root['ads'], 'ads', ADS_FIELDS, at);
  if (ads !== undefined) {
    draft.adsAddress = optionalText(ads['address'], 'ads.address', at, addressProblem);
    const mode = optionalText(ads['mode'], 'ads.mode', at, modeProblem);
    if (mode !== undefined) draft.adsMode = mode as AdsMode;
    const timeout = optionalText(ads['initialFetchTimeout'], 'ads.initialFetchTimeout', at, timeoutProblem);
    if (timeout !== undefined) draft.initialFetchTimeoutMs = timeoutMs(timeout);
    const tls = ads['tls'] === undefined ? undefined : mapping(ads['tls'], 'ads.tls', ADS_TLS_FIELDS, at);
    if (tls !== undefined) {
      draft.adsRootCertFile = optionalText(tls['rootCertFile'], 'ads.tls.rootCertFile', at, nonEmptyProblem);
      draft.adsServerName = optionalText(tls['serverName'], 'ads.tls.serverName', at, serverNameProblem);
      if (tls['rootCertFile'] === undefined) at('ads.tls.rootCertFile', 'required: the PEM file of the mesh root the control plane\'s certificate must chain to');
    }
  }
  for (const key of ['admin', 'health', 'stats'] as const) {
    const section = root[key] === undefined ? undefined : mapping(root[key], key, ADDRESS_FIELDS, at);
    const address = section === undefined ? undefined : optionalText(section['address'], `${key}.address`, at, addressProblem);
    if (address !== undefined) draft[`${key}Address`] = address;
  }
  const ca = root['ca'] === undefined ? undefined : mapping(root['ca'], 'ca', CA_FIELDS, at);
  if (ca !== undefined) {
    draft.caAddress = optionalText(ca['address'], 'ca.address', at, addressProblem);
    draft.caTokenFile = optionalText(ca['tokenFile'], 'ca.tokenFile', at, nonEmptyProblem);
    draft.trustDomain = optionalText(ca['trustDomain'], 'ca.trustDomain', at, trustDomainProblem);
  }
}

/** A mapping with only `fields` (any keys when undefined); an unknown key is reported with the closest known one. */
function mapping(value: unknown, path: string, fields: readonly string[] | undefined, at: (path: string, message: string) => void): Record<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    at(path, `expected a mapping, got ${describe(value)}`);
    return undefined;
  }
  const record = value as Record<string, unknown>;
  if (fields !== undefined) {
    for (const key of Object.keys(record)) {
      if (fields.includes(key)) continue;
      const suggestion = closestMatch(key, fields);
      const where = path === '(top level)' ? key : `${path}.${key}`;
      at(where, `unknown field${suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`}; expected one of ${fields.join(', ')}`);
    }
  }
  return record;
}

function optionalText(value: unknown, path: string, at: (path: string, message: string) => void, check?: (text: string) => string | undefined): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    at(path, `expected a string, got ${describe(value)}`);
    return undefined;
  }
  const problem = check?.(value);
  if (problem !== undefined) {
    at(path, problem);
    return undefined;
  }
  return value;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

// ---- the flags ----

function readFlags(flags: BootstrapFlags, draft: Draft, problems: string[]): void {
  const flag = (name: string, value: string | undefined, check?: (text: string) => string | undefined): string | undefined => {
    if (value === undefined) return undefined;
    const problem = check?.(value);
    if (problem !== undefined) {
      problems.push(`--${name}: ${problem}`);
      return undefined;
    }
    return value;
  };
  const metadata = draft.metadata;
  const namespace = flag('namespace', flags.namespace, (v) => (v === '' ? 'must not be empty' : undefined));
  if (namespace !== undefined) metadata['NAMESPACE'] = namespace;
  const ip = flag('ip', flags.ip, ipListProblem);
  if (ip !== undefined) metadata['INSTANCE_IPS'] = ip;
  const serviceAccount = flag('service-account', flags.serviceAccount);
  if (serviceAccount !== undefined) metadata['SERVICE_ACCOUNT'] = serviceAccount;
  const workloadName = flag('workload-name', flags.workloadName);
  if (workloadName !== undefined) metadata['WORKLOAD_NAME'] = workloadName;
  const podPorts = flag('pod-ports', flags.podPorts, podPortsProblem);
  if (podPorts !== undefined) metadata['POD_PORTS'] = podPorts;
  const istioVersion = flag('istio-version', flags.istioVersion);
  if (istioVersion !== undefined) metadata['ISTIO_VERSION'] = istioVersion;
  if (flags.labels !== undefined) {
    const labels: Record<string, string> = { ...(metadata['LABELS'] as Record<string, string> | undefined) };
    for (const pair of flags.labels) {
      const eq = pair.indexOf('=');
      if (eq <= 0) problems.push(`--labels: "${pair}" is not key=value`);
      else labels[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    metadata['LABELS'] = labels;
  }
  const locality = flag('locality', flags.locality, (v) => (v.split('/').length > 3 ? 'expected region/zone/subzone' : undefined));
  if (locality !== undefined) {
    const [region = '', zone = '', subZone = ''] = locality.split('/');
    draft.locality = { ...(region === '' ? {} : { region }), ...(zone === '' ? {} : { zone }), ...(subZone === '' ? {} : { subZone }) };
  }
  const cluster = flag('cluster', flags.cluster);
  if (cluster !== undefined) draft.cluster = cluster;

  const id = flag('id', flags.id, nodeIdProblem);
  const type = flag('type', flags.type, (v) => (v === 'sidecar' || v === 'router' ? undefined : `expected "sidecar" or "router", got "${v}"`));
  const podName = flag('pod-name', flags.podName, (v) => (v === '' ? 'must not be empty' : undefined));
  const domain = flag('domain', flags.domain);
  if (id !== undefined) {
    draft.id = id;
  } else if (podName !== undefined) {
    const ns = namespace ?? (metadata['NAMESPACE'] as string | undefined);
    if (ns === undefined) {
      problems.push('--pod-name: making the node id needs the namespace too (--namespace)');
    } else {
      const firstIp = String(metadata['INSTANCE_IPS'] ?? '').split(',')[0]?.trim() ?? '';
      draft.id = `${type ?? 'sidecar'}~${firstIp}~${podName}.${ns}~${domain ?? `${ns}.svc.cluster.local`}`;
      if (metadata['WORKLOAD_NAME'] === undefined) metadata['WORKLOAD_NAME'] = podName;
    }
  }

  const xdsAddress = flag('xds-address', flags.xdsAddress, addressProblem);
  if (xdsAddress !== undefined) draft.adsAddress = xdsAddress;
  const xdsRootCert = flag('xds-root-cert', flags.xdsRootCert, nonEmptyProblem);
  if (xdsRootCert !== undefined) draft.adsRootCertFile = xdsRootCert;
  const mode = flag('ads-mode', flags.adsMode, modeProblem);
  if (mode !== undefined) draft.adsMode = mode as AdsMode;
  const timeout = flag('initial-fetch-timeout', flags.initialFetchTimeout, timeoutProblem);
  if (timeout !== undefined) draft.initialFetchTimeoutMs = timeoutMs(timeout);
  const admin = flag('admin-address', flags.adminAddress, addressProblem);
  if (admin !== undefined) draft.adminAddress = admin;
  const health = flag('health-address', flags.healthAddress, addressProblem);
  if (health !== undefined) draft.healthAddress = health;
  const stats = flag('stats-address', flags.statsAddress, addressProblem);
  if (stats !== undefined) draft.statsAddress = stats;
  const caAddress = flag('ca-address', flags.caAddress, addressProblem);
  if (caAddress !== undefined) draft.caAddress = caAddress;
  const caTokenFile = flag('ca-token-file', flags.caTokenFile, nonEmptyProblem);
  if (caTokenFile !== undefined) draft.caTokenFile = caTokenFile;
  const trustDomain = flag('trust-domain', flags.trustDomain, trustDomainProblem);
  if (trustDomain !== undefined) draft.trustDomain = trustDomain;
}

// ---- value checks, shared by the file and the flags ----

/** `host:port` with an IPv4 address, a host name, or a bracketed IPv6 address; port 0 lets the system pick. */
function addressProblem(text: string): string | undefined {
  const colon = text.lastIndexOf(':');
  if (colon <= 0) return `"${text}" is not host:port (e.g. 127.0.0.1:15000)`;
  const host = text.slice(0, colon);
  const port = text.slice(colon + 1);
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return `"${text}" has no valid port (0-65535) after the last ':'`;
  if (host.startsWith('[')) {
    if (!host.endsWith(']') || isIP(host.slice(1, -1)) !== 6) return `"${text}": "${host}" is not a bracketed IPv6 address`;
    return undefined;
  }
  if (isIP(host) === 4) return undefined;
  if (!/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(host)) return `"${text}": "${host}" is not an IPv4 address, a host name or a bracketed IPv6 address`;
  return undefined;
}

/** A DNS name the control plane's certificate carries. */
function serverNameProblem(text: string): string | undefined {
  return /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(text) ? undefined : `"${text}" is not a DNS name, e.g. istiod.istio-system.svc`;
}

function nonEmptyProblem(text: string): string | undefined {
  return text === '' ? 'must not be empty' : undefined;
}

/** A SPIFFE trust domain: lower-case letters, digits, '.', '-' and '_'. */
function trustDomainProblem(text: string): string | undefined {
  return /^[a-z0-9._-]+$/.test(text) ? undefined : `"${text}" is not a trust domain (lower-case letters, digits, '.', '-', '_'), e.g. cluster.local`;
}

function modeProblem(text: string): string | undefined {
  return text === 'sotw' || text === 'delta' ? undefined : `expected "sotw" (State of the World) or "delta" (incremental), got "${text}"`;
}

function timeoutProblem(text: string): string | undefined {
  if (text === '0' || text === '0s') return undefined;
  const parsed = parseDuration(text);
  return parsed.ok ? undefined : parsed.error;
}

function timeoutMs(text: string): number {
  const parsed = parseDuration(text);
  return parsed.ok ? parsed.value : 0;
}

/** Istio's form `type~ip~name.namespace~domain`, or any id without '~'. */
function nodeIdProblem(text: string): string | undefined {
  if (text === '') return 'must not be empty';
  const parts = text.split('~');
  if (parts.length === 1) return undefined;
  if (parts.length !== 4) return `"${text}" has ${parts.length} parts separated by '~'; expected 4 (type~ip~name.namespace~domain) or none`;
  const [type, ip, name] = parts as [string, string, string, string];
  if (type !== 'sidecar' && type !== 'router') return `"${text}" starts with "${type}"; expected sidecar or router`;
  if (ip !== '' && isIP(ip) === 0) return `"${text}" has "${ip}" where its IP address belongs`;
  if (name === '') return `"${text}" has no name between its second and third '~'`;
  return undefined;
}

function ipListProblem(text: string): string | undefined {
  const bad = text.split(',').map((a) => a.trim()).filter((a) => isIP(a) === 0);
  return bad.length === 0 ? undefined : `expected IP addresses separated by commas; ${bad.map((a) => `"${a}"`).join(', ')} ${bad.length === 1 ? 'is' : 'are'} not`;
}

/** POD_PORTS is a JSON string (Istio's form), listing `{name?, containerPort, protocol?}`. */
function podPortsProblem(text: string): string | undefined {
  let ports: unknown;
  try {
    ports = JSON.parse(text);
  } catch {
    return `expected a JSON list of container ports such as [{"name":"http","containerPort":9080,"protocol":"TCP"}], got ${JSON.stringify(text)}`;
  }
  if (!Array.isArray(ports)) return 'expected a JSON list of container ports';
  for (const [index, port] of ports.entries()) {
    const containerPort = (port as { containerPort?: unknown } | null)?.containerPort;
    if (typeof containerPort !== 'number' || !Number.isInteger(containerPort) || containerPort < 1 || containerPort > 65535) {
      return `port [${index}] needs a containerPort between 1 and 65535`;
    }
  }
  return undefined;
}

function checkMetadata(metadata: Readonly<Record<string, unknown>>, at: (key: string, message: string) => void): void {
  for (const key of ['NAMESPACE', 'SERVICE_ACCOUNT', 'WORKLOAD_NAME', 'ISTIO_VERSION', 'INSTANCE_IPS', 'POD_PORTS']) {
    const value = metadata[key];
    if (value === undefined) continue;
    if (typeof value !== 'string') {
      at(key, `expected a string, got ${describe(value)}${key === 'POD_PORTS' ? ' (Istio writes POD_PORTS as a JSON string)' : ''}`);
      continue;
    }
    const problem = key === 'INSTANCE_IPS' ? ipListProblem(value) : key === 'POD_PORTS' ? podPortsProblem(value) : undefined;
    if (problem !== undefined) at(key, problem);
  }
  const labels = metadata['LABELS'];
  if (labels !== undefined) {
    if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) at('LABELS', `expected a mapping of strings, got ${describe(labels)}`);
    else for (const [k, v] of Object.entries(labels)) if (typeof v !== 'string') at(`LABELS.${k}`, `expected a string, got ${describe(v)}`);
  }
}

// ---- uses of a bootstrap ----

/** The xDS node (envoy.config.core.v3.Node, JSON form) the proxy sends on each ADS stream. */
export function xdsNode(bootstrap: Bootstrap, userAgentVersion?: string): ProtoJson {
  const { node } = bootstrap;
  return {
    id: node.id,
    cluster: node.cluster,
    metadata: node.metadata,
    ...(node.locality === undefined ? {} : { locality: node.locality }),
    userAgentName: 'weft',
    ...(userAgentVersion === undefined ? {} : { userAgentVersion }),
  };
}

function socketAddress(address: string): ProtoJson {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { socketAddress: { address: host, portValue: Number(address.slice(colon + 1)) } };
}

/** Istio's bootstrap form of TLS to istiod: the root file as trusted CA, the server name as SNI and as the SAN to match. */
function controlPlaneTransportSocket(tls: ControlPlaneTlsSettings): ProtoJson {
  return {
    name: 'envoy.transport_sockets.tls',
    typedConfig: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      sni: tls.serverName,
      commonTlsContext: { validationContext: { trustedCa: { filename: tls.rootCertFile }, matchSubjectAltNames: [{ exact: tls.serverName }] } },
    },
  };
}

/** The bootstrap as Envoy's `/config_dump` shows it: node, admin address, ADS as the source of every dynamic type. */
export function bootstrapDumpSource(bootstrap: Bootstrap, loadedAt: string): ConfigDumpSource {
  const adsSource = { ads: {}, resourceApiVersion: 'V3', initialFetchTimeout: `${bootstrap.ads.initialFetchTimeoutMs / 1000}s` };
  const section: BootstrapConfigDump = {
    '@type': ConfigDumpType.Bootstrap,
    bootstrap: {
      node: xdsNode(bootstrap),
      admin: { address: socketAddress(bootstrap.admin.address) },
      dynamicResources: {
        adsConfig: { apiType: bootstrap.ads.mode === 'delta' ? 'DELTA_GRPC' : 'GRPC', transportApiVersion: 'V3', grpcServices: [{ envoyGrpc: { clusterName: 'xds-grpc' } }] },
        cdsConfig: adsSource,
        ldsConfig: adsSource,
      },
      staticResources: {
        clusters: [{
          name: 'xds-grpc',
          type: 'STATIC',
          loadAssignment: { clusterName: 'xds-grpc', endpoints: [{ lbEndpoints: [{ endpoint: { address: socketAddress(bootstrap.ads.address) } }] }] },
          ...(bootstrap.ads.tls === undefined ? {} : { transportSocket: controlPlaneTransportSocket(bootstrap.ads.tls) }),
        }],
      },
    },
    lastUpdated: loadedAt,
  };
  return { dump: () => section };
}
