import type { Command } from 'commander';
import type { ControlPlaneClient } from '../control-plane-client.ts';
import type { ProxySyncStatus, TypeSyncStatus } from '../debug-api.ts';
import type { CliIo } from '../io.ts';
import { formatTable } from '../output/table.ts';
import { CliExit, ExitStatus } from '../io.ts';

export interface ControlPlaneCommandDeps {
  readonly io: CliIo;
  readonly controlPlane: (url: string) => ControlPlaneClient;
  readonly defaultControlPlaneUrl: string;
}

export function registerProxyStatus(program: Command, deps: ControlPlaneCommandDeps): void {
  program
    .command('proxy-status')
    .alias('ps')
    .description('Show whether each proxy has the configuration the control plane last sent it, like istioctl proxy-status')
    .argument('[proxy]', 'only this proxy (<workload>.<namespace> or its node id)')
    .option('-o, --output <format>', 'table or json', 'table')
    .option('--control-plane <url>', 'the control plane\'s debug API', deps.defaultControlPlaneUrl)
    .action(async (proxy: string | undefined, options: { output: string; controlPlane: string }) => {
      const all = await deps.controlPlane(options.controlPlane).get<ProxySyncStatus[]>('/debug/syncz');
      const shown = proxy === undefined ? all : all.filter((p) => p.name === proxy || p.id === proxy);
      if (proxy !== undefined && shown.length === 0) throw new CliExit(1, `proxy "${proxy}" is not connected to the control plane`);
      if (options.output === 'json') {
        deps.io.stdout(`${JSON.stringify(shown, null, 2)}\n`);
        return;
      }
      if (options.output !== 'table') throw new CliExit(ExitStatus.usage, `--output must be table or json, got "${options.output}"`);
      deps.io.stdout(formatProxyStatus(shown));
    });
}

export function formatProxyStatus(proxies: readonly ProxySyncStatus[]): string {
  const cell = (s: TypeSyncStatus | undefined) => (s === undefined ? 'NOT SENT' : s.status === 'ERROR' ? `ERROR: ${s.error ?? 'rejected'}` : s.status);
  const rows = [...proxies]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((p) => [p.name, p.cluster, cell(p.types.CDS), cell(p.types.LDS), cell(p.types.EDS), cell(p.types.RDS), 'IGNORED', p.controlPlane, p.version]);
  return formatTable(['NAME', 'CLUSTER', 'CDS', 'LDS', 'EDS', 'RDS', 'ECDS', 'ISTIOD', 'VERSION'], rows);
}
