import type { Clock, Result } from '../../core/index.ts';
import type { ProtoJson } from '../../xds/index.ts';
import { formatPrometheus, formatStatsJson, formatStatsText, type StatsQuery } from '../telemetry/stats-format.ts';
import type { StatsStore } from '../telemetry/stats-store.ts';
import { JSON_TYPE, type AdminEndpoint, type AdminRequest, type AdminResponse } from './admin-server.ts';
import { formatCertificates, type CertificatesProvider } from './certificate-details.ts';
import { formatClustersJson, formatClustersText, type ClusterStatus } from './cluster-status.ts';
import { buildConfigDump, type ConfigDumpSource } from './config-dump.ts';

/** Envoy's server states: /ready answers 200 only when LIVE. */
export type ServerState = 'PRE_INITIALIZING' | 'INITIALIZING' | 'LIVE' | 'DRAINING';

/** Envoy's log levels, as `/logging` takes them. */
export interface ListenerAddress {
  readonly name: string;
  readonly address: { readonly address: string; readonly port: number };
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The proxy's loggers and their levels, as `main/` keeps them. */
export interface LogLevelControl {
  /** Every logger and its level. */
  levels(): ReadonlyMap<string, LogLevel>;
  /** Sets one logger's level, or every logger's when `logger` is undefined; an unknown logger is an error. */
  set(logger: string | undefined, level: LogLevel): Result<void, string>;
}

export interface AdminEndpointsOptions {
  readonly stats: StatsStore;
  /** The bootstrap and each xDS type's handler, in any order. */
  readonly configDump: readonly ConfigDumpSource[];
  readonly clusters: () => readonly ClusterStatus[];
  /** Each listener and where it is bound (which, in tests and local mode, is not always its configured address). */
  readonly listeners: () => readonly ListenerAddress[];
  readonly state: () => ServerState;
  readonly serverInfo: {
    readonly version: string;
    /** The xDS node, JSON form. */
    readonly node: ProtoJson;
    /** The options the proxy was started with. */
    readonly commandLineOptions: Readonly<Record<string, unknown>>;
    /** Milliseconds since the epoch. */
    readonly startTime: number;
  };
  readonly clock: Clock;
  /** The proxy's TLS certificates for `/certs`; none when absent. */
  readonly certificates?: CertificatesProvider;
  readonly logLevels: LogLevelControl;
  /** Stops accepting new connections on the listeners (inbound ones only, gracefully, as asked). */
  readonly drainListeners: (options: { readonly inboundOnly: boolean; readonly graceful: boolean }) => void | Promise<void>;
  /** Shuts the proxy down; called once the response is sent. */
  readonly quit: () => void;
}

const text = (body: string, status = 200): AdminResponse => ({ status, body });
const json = (value: unknown, status = 200): AdminResponse => ({ status, contentType: JSON_TYPE, body: `${JSON.stringify(value, null, 1)}\n` });

function statsQuery(request: AdminRequest): Result<StatsQuery, string> {
  const filter = request.query.get('filter');
  let regex: RegExp | undefined;
  if (filter !== null && filter !== '') {
    try {
      regex = new RegExp(filter);
    } catch (error) {
      return { ok: false, error: `Invalid re2 regex: ${error instanceof Error ? error.message : String(error)}` };
    }
  }
  return { ok: true, value: { ...(regex === undefined ? {} : { filter: regex }), usedOnly: request.query.has('usedonly') } };
}

function statsEndpoint(path: string, stats: StatsStore, format: 'text' | 'prometheus'): AdminEndpoint {
  return {
    path,
    help: format === 'prometheus' ? 'print server stats in prometheus format' : 'print server stats (?format=json|prometheus, ?filter=<regex>, ?usedonly)',
    method: 'GET',
    handle(request) {
      const query = statsQuery(request);
      if (!query.ok) return text(`${query.error}\n`, 400);
      const asked = format === 'prometheus' ? 'prometheus' : (request.query.get('format') ?? 'text');
      switch (asked) {
        case 'prometheus':
          return { status: 200, contentType: 'text/plain; version=0.0.4; charset=UTF-8', body: formatPrometheus(stats, query.value) };
        case 'json':
          return json(formatStatsJson(stats, query.value));
        case 'text':
          return text(formatStatsText(stats, query.value));
        default:
          return text(`usage: ${path}?format=json|prometheus|text\n`, 400);
      }
    },
  };
}

function loggingList(control: LogLevelControl): string {
  const lines = [...control.levels()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, level]) => `  ${name}: ${level}`);
  return `active loggers:\n${lines.join('\n')}${lines.length > 0 ? '\n' : ''}`;
}

function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/** Envoy also takes `warn` for `warning`. */
function logLevel(value: string): LogLevel | undefined {
  const level = value === 'warn' ? 'warning' : value;
  return isLogLevel(level) ? level : undefined;
}

const LOGGING_USAGE = `usage: /logging?<name>=<level> (change single level)\nusage: /logging?level=<level> (change all levels)\nlevels: ${LOG_LEVELS.join(' ')}\n`;

/** The admin port's endpoints, as Envoy names them. */
export function adminEndpoints(options: AdminEndpointsOptions): AdminEndpoint[] {
  const { clock } = options;
  return [
    {
      path: '/config_dump',
      help: 'dump current Envoy configs (?include_eds for endpoints)',
      method: 'GET',
      handle: (request) => json(buildConfigDump(options.configDump, { includeEndpoints: request.query.has('include_eds') })),
    },
    {
      path: '/clusters',
      help: 'upstream cluster status (?format=json)',
      method: 'GET',
      handle: (request) => (request.query.get('format') === 'json' ? json(formatClustersJson(options.clusters())) : text(formatClustersText(options.clusters()))),
    },
    {
      path: '/listeners',
      help: 'print listener info (?format=json)',
      method: 'GET',
      handle: (request) => {
        const listeners = options.listeners();
        if (request.query.get('format') !== 'json') return text(listeners.map((l) => `${l.name}::${l.address.address}:${l.address.port}\n`).join(''));
        return json({
          listener_statuses: listeners.map((l) => ({ name: l.name, local_address: { socket_address: { address: l.address.address, port_value: l.address.port } } })),
        });
      },
    },
    {
      path: '/certs',
      help: 'print certs on machine',
      method: 'GET',
      handle: () => json(formatCertificates(options.certificates?.() ?? [], clock.now())),
    },
    statsEndpoint('/stats', options.stats, 'text'),
    statsEndpoint('/stats/prometheus', options.stats, 'prometheus'),
    {
      path: '/ready',
      help: 'print server state, return 200 if LIVE, otherwise return 503',
      method: 'GET',
      handle: () => {
        const state = options.state();
        return text(`${state}\n`, state === 'LIVE' ? 200 : 503);
      },
    },
    {
      path: '/server_info',
      help: 'print server version/status information',
      method: 'GET',
      handle: () => {
        const { serverInfo } = options;
        const uptime = `${Math.max(0, Math.floor((clock.now() - serverInfo.startTime) / 1000))}s`;
        return json({
          version: serverInfo.version,
          state: options.state(),
          hot_restart_version: 'disabled',
          command_line_options: serverInfo.commandLineOptions,
          node: serverInfo.node,
          uptime_current_epoch: uptime,
          uptime_all_epochs: uptime,
        });
      },
    },
    {
      path: '/logging',
      help: 'GET lists the loggers and their levels; POST ?level=<level> sets all, ?<logger>=<level> sets one',
      method: 'GET',
      handle: (request) => {
        if (request.method !== 'POST') return text(loggingList(options.logLevels));
        for (const [name, value] of request.query) {
          const level = logLevel(value);
          if (level === undefined) return text(`error: unknown level "${value}"\n${LOGGING_USAGE}`, 400);
          const result = options.logLevels.set(name === 'level' ? undefined : name, level);
          if (!result.ok) return text(`error: ${result.error}\n${LOGGING_USAGE}`, 400);
        }
        return text(loggingList(options.logLevels));
      },
    },
    {
      path: '/drain_listeners',
      help: 'drain listeners (?inboundonly: inbound listeners only; ?graceful: stop accepting after the drain period)',
      method: 'POST',
      handle: async (request) => {
        await options.drainListeners({ inboundOnly: request.query.has('inboundonly'), graceful: request.query.has('graceful') });
        return text('OK\n');
      },
    },
    {
      path: '/quitquitquit',
      help: 'exit the server',
      method: 'POST',
      handle: () => ({ status: 200, body: 'OK\n', afterSent: options.quit }),
    },
  ];
}

/** The health port (Istio's 15021): `/healthz/ready` answers 200 once the proxy is LIVE. */
export function healthEndpoints(options: { readonly state: () => ServerState }): AdminEndpoint[] {
  return [
    {
      path: '/healthz/ready',
      help: '200 when the proxy is ready to serve, 503 otherwise',
      method: 'GET',
      handle: () => {
        const state = options.state();
        return state === 'LIVE' ? text('') : text(`not ready: ${state}\n`, 503);
      },
    },
  ];
}

/** The Prometheus port (Istio's 15090): `/stats/prometheus` only. */
export function prometheusEndpoints(options: { readonly stats: StatsStore }): AdminEndpoint[] {
  return [statsEndpoint('/stats/prometheus', options.stats, 'prometheus')];
}
