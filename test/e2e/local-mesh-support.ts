/** Runs `weft up` as a user would, for the local-mode end-to-end tests; only tests import this module. */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEFT = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));
export const SAMPLES = fileURLToPath(new URL('../../samples/', import.meta.url));
export const SEEDS = fileURLToPath(new URL('../../../shared/seed-examples/', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('./fixtures/local-mode/', import.meta.url));

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** How `weft up` runs: its --mode, and for explicit mode whether every proxy shares 127.0.0.1 (as on macOS). */
export type Mode = 'explicit' | 'transparent' | 'explicit --shared-loopback';

/**
 * Why transparent mode cannot run here (it needs Linux, root, ip, iptables-restore and setpriv,
 * the right to make a network namespace, and iptables inside one), or undefined when it can.
 */
export function transparentModeUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'transparent mode needs Linux';
  if (process.getuid?.() !== 0) return 'transparent mode needs root';
  const probe = `weftprobe${process.pid}`;
  try {
    for (const tool of ['ip', 'iptables-restore', 'setpriv']) execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  } catch {
    return 'transparent mode needs ip, iptables-restore and setpriv';
  }
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'ignore' });
  } catch {
    return 'this machine does not let root make network namespaces';
  }
  try {
    execFileSync('ip', ['netns', 'exec', probe, 'iptables-restore'], { input: '*nat\nCOMMIT\n', stdio: ['pipe', 'ignore', 'ignore'] });
    return undefined;
  } catch {
    return 'iptables does not work in a network namespace on this machine';
  } finally {
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'ignore' });
  }
}

/** A free port on 127.0.0.1 now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** An HTTP/1.1 GET with the headers given (Host included: fetch would replace it). */
export function get(url: string, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { headers, timeout: timeoutMs, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer from ${url} in ${timeoutMs} ms`)));
    request.on('error', reject);
    request.end();
  });
}

/** A local mesh started with `weft up PATHS` in a state directory of its own. */
export class LocalMeshUnderTest {
  readonly stateDir: string;
  readonly gatewayPort: number;
  readonly #child: ChildProcess;
  #output = '';
  readonly #exited: Promise<number | null>;

  private constructor(stateDir: string, gatewayPort: number, child: ChildProcess) {
    this.stateDir = stateDir;
    this.gatewayPort = gatewayPort;
    this.#child = child;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (this.#output += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.#output += chunk));
    this.#exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Starts `weft up PATHS` in a new state directory and waits (at most `timeoutMs`) until it says the mesh is up. */
  static start(paths: readonly string[], mode: Mode, timeoutMs = 120_000): Promise<LocalMeshUnderTest> {
    return LocalMeshUnderTest.#start(paths, mode, mkdtempSync(join(tmpdir(), 'weft-local-')), timeoutMs);
  }

  /** Starts `weft up` with no paths in the state directory of a mesh that was stopped: it resumes. */
  static restart(stateDir: string, mode: Mode, timeoutMs = 120_000): Promise<LocalMeshUnderTest> {
    return LocalMeshUnderTest.#start([], mode, stateDir, timeoutMs);
  }

  static async #start(paths: readonly string[], mode: Mode, stateDir: string, timeoutMs: number): Promise<LocalMeshUnderTest> {
    const gatewayPort = await freePort();
    const httpsPort = await freePort();
    const modeFlags = mode === 'explicit --shared-loopback' ? ['--mode', 'explicit', '--shared-loopback'] : ['--mode', mode];
    const child = spawn(process.execPath, [WEFT, 'up', ...paths, ...modeFlags, '--state-dir', stateDir, '--port', String(gatewayPort), '--https-port', String(httpsPort), '--wait', `${Math.floor(timeoutMs / 1000) - 5}s`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const mesh = new LocalMeshUnderTest(stateDir, gatewayPort, child);
    const deadline = Date.now() + timeoutMs;
    while (!/the mesh is up|not ready after|weft up failed/.test(mesh.#output)) {
      if (Date.now() > deadline || child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!/the mesh is up/.test(mesh.#output)) {
      await mesh.stop();
      throw new Error(`weft up did not bring the mesh up:\n${mesh.#output}`);
    }
    return mesh;
  }

  get output(): string {
    return this.#output;
  }

  get gateway(): string {
    return `http://127.0.0.1:${this.gatewayPort}`;
  }

  /** Runs `weft COMMAND --state-dir <this mesh's> ARGS` (before any `--`, which ends weft's options). */
  weft(command: string, ...args: string[]): Promise<CommandResult> {
    return new Promise((resolve) => {
      execFile(process.execPath, [WEFT, command, '--state-dir', this.stateDir, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** The replicas of the mesh as `weft status -o json` reports them. */
  async status(): Promise<{ workloads: { name: string; replicas: { name: string; address: string; ready: boolean; sync: string; appPorts: Record<string, number>; endpoints: Record<string, string>; app: { pid?: number; restarts: number; state: string } }[] }[] }> {
    const result = await this.weft('status', '-o', 'json');
    if (result.code !== 0) throw new Error(`weft status failed: ${result.stderr}`);
    return JSON.parse(result.stdout);
  }

  /** Waits until `check` holds, polling, for at most `timeoutMs`; returns whether it did. */
  async until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await check().catch(() => false)) return true;
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** `weft down`, then the process must exit; SIGTERM (then SIGKILL) if it does not. */
  async stop(): Promise<void> {
    if (this.#child.exitCode === null) {
      await this.weft('down');
      const exited = await Promise.race([this.#exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 30_000).unref())]);
      if (!exited) {
        this.#child.kill('SIGTERM');
        const after = await Promise.race([this.#exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 15_000).unref())]);
        if (!after) this.#child.kill('SIGKILL');
      }
    }
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}
