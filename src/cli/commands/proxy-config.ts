import { X509Certificate } from 'node:crypto';
import type { Command } from 'commander';
import type { ConfigDump, ConfigDumpSection, JsonObject } from '../debug-api.ts';
import { CliExit, ExitStatus } from '../io.ts';
import { formatTable } from '../output/table.ts';
import type { ControlPlaneCommandDeps } from './proxy-status.ts';

const SECTIONS = ['cluster', 'listener', 'route', 'endpoint', 'secret', 'all'] as const;
type Section = Exclude<(typeof SECTIONS)[number], 'secret'>;

const DUMP_TYPE = {
  cluster: 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
  listener: 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
  route: 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
  endpoint: 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump',
} as const satisfies Readonly<Record<Exclude<Section, 'all'>, ConfigDumpSection['@type']>>;

interface Filters {
  readonly fqdn?: string;
  readonly port?: string;
  readonly subset?: string;
  readonly direction?: string;
  readonly name?: string;
}

export function registerProxyConfig(program: Command, deps: ControlPlaneCommandDeps): void {
  program
    .command('proxy-config')
    .alias('pc')
    .description('Show a proxy\'s configuration, like istioctl proxy-config: as the control plane sent it, secrets as the proxy holds them')
    .argument('<type>', `one of ${SECTIONS.join(', ')}`)
    .argument('<proxy>', 'the proxy: <workload>.<namespace> or its node id; for secret, also its admin port (host:port)')
    .option('-o, --output <format>', 'table, or json (Envoy\'s config_dump shape)', 'table')
    .option('--fqdn <host>', 'clusters and endpoints of this service only')
    .option('--port <port>', 'only this port')
    .option('--subset <name>', 'clusters of this subset only')
    .option('--direction <dir>', 'inbound or outbound clusters only')
    .option('--name <name>', 'routes or listeners of this name only')
    .option('--control-plane <url>', 'the control plane\'s debug API', deps.defaultControlPlaneUrl)
    .action(async (type: string, proxy: string, options: Filters & { output: string; controlPlane: string }) => {
      if (!(SECTIONS as readonly string[]).includes(type)) throw new CliExit(ExitStatus.usage, `unknown type "${type}": expected one of ${SECTIONS.join(', ')}`);
      if (options.output !== 'table' && options.output !== 'json') throw new CliExit(ExitStatus.usage, `--output must be table or json, got "${options.output}"`);
      if (type === 'secret') {
        const admin = isAdminAddress(proxy) ? proxy : (await deps.controlPlane(options.controlPlane).get<{ adminAddress: string }>(`/debug/adminz?proxyID=${encodeURIComponent(proxy)}`)).adminAddress;
        const { dump, now } = await proxyConfigDump(admin);
        const section = dump.configs.find((c) => c['@type'] === SECRETS_DUMP_TYPE);
        deps.io.stdout(options.output === 'json' ? `${JSON.stringify(section ?? {}, null, 2)}\n` : secretTable(section, now));
        return;
      }
      const dump = await deps.controlPlane(options.controlPlane).get<ConfigDump>(`/debug/config_dump?proxyID=${encodeURIComponent(proxy)}`);
      const section = type as Section;
      if (options.output === 'json') {
        const configs = section === 'all' ? dump.configs : dump.configs.filter((c) => c['@type'] === DUMP_TYPE[section]);
        deps.io.stdout(`${JSON.stringify(section === 'all' ? { configs } : configs[0] ?? {}, null, 2)}\n`);
        return;
      }
      deps.io.stdout(formatProxyConfig(dump, section, options));
    });
}

export function formatProxyConfig(dump: ConfigDump, section: Section, filters: Filters = {}): string {
  const parts: string[] = [];
  for (const s of section === 'all' ? (['cluster', 'listener', 'route', 'endpoint'] as const) : [section]) {
    const found = dump.configs.find((c) => c['@type'] === DUMP_TYPE[s]);
    if (s === 'cluster') parts.push(clusterTable(found, filters));
    if (s === 'listener') parts.push(listenerTable(found, filters));
    if (s === 'route') parts.push(routeTable(found, filters));
    if (s === 'endpoint') parts.push(endpointTable(found, filters));
  }
  return parts.join('\n');
}

function str(value: unknown, fallback = '-'): string {
  return typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : fallback;
}

function obj(value: unknown): JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonObject) : {};
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** `/apis/networking.istio.io/v1/namespaces/default/destination-rule/reviews` -> `reviews.default`. */
function istioConfigName(metadata: unknown): string {
  const config = obj(obj(obj(metadata)['filterMetadata'])['istio'])['config'];
  const m = typeof config === 'string' ? /namespaces\/([^/]+)\/[^/]+\/([^/]+)$/.exec(config) : null;
  return m === null ? '-' : `${m[2]}.${m[1]}`;
}

function clusterTable(section: ConfigDumpSection | undefined, filters: Filters): string {
  const clusters = section?.['@type'] === DUMP_TYPE.cluster ? (section.dynamicActiveClusters ?? []).map((c) => c.cluster) : [];
  const rows = clusters.flatMap((cluster) => {
    const name = str(cluster['name'], '');
    const parts = name.split('|');
    const [direction, port, subset, fqdn] = parts.length === 4 ? parts : ['', '', '', name];
    if (filters.fqdn !== undefined && !(fqdn ?? '').startsWith(filters.fqdn)) return [];
    if (filters.port !== undefined && port !== filters.port) return [];
    if (filters.subset !== undefined && subset !== filters.subset) return [];
    if (filters.direction !== undefined && direction !== filters.direction) return [];
    const type = str(cluster['type'], cluster['clusterType'] !== undefined ? str(obj(cluster['clusterType'])['name']) : 'EDS');
    return [[fqdn || name, port || '-', subset || '-', direction || '-', type, istioConfigName(cluster['metadata'])]];
  });
  rows.sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? '') || Number(a[1]) - Number(b[1]) || (a[2] ?? '').localeCompare(b[2] ?? ''));
  return formatTable(['SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE', 'DESTINATION RULE'], rows);
}

function listenerTable(section: ConfigDumpSection | undefined, filters: Filters): string {
  const listeners = section?.['@type'] === DUMP_TYPE.listener ? (section.dynamicListeners ?? []).map((l) => l.activeState?.listener ?? {}) : [];
  const rows: string[][] = [];
  for (const listener of listeners) {
    const name = str(listener['name'], '');
    if (filters.name !== undefined && name !== filters.name) continue;
    const socket = obj(obj(listener['address'])['socketAddress']);
    const address = str(socket['address'], name);
    const port = str(socket['portValue']);
    if (filters.port !== undefined && port !== filters.port) continue;
    const api = obj(listener['apiListener']);
    if (Object.keys(api).length > 0) {
      rows.push([name, '-', 'ALL', destinationOf(obj(api['apiListener']))]);
      continue;
    }
    for (const chain of list(listener['filterChains']).map(obj)) rows.push([address, port, matchOf(obj(chain['filterChainMatch'])), chainDestination(chain)]);
    const fallback = obj(listener['defaultFilterChain']);
    if (Object.keys(fallback).length > 0) rows.push([address, port, 'ALL', chainDestination(fallback)]);
  }
  return formatTable(['ADDRESSES', 'PORT', 'MATCH', 'DESTINATION'], rows);
}

function matchOf(match: JsonObject): string {
  const parts: string[] = [];
  const sni = list(match['serverNames']).map(String);
  if (sni.length > 0) parts.push(`SNI: ${sni.join(',')}`);
  if (match['transportProtocol'] !== undefined) parts.push(`Trans: ${str(match['transportProtocol'])}`);
  const app = list(match['applicationProtocols']).map(String);
  if (app.length > 0) parts.push(`App: ${app.join(',')}`);
  if (match['destinationPort'] !== undefined) parts.push(`Addr: *:${str(match['destinationPort'])}`);
  return parts.length > 0 ? parts.join('; ') : 'ALL';
}

function chainDestination(chain: JsonObject): string {
  for (const filter of list(chain['filters']).map(obj)) {
    const config = obj(filter['typedConfig']);
    const destination = destinationOf(config);
    if (destination !== '-') return destination;
  }
  return '-';
}

function destinationOf(config: JsonObject): string {
  if (config['rds'] !== undefined) return `Route: ${str(obj(config['rds'])['routeConfigName'])}`;
  if (config['routeConfig'] !== undefined) {
    const routes = list(obj(list(obj(config['routeConfig'])['virtualHosts'])[0])['routes']).map(obj);
    const route = obj(routes[0]);
    const cluster = obj(route['route'])['cluster'];
    return typeof cluster === 'string' ? `Inline Route: ${cluster}` : 'Inline Route';
  }
  if (typeof config['cluster'] === 'string') return `Cluster: ${config['cluster']}`;
  if (config['weightedClusters'] !== undefined) return `Clusters: ${list(obj(config['weightedClusters'])['clusters']).map((c) => str(obj(c)['name'])).join(', ')}`;
  return '-';
}

function routeTable(section: ConfigDumpSection | undefined, filters: Filters): string {
  const configs = section?.['@type'] === DUMP_TYPE.route ? (section.dynamicRouteConfigs ?? []).map((r) => r.routeConfig) : [];
  const rows: string[][] = [];
  for (const config of configs) {
    const name = str(config['name']);
    if (filters.name !== undefined && name !== filters.name) continue;
    for (const vhost of list(config['virtualHosts']).map(obj)) {
      const domains = list(vhost['domains']).map(String);
      const shownDomains = domains.length <= 2 ? domains.join(', ') : `${domains.slice(0, 2).join(', ')} + ${domains.length - 2} more...`;
      const routes = list(vhost['routes']).map(obj);
      if (routes.length === 0) rows.push([name, str(vhost['name']), shownDomains, '-', '-']);
      for (const route of routes) rows.push([name, str(vhost['name']), shownDomains, routeMatch(obj(route['match'])), istioConfigName(route['metadata'])]);
    }
  }
  return formatTable(['NAME', 'VHOST NAME', 'DOMAINS', 'MATCH', 'VIRTUAL SERVICE'], rows);
}

function routeMatch(match: JsonObject): string {
  if (typeof match['prefix'] === 'string') return `${match['prefix']}*`;
  if (typeof match['path'] === 'string') return match['path'];
  if (typeof match['pathSeparatedPrefix'] === 'string') return `${match['pathSeparatedPrefix']}/*`;
  const regex = obj(match['safeRegex'])['regex'];
  if (typeof regex === 'string') return regex;
  return '/*';
}

function endpointTable(section: ConfigDumpSection | undefined, filters: Filters): string {
  const assignments = section?.['@type'] === DUMP_TYPE.endpoint ? (section.dynamicEndpointConfigs ?? []).map((e) => e.endpointConfig) : [];
  const rows: string[][] = [];
  for (const assignment of assignments) {
    const cluster = str(assignment['clusterName']);
    if (filters.fqdn !== undefined && !cluster.includes(`|${filters.fqdn}`)) continue;
    for (const locality of list(assignment['endpoints']).map(obj)) {
      for (const lb of list(locality['lbEndpoints']).map(obj)) {
        const socket = obj(obj(obj(obj(lb['endpoint'])['address'])['socketAddress']));
        const port = str(socket['portValue']);
        if (filters.port !== undefined && port !== filters.port) continue;
        const health = str(lb['healthStatus'], 'HEALTHY');
        rows.push([`${str(socket['address'])}:${port}`, health === 'UNKNOWN' ? 'HEALTHY' : health, 'OK', cluster]);
      }
    }
  }
  return formatTable(['ENDPOINT', 'STATUS', 'OUTLIER CHECK', 'CLUSTER'], rows);
}

const SECRETS_DUMP_TYPE = 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump';

/** Envoy's `/config_dump`, as a proxy's admin port answers it. */
interface AdminConfigDump {
  readonly configs: readonly JsonObject[];
}

/**
 * Secrets come from the proxy's admin port, not the control plane: the proxy makes its own key
 * and certificate (`default`, `ROOTCA`), so only it can show them. `now` is the proxy's clock (the
 * answer's Date header), as whether a certificate is valid matters where it is used.
 */
/** `host:port` or a URL: the proxy's admin port itself, rather than a proxy's name. */
function isAdminAddress(proxy: string): boolean {
  return /^https?:\/\//.test(proxy) || /^(\[[0-9a-fA-F:.]+\]|[^\s/:[\]]+):\d+$/.test(proxy);
}

async function proxyConfigDump(proxy: string): Promise<{ readonly dump: AdminConfigDump; readonly now: number }> {
  const base = /^https?:\/\//.test(proxy) ? proxy : `http://${proxy}`;
  if (!URL.canParse(base)) throw new CliExit(ExitStatus.usage, `"${proxy}" is not a proxy's admin address (host:port)`);
  const url = new URL('/config_dump', base);
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    const cause = (e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message;
    throw new CliExit(1, `cannot reach the proxy's admin port at ${url.host} (${cause})`);
  }
  if (!response.ok) throw new CliExit(1, `${url.href}: HTTP ${response.status}`);
  const dump = (await response.json()) as AdminConfigDump;
  const now = Date.parse(response.headers.get('date') ?? '');
  if (Number.isNaN(now)) throw new CliExit(1, `${url.href}: the answer has no Date header to tell whether certificates are valid`);
  return { dump, now };
}

/** istioctl's secret table: one row per secret, its first certificate (the leaf of a chain, the first CA of a bundle). */
function secretTable(section: JsonObject | undefined, now: number): string {
  const rows = list(section?.['dynamicActiveSecrets']).map(obj).map((entry) => {
    const secret = obj(entry['secret']);
    const chain = inlineText(obj(obj(secret['tlsCertificate'])['certificateChain']));
    const ca = inlineText(obj(obj(secret['validationContext'])['trustedCa']));
    const type = chain !== undefined ? 'Cert Chain' : ca !== undefined ? 'CA' : '';
    const certificate = parseCertificate(chain ?? ca);
    const name = str(entry['name'], str(secret['name']));
    if (certificate === undefined) return [name, type, 'ACTIVE', 'false', '', '', ''];
    const notBefore = certificate.validFromDate;
    const notAfter = certificate.validToDate;
    return [
      name,
      type,
      'ACTIVE',
      String(now > notBefore.getTime() && now < notAfter.getTime()),
      // Go's %x of the serial, as istioctl prints it: lower case, no leading zeros.
      BigInt(`0x${certificate.serialNumber}`).toString(16),
      rfc3339(notAfter),
      rfc3339(notBefore),
    ];
  });
  rows.sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''));
  return formatTable(['RESOURCE NAME', 'TYPE', 'STATUS', 'VALID CERT', 'SERIAL NUMBER', 'NOT AFTER', 'NOT BEFORE'], rows);
}

/** A DataSource's inline content (bytes are base64 in JSON). */
function inlineText(source: JsonObject): string | undefined {
  if (typeof source['inlineBytes'] === 'string') return Buffer.from(source['inlineBytes'], 'base64').toString('utf8');
  return typeof source['inlineString'] === 'string' ? source['inlineString'] : undefined;
}

function parseCertificate(pem: string | undefined): X509Certificate | undefined {
  if (pem === undefined) return undefined;
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

/** Whole seconds, as Go's time.RFC3339. */
function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
