import { isIP } from 'node:net';
import { err, ok, type Result } from '../../core/index.ts';
import type { AppPort, InterceptionMode, LocalServicePort, ProxyView, WorkloadPort } from '../model/index.ts';

/**
 * An xDS node (envoy.config.core.v3.Node) in its proto3 JSON form, as a DiscoveryRequest carries
 * it; `metadata` (a Struct) is a plain JSON object. Only the fields Weft reads.
 */
export interface XdsNode {
  readonly id?: string;
  readonly cluster?: string;
  readonly metadata?: Readonly<Record<string, unknown>>;
  readonly locality?: { readonly region?: string; readonly zone?: string; readonly subZone?: string };
  readonly userAgentName?: string;
}

const ID_FORM = 'type~ip~name.namespace~domain, e.g. sidecar~10.0.0.1~reviews-v1-1.default~default.svc.cluster.local';

/**
 * What a connecting proxy says of itself, read with Istio's conventions. The node id is
 * `sidecar~<ip>~<pod>.<namespace>~<domain>` (`router~...` for gateways), or any id without '~'
 * (a proxyless client such as `my-client`, taken as a sidecar with no IP). The view's `id` is the
 * `<pod>.<namespace>` part, as `istioctl proxy-status` names proxies. Metadata wins over the id:
 * NAMESPACE (else the first label of the domain, else of the id's name, else `default`),
 * INSTANCE_IPS (comma-separated; else the id's IP), WORKLOAD_NAME (else the pod name), LABELS,
 * SERVICE_ACCOUNT (else `default`), POD_PORTS (a JSON list of container ports), GENERATOR (`grpc`
 * for proxyless gRPC), ISTIO_VERSION, INTERCEPTION_MODE (REDIRECT, the default, or NONE; Istio's
 * TPROXY is refused), APP_PORTS (local mode: JSON `{"9080": 41234}`, workload port to the
 * loopback port the app serves it on), LOCAL_SERVICE_PORTS (local explicit mode: JSON
 * `{"20000": "reviews.default.svc.cluster.local:9080"}`, a port of the sidecar's address to the
 * service port it stands for). Every problem of an unusable node is named in the error.
 */
export function parseProxyNode(node: XdsNode): Result<ProxyView, string> {
  const id = node.id;
  if (typeof id !== 'string' || id === '') {
    return err(`the node has no id (a proxy names itself as ${ID_FORM}; a proxyless client by any non-empty id)`);
  }
  const problems: string[] = [];
  const parts = id.split('~');
  let kind: ProxyView['kind'] = 'sidecar';
  let name = id;
  let domain = '';
  let idAddresses: string[] = [];
  if (parts.length === 4) {
    const [type, ip, podName, dnsDomain] = parts as [string, string, string, string];
    if (type === 'sidecar' || type === 'router') kind = type;
    else problems.push(`node id "${id}" has the proxy type "${type}"; expected sidecar or router`);
    if (ip !== '' && isIP(ip) === 0) problems.push(`node id "${id}" has "${ip}" where its IP address belongs`);
    else if (ip !== '') idAddresses = [ip];
    if (podName === '') problems.push(`node id "${id}" has no name between its second and third '~' (expected ${ID_FORM})`);
    name = podName;
    domain = dnsDomain;
  } else if (parts.length > 1) {
    problems.push(`node id "${id}" has ${parts.length} parts separated by '~'; expected 4 (${ID_FORM}) or an id without '~'`);
  }

  const metadata = node.metadata ?? {};
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    return err(`node "${id}": metadata must be a mapping`);
  }
  const text = (key: string): string | undefined => {
    const value = metadata[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'string') return value;
    problems.push(`metadata ${key} must be a string, got ${JSON.stringify(value)}`);
    return undefined;
  };

  const namespace = nonEmpty(text('NAMESPACE')) ?? namespaceFrom(domain, parts.length === 4 ? name : '') ?? 'default';
  const podName = name.endsWith(`.${namespace}`) ? name.slice(0, -namespace.length - 1) : name;
  const instanceIps = instanceAddresses(text('INSTANCE_IPS'), problems);
  const labels = stringMap(metadata['LABELS'], 'LABELS', problems);
  const ports = podPorts(metadata['POD_PORTS'], problems);
  const locality = node.locality === undefined ? '' : localityName(node.locality);
  const interceptionMode = interception(text('INTERCEPTION_MODE'), problems);
  const appPorts = appPortMap(metadata['APP_PORTS'], problems);
  const localServicePorts = localServicePortMap(metadata['LOCAL_SERVICE_PORTS'], problems);
  const view: ProxyView = {
    id: name,
    kind,
    generator: text('GENERATOR') === 'grpc' ? 'grpc' : 'envoy',
    namespace,
    labels,
    serviceAccount: nonEmpty(text('SERVICE_ACCOUNT')) ?? 'default',
    workloadName: nonEmpty(text('WORKLOAD_NAME')) ?? podName,
    ipAddresses: instanceIps.length > 0 ? instanceIps : idAddresses,
    ports,
    locality,
    version: text('ISTIO_VERSION') ?? '',
    interceptionMode,
    appPorts,
    localServicePorts,
  };
  return problems.length > 0 ? err(`node "${id}": ${problems.join('; ')}`) : ok(view);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** `default.svc.cluster.local` gives `default`; `reviews-v1-1.default` gives `default`. */
function namespaceFrom(domain: string, name: string): string | undefined {
  const labels = domain.split('.');
  if (labels.length > 1 && labels[0] !== '') return labels[0];
  const dot = name.indexOf('.');
  if (dot > 0 && dot < name.length - 1) return name.slice(dot + 1);
  return undefined;
}

function instanceAddresses(value: string | undefined, problems: string[]): string[] {
  if (value === undefined) return [];
  const addresses = value.split(',').map((a) => a.trim()).filter((a) => a !== '');
  const bad = addresses.filter((a) => isIP(a) === 0);
  if (bad.length > 0) problems.push(`metadata INSTANCE_IPS must list IP addresses separated by commas; ${bad.map((a) => `"${a}"`).join(', ')} ${bad.length === 1 ? 'is' : 'are'} not`);
  return addresses.filter((a) => isIP(a) !== 0);
}

function stringMap(value: unknown, key: string, problems: string[]): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`metadata ${key} must be a mapping of strings, got ${JSON.stringify(value)}`);
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === 'string') out[k] = v;
    else problems.push(`metadata ${key}["${k}"] must be a string, got ${JSON.stringify(v)}`);
  }
  return out;
}

const POD_PORTS_FORM = 'a JSON list such as [{"name":"http","containerPort":9080,"protocol":"TCP"}]';

/** POD_PORTS is JSON text in Istio's metadata; a list given as a Struct value is taken as well. */
function podPorts(value: unknown, problems: string[]): WorkloadPort[] {
  if (value === undefined || value === null || value === '') return [];
  let list: unknown = value;
  if (typeof value === 'string') {
    try {
      list = JSON.parse(value);
    } catch {
      problems.push(`metadata POD_PORTS is not valid JSON (expected ${POD_PORTS_FORM})`);
      return [];
    }
  }
  if (!Array.isArray(list)) {
    problems.push(`metadata POD_PORTS must be ${POD_PORTS_FORM}`);
    return [];
  }
  const ports: WorkloadPort[] = [];
  list.forEach((entry: unknown, i) => {
    const port = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>) : {};
    const number = port['containerPort'];
    const name = port['name'];
    const protocol = port['protocol'];
    const hostPort = port['hostPort'];
    if (typeof number !== 'number' || !Number.isInteger(number) || number < 1 || number > 65535) {
      problems.push(`metadata POD_PORTS[${i}].containerPort must be a port number (1-65535), got ${JSON.stringify(number) ?? 'nothing'}`);
      return;
    }
    if (hostPort !== undefined && !isPort(hostPort)) {
      problems.push(`metadata POD_PORTS[${i}].hostPort must be a port number (1-65535), got ${JSON.stringify(hostPort)}`);
      return;
    }
    if ((name !== undefined && typeof name !== 'string') || (protocol !== undefined && typeof protocol !== 'string')) {
      problems.push(`metadata POD_PORTS[${i}]: name and protocol must be strings`);
      return;
    }
    ports.push({
      port: number,
      ...(name !== undefined && name !== '' ? { name } : {}),
      ...(protocol !== undefined && protocol !== '' ? { protocol } : {}),
      ...(hostPort !== undefined ? { hostPort } : {}),
    });
  });
  return ports;
}

function interception(value: string | undefined, problems: string[]): InterceptionMode {
  if (value === undefined || value === '' || value === 'REDIRECT') return 'REDIRECT';
  if (value === 'NONE') return 'NONE';
  problems.push(`metadata INTERCEPTION_MODE must be REDIRECT or NONE, got "${value}"`);
  return 'REDIRECT';
}

/**
 * A metadata value holding a JSON object keyed by port number (text, as Istio's metadata values
 * are, or a Struct), read entry by entry: `read` returns the entry or undefined when it is bad.
 */
function portKeyedMapping<T>(value: unknown, key: string, form: string, problems: string[], read: (port: number, entry: unknown) => T | undefined, entryForm: string): T[] {
  if (value === undefined || value === null || value === '') return [];
  let map: unknown = value;
  if (typeof value === 'string') {
    try {
      map = JSON.parse(value);
    } catch {
      problems.push(`metadata ${key} is not valid JSON (expected ${form})`);
      return [];
    }
  }
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    problems.push(`metadata ${key} must be ${form}`);
    return [];
  }
  const out: T[] = [];
  for (const [name, entry] of Object.entries(map)) {
    const port = Number(name);
    const parsed = isPort(port) ? read(port, entry) : undefined;
    if (parsed === undefined) problems.push(`metadata ${key}["${name}"] must map a port number to ${entryForm}, got ${JSON.stringify(entry)}`);
    else out.push(parsed);
  }
  return out;
}

function isPort(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
}

function appPortMap(value: unknown, problems: string[]): AppPort[] {
  const form = 'a JSON mapping of workload port to app port such as {"9080": 41234}';
  return portKeyedMapping(value, 'APP_PORTS', form, problems, (port, appPort) => (isPort(appPort) ? { port, appPort } : undefined), 'a port number (1-65535)')
    .sort((a, b) => a.port - b.port);
}

function localServicePortMap(value: unknown, problems: string[]): LocalServicePort[] {
  const form = 'a JSON mapping of local port to service host:port such as {"20000": "reviews.default.svc.cluster.local:9080"}';
  const read = (localPort: number, target: unknown): LocalServicePort | undefined => {
    const match = typeof target === 'string' ? /^(.+):(\d{1,5})$/.exec(target) : null;
    return match !== null && isPort(Number(match[2])) ? { localPort, hostname: match[1]!, port: Number(match[2]) } : undefined;
  };
  return portKeyedMapping(value, 'LOCAL_SERVICE_PORTS', form, problems, read, '"host:port"').sort((a, b) => a.localPort - b.localPort);
}

/** Istio's `region/zone/subzone`, shortened when the finer parts are unknown. */
function localityName(locality: NonNullable<XdsNode['locality']>): string {
  const region = locality.region ?? '';
  const zone = locality.zone ?? '';
  const subZone = locality.subZone ?? '';
  if (zone === '') return region;
  if (subZone === '') return `${region}/${zone}`;
  return `${region}/${zone}/${subZone}`;
}
