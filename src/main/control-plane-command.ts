import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CliExit, ExitStatus } from '../cli/index.ts';
import { startControlPlane } from './control-plane.ts';
import { openCertificateAuthority } from './certificate-authority.ts';
import { consoleLogger, isLogLevel } from './console-logger.ts';
import { systemClock } from './system.ts';

interface ControlPlaneFlags {
  readonly configDir: string;
  readonly xdsAddress: string;
  readonly xdsTlsAddress?: string;
  readonly debugAddress: string;
  readonly logLevel: string;
  readonly debounceQuiet: string;
  readonly debounceMax: string;
  readonly caDir?: string;
  readonly cacerts?: string;
  readonly trustDomain: string;
}

/** Istio's 15012, on every interface: unlike 15010, it is safe to expose. */
const DEFAULT_XDS_TLS_ADDRESS = '0.0.0.0:15012';

/** A plaintext port the system picks (tests, scripts) gets a TLS port the system picks, on the same host; else 15012. */
function defaultTlsAddress(xdsAddress: string): string {
  const colon = xdsAddress.lastIndexOf(':');
  return colon > 0 && xdsAddress.slice(colon + 1) === '0' ? `${xdsAddress.slice(0, colon)}:0` : DEFAULT_XDS_TLS_ADDRESS;
}

/** `weft control-plane`: runs the control plane in the foreground until interrupted. */
export function registerControlPlaneCommand(program: Command, io: { stderr: (text: string) => void }): void {
  program
    .command('control-plane')
    .description('Run the control plane: watch a directory of Istio YAML and serve xDS (ADS) to proxies, with a debug API')
    .requiredOption('--config-dir <dir>', 'the directory of configuration, read recursively and watched for changes')
    .option('--xds-address <host:port>', 'where to serve xDS (ADS over gRPC, plaintext; no CA when the TLS port is there)', '127.0.0.1:15010')
    .option('--xds-tls-address <host:port>', `where to serve xDS and the CA over TLS, with a certificate the CA issues for istiod.istio-system.svc (default: ${DEFAULT_XDS_TLS_ADDRESS}, or port 0 on the --xds-address host when its port is 0)`)
    .option('--debug-address <host:port>', 'where to serve the debug API (JSON over HTTP)', '127.0.0.1:15014')
    .option('--log-level <level>', 'debug, info, warn or error', 'info')
    .option('--debounce-quiet <ms>', 'push after the configuration has been quiet this long', '100')
    .option('--debounce-max <ms>', 'push at the latest this long after the first change', '1000')
    .option('--ca-dir <dir>', 'where the self-signed root CA is kept and reused (ca-cert.pem, root-cert.pem, ca-key.pem); default: none, a new root in memory on every start')
    .option('--cacerts <dir>', "a plugged-in CA in Istio's cacerts layout (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem); used instead of the self-signed root; read again every 2 s, so a root can be rotated without a restart")
    .option('--trust-domain <domain>', 'the trust domain of workload identities (spiffe://<domain>/ns/<ns>/sa/<sa>)', 'cluster.local')
    .action(async (flags: ControlPlaneFlags) => {
      if (!isLogLevel(flags.logLevel)) throw new CliExit(ExitStatus.usage, `--log-level must be debug, info, warn or error, got "${flags.logLevel}"`);
      const quiet = Number(flags.debounceQuiet);
      const max = Number(flags.debounceMax);
      if (!(quiet >= 0) || !(max >= quiet)) throw new CliExit(ExitStatus.usage, '--debounce-quiet and --debounce-max must be numbers of milliseconds, quiet <= max');
      const logger = consoleLogger({ level: flags.logLevel, write: io.stderr });
      const ca = await openCertificateAuthority({
        trustDomain: flags.trustDomain,
        clock: systemClock,
        ...(flags.caDir !== undefined ? { stateDir: resolve(flags.caDir) } : {}),
        ...(flags.cacerts !== undefined ? { pluggedCertsDir: resolve(flags.cacerts) } : {}),
      }, logger);
      if (!ca.ok) throw new CliExit(1, `control plane failed to start: ${ca.error}`);
      let running;
      try {
        running = await startControlPlane({
          config: { directory: resolve(flags.configDir) },
          xdsAddress: flags.xdsAddress,
          xdsTlsAddress: flags.xdsTlsAddress ?? defaultTlsAddress(flags.xdsAddress),
          debugAddress: flags.debugAddress,
          logger,
          push: { debounceQuietMs: quiet, debounceMaxMs: max },
          certificateAuthority: ca.value,
        });
      } catch (e) {
        ca.value.close();
        throw new CliExit(1, `control plane failed to start: ${(e as Error).message}`);
      }
      await new Promise<void>((done) => {
        const stop = () => {
          logger.info('shutting down');
          ca.value.close();
          void running.close().then(done);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
