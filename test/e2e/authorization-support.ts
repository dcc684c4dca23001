/**
 * An ingress gateway fed by a control plane that runs with a MeshConfig of the test's choosing
 * (mesh-harness.ts's Mesh always runs the default one): for meshConfig.pathNormalization and
 * meshConfig.extensionProviders. Also a raw-socket HTTP/1.1 client, so that request targets reach
 * the gateway exactly as written. Only tests import this.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startControlPlane, type RunningControlPlane } from '../../src/main/control-plane.ts';
import { DEFAULT_MESH_CONFIG, type MeshConfig } from '../../src/control/model/index.ts';
import { eventually } from './mesh-harness.ts';

const WEFT = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));

/** What the raw client got: a parsed response, or nothing before the gateway closed (or the time ran out). */
export interface RawReply {
  readonly status: number | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * The control plane (in-process, config from a directory the test writes) with `mesh`, and one
 * `weft proxy` process as the ingress gateway (namespace istio-system, label istio=ingressgateway),
 * listening on port 80's listener.
 */
export class PolicyGateway {
  readonly #dir: string;
  readonly #controlPlane: RunningControlPlane;
  readonly #proxy: ChildProcess;
  /** What the control plane logged as errors (a listener it could not generate, say), for timeout messages. */
  readonly #errors: string[];
  #stderr = '';
  #adminUrl = '';
  port = 0;

  private constructor(dir: string, controlPlane: RunningControlPlane, errors: string[]) {
    this.#dir = dir;
    this.#controlPlane = controlPlane;
    this.#errors = errors;
    this.#proxy = spawn(process.execPath, [
      WEFT, 'proxy', '--type', 'router', '--pod-name', 'istio-ingressgateway-1', '--namespace', 'istio-system', '--label', 'istio=ingressgateway',
      '--xds-address', `127.0.0.1:${controlPlane.xdsPort}`, '--admin-address', '127.0.0.1:0', '--health-address', '127.0.0.1:0', '--stats-address', '127.0.0.1:0',
      '--bind-address', '127.0.0.1', '--port-map', '80=0', '--termination-drain-duration', '1s',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#proxy.stderr!.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
  }

  /** Starts both with `mesh` over Istio's defaults and the files given, and waits until the gateway listens on port 80. */
  static async start(mesh: Partial<MeshConfig>, files: Readonly<Record<string, string>>): Promise<PolicyGateway> {
    const dir = mkdtempSync(join(tmpdir(), 'weft-authz-'));
    for (const [name, yaml] of Object.entries(files)) writeFileSync(join(dir, `${name}.yaml`), yaml);
    const errors: string[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (message: string, fields?: unknown) => void errors.push(`${message} ${JSON.stringify(fields ?? {})}`) };
    const controlPlane = await startControlPlane({
      config: { directory: dir }, xdsAddress: '127.0.0.1:0', debugAddress: '127.0.0.1:0', logger,
      push: { debounceQuietMs: 10, debounceMaxMs: 100 }, mesh: { ...DEFAULT_MESH_CONFIG, ...mesh },
    });
    const gateway = new PolicyGateway(dir, controlPlane, errors);
    try {
      await gateway.#ready();
    } catch (error) {
      await gateway.close();
      throw error;
    }
    return gateway;
  }

  /** Writes (or replaces) `<name>.yaml` in the config directory. */
  apply(name: string, yaml: string): void {
    writeFileSync(join(this.#dir, `${name}.yaml`), yaml);
  }

  /** Deletes `<name>.yaml`. */
  remove(name: string): void {
    rmSync(join(this.#dir, `${name}.yaml`), { force: true });
  }

  async admin(path: string): Promise<string> {
    const response = await fetch(`${this.#adminUrl}${path}`);
    return response.text();
  }

  /**
   * Waits until the gateway's listeners (its config dump) contain every string of `present` and
   * none of `absent`: policy names (`policy[<name>]`), key ids of inline key sets.
   */
  async waitForListeners(present: readonly string[], absent: readonly string[] = [], timeoutMs = 10_000): Promise<void> {
    try {
      await eventually(async () => {
        const dump = JSON.parse(await this.admin('/config_dump')) as { configs: { '@type': string }[] };
        const text = JSON.stringify(dump.configs.find((c) => c['@type'].endsWith('ListenersConfigDump')) ?? {});
        return present.every((p) => text.includes(p)) && !absent.some((a) => text.includes(a));
      }, `the gateway's listeners to hold [${present.join(', ')}] and not [${absent.join(', ')}]`, timeoutMs);
    } catch (error) {
      const logged = [...new Set(this.#errors)].slice(-3);
      throw logged.length === 0 ? error : new Error(`${(error as Error).message}; the control plane logged:\n${logged.join('\n')}`);
    }
  }

  /** Waits until /clusters lists `count` hosts of the cluster named `cluster`. */
  async waitForHosts(cluster: string, count: number, timeoutMs = 10_000): Promise<void> {
    await eventually(async () => {
      const lines = (await this.admin('/clusters')).split('\n').filter((l) => l.startsWith(`${cluster}::`) && l.includes('::health_flags::'));
      return lines.length === count;
    }, `${count} hosts in ${cluster}`, timeoutMs);
  }

  /**
   * One HTTP/1.1 request written byte for byte on a connection of its own: `GET <target>` with
   * Host and `headers`, and Connection: close. The target is sent as given, so no client-side
   * normalization or encoding happens.
   */
  raw(target: string, headers: Readonly<Record<string, string>> = {}, method = 'GET', timeoutMs = 5000): Promise<RawReply> {
    const lines = [`${method} ${target} HTTP/1.1`, 'host: app.test', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), 'connection: close', '', ''];
    return rawExchange(this.port, Buffer.from(lines.join('\r\n'), 'latin1'), timeoutMs);
  }

  async close(): Promise<void> {
    const proxy = this.#proxy;
    if (proxy.exitCode === null && proxy.signalCode === null) {
      const exited = once(proxy, 'exit');
      proxy.kill('SIGTERM');
      const timer = setTimeout(() => proxy.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await this.#controlPlane.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  async #ready(timeoutMs = 20_000): Promise<void> {
    await eventually(async () => {
      if (this.#proxy.exitCode !== null) throw new Error(`the gateway exited:\n${this.#stderr}`);
      const admin = /admin listening address=(\S+)/.exec(this.#stderr);
      if (admin === null) return false;
      this.#adminUrl = `http://${admin[1]}`;
      const ready = await fetch(`${this.#adminUrl}/ready`).catch(() => undefined);
      return ready?.status === 200;
    }, 'the gateway to be ready', timeoutMs);
    this.port = await eventually(async () => {
      const listeners = JSON.parse(await this.admin('/listeners?format=json')) as { listener_statuses: { name: string; local_address: { socket_address: { port_value: number } } }[] };
      return listeners.listener_statuses.find((l) => l.name === '0.0.0.0_80')?.local_address.socket_address.port_value;
    }, 'the gateway listener on port 80', timeoutMs);
  }
}

/** Sends `bytes` to 127.0.0.1:`port` and reads until the peer closes (or `timeoutMs`), then parses one HTTP/1.1 response. */
export function rawExchange(port: number, bytes: Buffer, timeoutMs: number): Promise<RawReply> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1');
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseResponse(Buffer.concat(chunks).toString('latin1')));
    });
  });
}

function parseResponse(text: string): RawReply {
  const end = text.indexOf('\r\n\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  if (end < 0 || status === null) return { status: undefined, headers: {}, body: text };
  const headers: Record<string, string> = {};
  for (const line of text.slice(0, end).split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = text.slice(end + 4);
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') body = unchunk(body);
  return { status: Number(status[1]), headers, body };
}

function unchunk(text: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const lineEnd = text.indexOf('\r\n', at);
    if (lineEnd < 0) return out;
    const size = Number.parseInt(text.slice(at, lineEnd), 16);
    if (!Number.isFinite(size) || size === 0) return out;
    out += text.slice(lineEnd + 2, lineEnd + 2 + size);
    at = lineEnd + 2 + size + 2;
  }
}
