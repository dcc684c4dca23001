import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliExit, ExitStatus } from '../cli/index.ts';
import { parseDuration } from '../core/index.ts';
import { accessLogFormatter, BufferedAccessLogSink, openAccessLogFile, type AccessLogSink } from '../proxy/telemetry/index.ts';
import { parseBootstrap, type BootstrapFlags } from '../proxy/xds-client/index.ts';
import { parsePortMap, startProxy } from './proxy.ts';
import { systemTimers } from './system.ts';
import { isProxyLogLevel, proxyLoggers } from './proxy-loggers.ts';

interface ProxyFlags extends Omit<BootstrapFlags, 'labels'> {
  readonly bootstrap?: string;
  readonly label: string[];
  readonly bindAddress?: string;
  readonly portMap: string[];
  readonly accessLog: string;
  readonly accessLogFormat: string;
  readonly logLevel: string;
  readonly drainTime: string;
  readonly terminationDrainDuration: string;
  readonly workloadCertTtl?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** `weft proxy`: runs a sidecar or gateway proxy in the foreground, configured by the control plane over ADS. */
export function registerProxyCommand(program: Command, io: { stdout: (text: string) => void; stderr: (text: string) => void; version: string }): void {
  program
    .command('proxy')
    .description('Run a proxy (sidecar or gateway) that takes its configuration from the control plane over xDS')
    .option('--bootstrap <file>', 'a bootstrap file (YAML or JSON: node, ads, admin, health, stats); flags override it')
    .option('--type <type>', 'sidecar, or router for a gateway')
    .option('--id <id>', "the node id (default: made Istio's way, type~ip~pod.namespace~namespace.svc.cluster.local)")
    .option('--pod-name <name>', 'the workload instance name')
    .option('--namespace <ns>', 'the namespace of the workload')
    .option('--ip <ips>', 'the workload IP addresses, comma-separated')
    .option('--domain <domain>', 'the DNS domain of the node id')
    .option('--cluster <name>', 'the service cluster of the node (default: app.namespace)')
    .option('--service-account <sa>', 'the service account of the workload')
    .option('--workload-name <name>', 'the workload (Deployment) name')
    .option('--label <key=value>', 'a label of the workload (repeat)', collect, [])
    .option('--pod-ports <json>', 'the container ports, as JSON: [{"containerPort":9080}]')
    .option('--istio-version <version>', 'the ISTIO_VERSION metadata')
    .option('--locality <region/zone/subzone>', 'the locality of the workload')
    .option('--xds-address <host:port>', 'the control plane (ADS over gRPC): its TLS port (15012) with --xds-root-cert, else its plaintext one (15010)')
    .option('--xds-root-cert <file>', 'the mesh root (PEM) the control plane’s certificate must chain to; with it, xDS and the CA go over TLS, the server checked for istiod.istio-system.svc (bootstrap: ads.tls)')
    .option('--ads-mode <mode>', 'sotw or delta')
    .option('--initial-fetch-timeout <duration>', 'how long to wait for the initial config before serving anyway')
    .option('--admin-address <host:port>', 'the admin port (Envoy’s 15000)')
    .option('--health-address <host:port>', 'the health port (/healthz/ready, Istio’s 15021)')
    .option('--stats-address <host:port>', 'the Prometheus port (Istio’s 15090)')
    .option('--ca-address <host:port>', 'the CA that issues the workload certificate (default: the xDS address; over TLS with --xds-root-cert)')
    .option('--ca-token-file <path>', 'the bearer token for the CA; without it the proxy asks for no workload certificate')
    .option('--workload-cert-ttl <duration>', 'the workload certificate lifetime to ask the CA for, e.g. 24h or 10s (Istio’s SECRET_TTL; default: the CA’s, 24h); renewed at about half of it')
    .option('--trust-domain <domain>', 'the trust domain of the workload’s SPIFFE id (default: cluster.local)')
    .option('--bind-address <host>', 'bind every listener on this address instead of its configured one (local mode, tests)')
    .option('--port-map <port=port>', 'bind the listener configured on the first port on the second (0: any free port); repeat', collect, [])
    .option('--access-log <path>', 'where the access log goes: - for stdout, a file path, or off', '-')
    .option('--access-log-format <format>', 'text (Envoy’s default format) or json', 'text')
    .option('--log-level <level>', 'trace, debug, info, warning, error, critical or off', 'info')
    .option('--drain-time <duration>', 'how long connections of a replaced listener config go on', '45s')
    .option('--termination-drain-duration <duration>', 'on SIGTERM, how long open connections may finish before the proxy exits', '5s')
    .action(async (flags: ProxyFlags) => {
      if (!isProxyLogLevel(flags.logLevel)) throw new CliExit(ExitStatus.usage, `--log-level must be trace, debug, info, warning, error, critical or off, got "${flags.logLevel}"`);
      const drainTime = parseDuration(flags.drainTime);
      const terminationDrain = parseDuration(flags.terminationDrainDuration);
      if (!drainTime.ok) throw new CliExit(ExitStatus.usage, `--drain-time: ${drainTime.error}`);
      if (!terminationDrain.ok) throw new CliExit(ExitStatus.usage, `--termination-drain-duration: ${terminationDrain.error}`);
      let workloadCertTtlSeconds: number | undefined;
      if (flags.workloadCertTtl !== undefined) {
        const ttl = parseDuration(flags.workloadCertTtl);
        if (!ttl.ok) throw new CliExit(ExitStatus.usage, `--workload-cert-ttl: ${ttl.error}`);
        workloadCertTtlSeconds = Math.ceil(ttl.value / 1000);
        if (!(workloadCertTtlSeconds >= 1)) throw new CliExit(ExitStatus.usage, `--workload-cert-ttl must be at least 1s, got "${flags.workloadCertTtl}"`);
      }
      const portMap = parsePortMap(flags.portMap);
      if (!portMap.ok) throw new CliExit(ExitStatus.usage, portMap.error);
      if (!['text', 'json'].includes(flags.accessLogFormat)) throw new CliExit(ExitStatus.usage, `--access-log-format must be text or json, got "${flags.accessLogFormat}"`);

      let file: { name: string; text: string } | undefined;
      if (flags.bootstrap !== undefined) {
        try {
          file = { name: flags.bootstrap, text: readFileSync(flags.bootstrap, 'utf8') };
        } catch (error) {
          throw new CliExit(ExitStatus.usage, `cannot read the bootstrap file: ${(error as Error).message}`);
        }
      }
      const { bootstrap: _file, label, bindAddress, portMap: _ports, accessLog: _log, accessLogFormat: _format, logLevel: _level, drainTime: _drain, terminationDrainDuration: _termination, workloadCertTtl: _ttl, ...rest } = flags;
      const bootstrap = parseBootstrap({ ...(file === undefined ? {} : { file }), flags: { ...rest, labels: label } });
      if (!bootstrap.ok) throw new CliExit(ExitStatus.usage, `invalid bootstrap:\n  ${bootstrap.error.join('\n  ')}`);

      const loggers = proxyLoggers({ level: flags.logLevel, write: io.stderr });
      const accessLog = openAccessLog(flags.accessLog, flags.accessLogFormat === 'json' ? 'JSON' : 'TEXT', io.stdout, (error) => loggers.get('main').error('access log write failed', { error: error.message }));
      let stop: () => void = () => undefined;
      const stopped = new Promise<void>((resolve) => {
        stop = resolve;
      });
      let running;
      try {
        running = await startProxy({
          bootstrap: bootstrap.value,
          loggers,
          version: io.version,
          accessLog: accessLog.sink,
          binding: { ...(bindAddress === undefined ? {} : { host: bindAddress }), ...(portMap.value.size === 0 ? {} : { ports: portMap.value }) },
          drainTimeMs: drainTime.value,
          terminationDrainMs: terminationDrain.value,
          ...(workloadCertTtlSeconds !== undefined && { workloadCertificateTtlSeconds: workloadCertTtlSeconds }),
          commandLineOptions: { ...flags },
          onQuit: () => stop(),
        });
      } catch (error) {
        await accessLog.close();
        throw new CliExit(1, `proxy failed to start: ${(error as Error).message}`);
      }
      loggers.get('main').info('proxy started', { id: bootstrap.value.node.id, xds: bootstrap.value.ads.address });
      process.once('SIGINT', () => stop());
      process.once('SIGTERM', () => stop());
      await stopped;
      loggers.get('main').info('draining', { deadline: flags.terminationDrainDuration });
      await running.shutdown();
      await accessLog.close();
      loggers.get('main').info('proxy stopped');
    });
}

function openAccessLog(
  where: string, encoding: 'TEXT' | 'JSON', stdout: (text: string) => void, onError: (error: Error) => void,
): { sink: AccessLogSink; close(): Promise<void> } {
  if (where === 'off') return { sink: { log() {} }, close: async () => undefined };
  const output = where === '-'
    ? { write: (chunk: string, callback: (error?: Error | null) => void) => { stdout(chunk); callback(); } }
    : openAccessLogFile(where);
  const sink = new BufferedAccessLogSink({ format: accessLogFormatter(encoding), output, ownsOutput: where !== '-', timers: systemTimers, onError });
  return { sink, close: () => sink.close() };
}
