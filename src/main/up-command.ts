import { rmSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { CliExit, ExitStatus } from '../cli/index.ts';
import { parseDuration } from '../core/index.ts';
import { startLocalMode, type RunningLocalMode } from './local-mode.ts';

interface UpFlags {
  readonly stateDir?: string;
  readonly port: string;
  readonly httpsPort: string;
  readonly gateway: boolean;
  readonly wait: string;
  readonly mode: string;
  readonly sharedLoopback?: boolean;
}

const SAMPLES = fileURLToPath(new URL('../../samples/', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));

/** The files of the demo: bookinfo, its gateway and subsets, and every request to v1. */
const DEMO_FILES = [
  'bookinfo/bookinfo.yaml',
  'bookinfo/networking/bookinfo-gateway.yaml',
  'bookinfo/networking/destination-rule-all.yaml',
  'bookinfo/networking/virtual-service-all-v1.yaml',
].map((f) => join(SAMPLES, f));

/** `weft up` and `weft demo`: run a local mesh in the foreground until Ctrl-C or `weft down`. */
export function registerUpCommands(program: Command, io: { stdout: (text: string) => void; stderr: (text: string) => void; defaultStateDir: string; cwd: string }): void {
  const common = (command: Command) => command
    .option('--port <port>', 'the ingress gateway\'s port on 127.0.0.1 (Gateway port 80)', '8080')
    .option('--https-port <port>', 'the ingress gateway\'s port for Gateway port 443', '8443')
    .option('--no-gateway', 'run no ingress gateway')
    .option('--wait <duration>', 'how long to wait for every replica to be ready before saying what is not', '60s')
    .option('--shared-loopback', 'explicit mode with every proxy on 127.0.0.1 and ports of its own (as on macOS, where it is chosen by itself)')
    .option('--mode <mode>', 'explicit (apps reach their sidecars through HTTP_PROXY; no root) or transparent (network namespaces and iptables capture, as Kubernetes; Linux, root)', 'explicit');

  common(program
    .command('up')
    .description('Run a local mesh: the control plane, every LocalWorkload with its sidecar, and an ingress gateway, from Kubernetes and Istio YAML')
    .argument('[paths...]', 'files, or directories whose top-level YAML files to apply (after what the state directory holds from earlier runs)')
    .option('--state-dir <dir>', `where the mesh keeps its configuration, logs and address (default ${io.defaultStateDir})`))
    .action(async (paths: string[], flags: UpFlags) => {
      await runMesh(paths.map((p) => resolve(io.cwd, p)), resolve(io.cwd, flags.stateDir ?? io.defaultStateDir), flags, io, false);
    });

  common(program
    .command('demo')
    .description('Run the bookinfo sample in a local mesh, all traffic to reviews v1, and show what to try next'))
    .option('--state-dir <dir>', 'where the demo keeps its state (started afresh each time)', join(io.defaultStateDir, '..', 'demo'))
    .action(async (flags: UpFlags) => {
      const stateDir = resolve(io.cwd, flags.stateDir ?? join(io.defaultStateDir, '..', 'demo'));
      // The demo starts from its files, not from what an earlier demo left applied.
      rmSync(join(stateDir, 'config.jsonl'), { force: true });
      await runMesh(DEMO_FILES, stateDir, flags, io, true);
    });
}

async function runMesh(paths: readonly string[], stateDir: string, flags: UpFlags, io: { stdout: (text: string) => void; stderr: (text: string) => void; cwd: string }, demo: boolean): Promise<void> {
  const { cwd } = io;
  const port = portFlag(flags.port, '--port');
  const httpsPort = portFlag(flags.httpsPort, '--https-port');
  if (flags.mode !== 'explicit' && flags.mode !== 'transparent') throw new CliExit(ExitStatus.usage, `--mode must be explicit or transparent, got "${flags.mode}"`);
  const mode = flags.mode;
  const wait = parseDuration(flags.wait);
  if (!wait.ok) throw new CliExit(ExitStatus.usage, `--wait: ${wait.error}`);
  const say = (line: string) => io.stdout(`${line}\n`);
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolveStop) => {
    stop = resolveStop;
  });
  say(`weft: starting a local mesh in ${mode} mode (state in ${stateDir})`);
  let running: RunningLocalMode;
  try {
    running = await startLocalMode({
      mode,
      ...(flags.sharedLoopback === true ? { sharedLoopback: true } : {}),
      stateDir,
      paths,
      gateway: flags.gateway ? { httpPort: port, httpsPort } : undefined,
      report: (line) => say(`  ${line}`),
      onShutdownRequest: () => stop(),
    });
  } catch (error) {
    throw new CliExit(1, `weft up failed: ${(error as Error).message}`);
  }
  const killAll = () => running.killNow();
  process.on('exit', killAll);
  process.once('SIGINT', () => stop());
  process.once('SIGTERM', () => stop());

  // The command as the user can type it: `weft` when installed, else the checkout's bin/weft.js.
  const weft = process.argv[1] !== undefined && basename(process.argv[1]) === 'weft' ? 'weft' : relativeOrAbsolute(cwd, BIN);
  const pending = await Promise.race([running.waitUntilReady(wait.value), stopped.then(() => [])]);
  if (pending.length > 0) {
    say(`weft: not ready after ${flags.wait}:`);
    for (const line of pending) say(`  ${line}`);
    say(`  (${weft} status shows where things stand; ${weft} logs NAME [-c istio-proxy] shows why)`);
  } else {
    const replicas = running.mesh.workloads().reduce((n, w) => n + w.replicas.length, 0);
    say(`weft: the mesh is up: ${replicas} replicas ready and synced${running.file.gateway !== undefined ? `, ingress gateway ${running.file.gateway}` : ''}`);
  }
  const shown = (file: string) => relativeOrAbsolute(cwd, file);
  say(demo ? demoNextSteps(weft, shown, running.file.gateway ?? '', relativeOrAbsolute(cwd, stateDir)) : upNextSteps(weft));
  await stopped;
  say('weft: stopping the mesh');
  await running.close();
  process.off('exit', killAll);
  say('weft: stopped');
}

function upNextSteps(weft: string): string {
  return `Next: ${weft} status | ${weft} logs NAME [-f] [-c istio-proxy] | ${weft} apply -f FILE | ${weft} get vs | ${weft} down (or Ctrl-C here)`;
}

function demoNextSteps(weft: string, path: (file: string) => string, gateway: string, stateDir: string): string {
  const dir = `--state-dir ${stateDir}`;
  return [
    '',
    `Bookinfo is running. Open ${gateway}/productpage (every reviews request goes to v1: no stars).`,
    '',
    'Try, in another terminal:',
    `  ${weft} apply ${dir} -f ${path(join(SAMPLES, 'bookinfo/networking/virtual-service-reviews-test-v2.yaml'))}`,
    '      then sign in as "jason" on the page: black stars (v2) for jason only',
    `  ${weft} apply ${dir} -f ${path(join(SAMPLES, 'bookinfo/networking/virtual-service-reviews-50-v3.yaml'))}`,
    '      then reload the page: half the time red stars (v3)',
    `  ${weft} status ${dir}`,
    `  ${weft} logs reviews-v1 ${dir} -c istio-proxy -f`,
    '',
    'Ctrl-C stops the demo.',
  ].join('\n');
}

/** `bin/weft.js` from the checkout's root, the absolute path from elsewhere. */
function relativeOrAbsolute(cwd: string, path: string): string {
  const rel = relative(cwd, path);
  return rel.startsWith('..') || rel === '' ? path : rel;
}

function portFlag(value: string, flag: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CliExit(ExitStatus.usage, `${flag} must be a port number (1-65535), got "${value}"`);
  return port;
}
