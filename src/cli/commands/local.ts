import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { readSources, type SourceFile } from '../../config/index.ts';
import { CliExit, ExitStatus, type CliIo } from '../io.ts';
import { localApiClient, LocalApiError, type MeshStatus, type ProcessState } from '../local-api-client.ts';
import { formatTable } from '../output/table.ts';

export interface LocalCommandDeps {
  readonly io: CliIo;
  /** Where `weft up` keeps its state unless --state-dir says otherwise. */
  readonly defaultStateDir: string;
  /** Stops `weft logs -f` (Ctrl-C in a terminal; a test's bound). */
  readonly followUntil?: AbortSignal;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** The commands that talk to a running local mesh: status, down, logs, apply, delete, get, run. */
export function registerLocalCommands(program: Command, deps: LocalCommandDeps): void {
  const { io } = deps;
  const stateDir = (flags: { stateDir?: string }): string => resolve(io.cwd, flags.stateDir ?? deps.defaultStateDir);
  const stateOption = '--state-dir <dir>';
  const stateHelp = `the state directory of the local mesh (default ${deps.defaultStateDir})`;

  program
    .command('status')
    .description('Show the workloads of the local mesh: replicas ready, sidecars synced, version, restarts')
    .option('-o, --output <format>', 'json for every replica\'s details (addresses, ports, processes)')
    .option(stateOption, stateHelp)
    .action(async (flags: { output?: string; stateDir?: string }) => {
      if (flags.output !== undefined && flags.output !== 'json') throw new CliExit(ExitStatus.usage, `-o must be json, got "${flags.output}"`);
      const status = await localApiClient(stateDir(flags)).get<MeshStatus>('/v1/status');
      io.stdout(flags.output === 'json' ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
    });

  program
    .command('down')
    .description('Stop the local mesh: workloads, sidecars, gateway and control plane')
    .option(stateOption, stateHelp)
    .action(async (flags: { stateDir?: string }) => {
      const dir = stateDir(flags);
      await localApiClient(dir).post('/v1/shutdown', {});
      // weft up removes mesh.json once everything has stopped.
      for (let i = 0; i < 600 && existsSync(join(dir, 'mesh.json')); i++) await sleep(100);
      if (existsSync(join(dir, 'mesh.json'))) throw new CliExit(1, 'the mesh was asked to stop but is still running after 60s');
      io.stdout('the local mesh is stopped\n');
    });

  program
    .command('logs')
    .description('Print the logs of a replica (reviews-v1-0, or reviews-v1 for its first replica), its sidecar, the gateway or the control plane')
    .argument('<name>', 'a replica or workload, istio-ingressgateway, or control-plane')
    .option('-c, --container <container>', 'app, or istio-proxy for the sidecar', 'app')
    .option('-n, --namespace <ns>', 'the namespace of the workload', 'default')
    .option('-f, --follow', 'keep printing what is written')
    .option(stateOption, stateHelp)
    .action(async (name: string, flags: { container: string; namespace: string; follow?: boolean; stateDir?: string }) => {
      if (flags.container !== 'app' && flags.container !== 'istio-proxy') throw new CliExit(ExitStatus.usage, `--container must be app or istio-proxy, got "${flags.container}"`);
      const path = logPath(stateDir(flags), name, flags.namespace, flags.container === 'istio-proxy');
      await printLog(path, flags.follow === true, io, deps.followUntil);
    });

  program
    .command('apply')
    .description('Create or update resources in the running local mesh; a change that does not validate is refused whole')
    .requiredOption('-f, --filename <path>', 'a file or directory of YAML (repeat; - for standard input)', collect, [])
    .option(stateOption, stateHelp)
    .action(async (flags: { filename: string[]; stateDir?: string }) => {
      const files = readFiles(flags.filename, io);
      const answer = await refusalsAsExit(localApiClient(stateDir(flags)).post<{ changes: string[]; warnings: string[] }>('/v1/apply', { files }));
      for (const line of answer.changes) io.stdout(`${line}\n`);
      for (const warning of answer.warnings) io.stderr(`Warning: ${warning}\n`);
    });

  program
    .command('delete')
    .description('Delete resources from the running local mesh, named by the files that define them or by kind and name')
    .argument('[kind]', 'the kind (VirtualService, vs, ...) when not using -f')
    .argument('[name]', 'the name when not using -f')
    .option('-f, --filename <path>', 'a file or directory of YAML (repeat)', collect, [])
    .option('-n, --namespace <ns>', 'the namespace of the named resource', 'default')
    .option(stateOption, stateHelp)
    .action(async (kind: string | undefined, name: string | undefined, flags: { filename: string[]; namespace: string; stateDir?: string }) => {
      let body: unknown;
      if (flags.filename.length > 0) body = { files: readFiles(flags.filename, io) };
      else if (kind !== undefined && name !== undefined) body = { refs: [{ kind, namespace: flags.namespace, name }] };
      else throw new CliExit(ExitStatus.usage, 'give -f FILE, or a kind and a name (weft delete virtualservice reviews)');
      const answer = await refusalsAsExit(localApiClient(stateDir(flags)).post<{ deleted: string[]; notFound: string[] }>('/v1/delete', body));
      for (const line of answer.deleted) io.stdout(`${line} deleted\n`);
      for (const line of answer.notFound) io.stderr(`${line} not found\n`);
      if (answer.deleted.length === 0 && answer.notFound.length > 0) throw new CliExit(1);
    });

  program
    .command('get')
    .description('List resources of the running local mesh, or show one as YAML')
    .argument('<kind>', 'a kind: virtualservice (vs), destinationrule (dr), gateway (gw), service (svc), localworkload (lw), all, ...')
    .argument('[name]', 'the name of one resource')
    .option('-n, --namespace <ns>', 'only this namespace')
    .option('-o, --output <format>', 'yaml for the resources themselves')
    .option(stateOption, stateHelp)
    .action(async (kind: string, name: string | undefined, flags: { namespace?: string; output?: string; stateDir?: string }) => {
      const query = new URLSearchParams({ ...(kind !== 'all' ? { kind } : {}), ...(name !== undefined ? { name } : {}), ...(flags.namespace !== undefined ? { namespace: flags.namespace } : {}) });
      const answer = await localApiClient(stateDir(flags)).get<{ resources: { kind: string; name: string; namespace: string; source: string; yaml: string }[] }>(`/v1/resources?${query}`);
      if (answer.resources.length === 0) throw new CliExit(1, name !== undefined ? `${kind} "${name}" not found` : `no ${kind} resources found`);
      if (flags.output === 'yaml') {
        io.stdout(answer.resources.map((r) => r.yaml).join('---\n'));
        return;
      }
      if (flags.output !== undefined) throw new CliExit(ExitStatus.usage, `-o must be yaml, got "${flags.output}"`);
      io.stdout(formatTable(['KIND', 'NAMESPACE', 'NAME', 'SOURCE'], answer.resources.map((r) => [r.kind, r.namespace, r.name, r.source])));
    });

  program
    .command('run')
    .description('Add a workload with its sidecar to the running local mesh: weft run --name NAME --port P [--expose] -- COMMAND ARGS...')
    .requiredOption('--name <name>', 'the workload name')
    .option('--port <port>', 'a port the app serves (repeat); the first is PORT in its environment', collect, [])
    .option('--label <key=value>', 'a label (repeat); app=<name> unless given', collect, [])
    .option('--env <key=value>', 'an environment variable (repeat)', collect, [])
    .option('-n, --namespace <ns>', 'the namespace', 'default')
    .option('--service-account <sa>', 'the identity of the workload', 'default')
    .option('--replicas <n>', 'how many replicas', '1')
    .option('--expose', 'also create a Service named after the workload, on its ports')
    .option('--service-port <port>', 'with --expose, the Service\'s port for the first --port (kubectl expose --port; default the same)')
    .option(stateOption, stateHelp)
    .argument('<command...>', 'the program and its arguments (after --)')
    .action(async (command: string[], flags: RunFlags) => {
      const files = [{ name: `weft run ${flags.name}`, text: runManifest(command, flags, io.cwd) }];
      const answer = await refusalsAsExit(localApiClient(stateDir(flags)).post<{ changes: string[]; warnings: string[] }>('/v1/apply', { files }));
      for (const line of answer.changes) io.stdout(`${line}\n`);
    });
}

interface RunFlags {
  readonly name: string;
  readonly port: string[];
  readonly label: string[];
  readonly env: string[];
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly replicas: string;
  readonly expose?: boolean;
  readonly servicePort?: string;
  readonly stateDir?: string;
}

/** The LocalWorkload (and Service) that `weft run` applies; the API validates it like any file. */
function runManifest(command: readonly string[], flags: RunFlags, cwd: string): string {
  const pairs = (list: readonly string[], what: string): [string, string][] => list.map((entry) => {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new CliExit(ExitStatus.usage, `${what} must be key=value, got "${entry}"`);
    return [entry.slice(0, eq), entry.slice(eq + 1)];
  });
  const ports = flags.port.map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new CliExit(ExitStatus.usage, `--port must be a port number, got "${p}"`);
    return n;
  });
  const servicePort = flags.servicePort === undefined ? undefined : Number(flags.servicePort);
  if (servicePort !== undefined && (!Number.isInteger(servicePort) || servicePort < 1 || servicePort > 65535)) throw new CliExit(ExitStatus.usage, `--service-port must be a port number, got "${flags.servicePort}"`);
  const replicas = Number(flags.replicas);
  if (!Number.isInteger(replicas) || replicas < 0) throw new CliExit(ExitStatus.usage, `--replicas must be a whole number, got "${flags.replicas}"`);
  const labels = { app: flags.name, ...Object.fromEntries(pairs(flags.label, '--label')) };
  const workload = {
    apiVersion: 'local.weft.dev/v1alpha1',
    kind: 'LocalWorkload',
    metadata: { name: flags.name, namespace: flags.namespace },
    spec: {
      labels,
      serviceAccount: flags.serviceAccount,
      ports: ports.map((p, i) => ({ name: i === 0 ? 'http' : `http-${p}`, containerPort: p })),
      command: [...command],
      workingDir: cwd,
      env: pairs(flags.env, '--env').map(([name, value]) => ({ name, value })),
      replicas,
    },
  };
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: flags.name, namespace: flags.namespace, labels: { app: labels.app } },
    spec: {
      selector: { app: labels.app },
      ports: ports.map((p, i) => ({ name: i === 0 ? 'http' : `http-${p}`, port: i === 0 && servicePort !== undefined ? servicePort : p, targetPort: p })),
    },
  };
  if (flags.expose === true && ports.length === 0) throw new CliExit(ExitStatus.usage, '--expose needs at least one --port');
  return [toYaml(workload), ...(flags.expose === true ? [toYaml(service)] : [])].join('---\n');
}

function readFiles(paths: readonly string[], io: CliIo): SourceFile[] {
  const files: SourceFile[] = [];
  const errors: string[] = [];
  for (const path of paths) {
    if (path === '-') {
      files.push({ name: '<stdin>', text: io.readStdin() });
      continue;
    }
    const read = readSources([resolve(io.cwd, path)]);
    files.push(...read.sources);
    errors.push(...read.errors);
  }
  if (errors.length > 0) throw new CliExit(1, errors.join('\n'));
  if (files.length === 0) throw new CliExit(1, `no .yaml, .yml or .json files in ${paths.join(', ')}`);
  return files;
}

async function refusalsAsExit<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    if (error instanceof LocalApiError) {
      throw new CliExit(1, [`Error: ${error.message}`, ...error.diagnostics.map((d) => `  ${d}`)].join('\n'));
    }
    throw error;
  }
}

function formatStatus(status: MeshStatus): string {
  const rows = status.workloads.map((w) => {
    const ready = w.replicas.filter((r) => r.ready).length;
    const synced = w.replicas.filter((r) => r.sync === 'SYNCED').length;
    const restarts = w.replicas.reduce((n, r) => n + r.app.restarts, 0);
    const problems = w.replicas.flatMap((r) => [problem(r.name, r.app), problem(`${r.name} sidecar`, r.sidecar)]).filter((p) => p !== '');
    return [w.name, w.namespace, `${ready}/${w.desired}`, `${synced}/${w.replicas.length}`, w.version === '' ? '-' : w.version, String(restarts), problems.join('; ')];
  });
  const table = formatTable(['WORKLOAD', 'NAMESPACE', 'READY', 'SIDECARS SYNCED', 'VERSION', 'RESTARTS', 'PROBLEMS'], rows);
  const gateway = status.gateway === undefined ? 'no ingress gateway\n'
    : `ingress gateway: ${status.gateway.url} (${status.gateway.sidecar.state}, ${status.gateway.sync})\n`;
  return `${table}${gateway}`;
}

function problem(name: string, process: ProcessState): string {
  if (process.state === 'failed') return `${name}: ${process.message ?? 'failed'}`;
  if (process.state === 'restarting') return `${name}: restarting after ${process.lastExit?.signal ?? `exit ${process.lastExit?.code}`}`;
  return '';
}

/** The log file of a replica, workload (its first replica), sidecar, the gateway or the control plane. */
function logPath(stateDir: string, name: string, namespace: string, sidecar: boolean): string {
  const logs = join(stateDir, 'logs');
  if (name === 'control-plane') return join(logs, 'control-plane.log');
  if (name === 'istio-ingressgateway') return join(logs, 'istio-system.istio-ingressgateway-0.proxy.log');
  const suffix = sidecar ? '.proxy.log' : '.log';
  for (const candidate of [name, `${name}-0`]) {
    const path = join(logs, `${namespace}.${candidate}${suffix}`);
    if (existsSync(path)) return path;
  }
  throw new CliExit(1, `no logs for "${name}" in namespace ${namespace} (weft status lists the workloads; replicas are <workload>-<n>)`);
}

async function printLog(path: string, follow: boolean, io: CliIo, until: AbortSignal | undefined): Promise<void> {
  let offset = 0;
  const readMore = (): void => {
    const size = statSync(path).size;
    if (size < offset) offset = 0;
    if (size === offset) return;
    const fd = openSync(path, 'r');
    try {
      const buffer = Buffer.alloc(size - offset);
      const read = readSync(fd, buffer, 0, buffer.length, offset);
      offset += read;
      io.stdout(buffer.subarray(0, read).toString('utf8'));
    } finally {
      closeSync(fd);
    }
  };
  readMore();
  while (follow && until?.aborted !== true) {
    try {
      await sleep(200, undefined, until === undefined ? {} : { signal: until });
    } catch {
      return;
    }
    readMore();
  }
}
