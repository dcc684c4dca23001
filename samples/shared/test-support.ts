/** Helpers for the samples' tests: run a sample as its own process, stand in for a service, check the YAML. */
import { spawn } from 'node:child_process';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyze } from '../../src/config/analysis/index.ts';
import { builtinKinds, ofKind, parseSources, readSources, type AnyResource } from '../../src/config/index.ts';

export interface RunningSample {
  readonly port: number;
  readonly url: string;
  /** What the process printed on stdout so far. */
  output(): string;
  stop(): Promise<void>;
}

/** Variables that would send the sample's calls to a proxy, or that `weft up` would set. */
const CLEARED = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy', 'NODE_USE_ENV_PROXY', 'NODE_OPTIONS', 'POD_NAME', 'SERVICE_VERSION'];

/**
 * Starts the sample `file` (relative to samples/) with `PORT=0` and resolves once it printed
 * `listening on <port>`; rejects if it exits first or does not within `timeoutMs`.
 */
export function startSample(file: string, env: Record<string, string> = {}, timeoutMs = 10_000): Promise<RunningSample> {
  const path = fileURLToPath(new URL(`../${file}`, import.meta.url));
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !CLEARED.includes(name)));
  const child = spawn(process.execPath, [path], { env: { ...base, PORT: '0', HOST: '127.0.0.1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(killer);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${file} did not print "listening on <port>" within ${timeoutMs}ms; stderr: ${stderr}`));
    }, timeoutMs);
    const early = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`${file} exited with ${code} before listening; stderr: ${stderr}`));
    };
    child.once('exit', early);
    child.stdout.on('data', () => {
      const match = /^listening on (\d+)$/m.exec(stdout);
      if (match === null) return;
      clearTimeout(timer);
      child.off('exit', early);
      const port = Number(match[1]);
      resolve({ port, url: `http://127.0.0.1:${port}`, output: () => stdout, stop });
    });
  });
}

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

export interface Reply {
  readonly status: number;
  readonly body: string;
  readonly delayMs?: number;
}

/**
 * A stand-in for a service between two samples: it records each request and either relays it
 * to `target` (a port on the loopback) or answers with `reply`. Both can be changed between calls.
 */
export interface Relay {
  readonly port: number;
  readonly requests: RecordedRequest[];
  target: number | undefined;
  reply: Reply | undefined;
  close(): Promise<void>;
}

export async function startRelay(target?: number): Promise<Relay> {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((incoming, outgoing) => {
    requests.push({ method: incoming.method ?? '', url: incoming.url ?? '', headers: incoming.headers });
    const reply = relay.reply;
    if (reply !== undefined) {
      setTimeout(() => {
        if (outgoing.destroyed) return;
        outgoing.writeHead(reply.status, { 'content-type': 'application/json' });
        outgoing.end(reply.body);
      }, reply.delayMs ?? 0);
      return;
    }
    const upstream = httpRequest({ host: '127.0.0.1', port: relay.target, method: incoming.method, path: incoming.url, headers: incoming.headers }, (response) => {
      outgoing.writeHead(response.statusCode ?? 502, response.headers);
      response.pipe(outgoing);
    });
    upstream.on('error', () => {
      outgoing.writeHead(503);
      outgoing.end('upstream unavailable');
    });
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const relay: Relay = {
    port: (server.address() as AddressInfo).port,
    requests,
    target,
    reply: undefined,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  return relay;
}

/** The header values of `request` for `names`, the absent ones left out. */
export function headersOf(request: RecordedRequest | undefined, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = request?.headers[name];
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}

const SAMPLES = fileURLToPath(new URL('../', import.meta.url));

/** `path` (relative to samples/, or absolute) as an absolute path. */
export function samplePath(path: string): string {
  return isAbsolute(path) ? path : join(SAMPLES, path);
}

/** What `weft analyze -f <paths>` finds in the files (relative to samples/, or absolute), one line each. */
export function analyzeFiles(paths: readonly string[]): { resources: AnyResource[]; findings: string[] } {
  const read = readSources(paths.map(samplePath));
  if (read.errors.length > 0) throw new Error(read.errors.join('\n'));
  const parsed = parseSources(read.sources, { kinds: builtinKinds() });
  const findings = [...parsed.diagnostics, ...analyze(parsed.resources)].map((d) => `${d.level} ${d.code} ${d.message}`);
  return { resources: parsed.resources, findings };
}

/**
 * The script of each LocalWorkload (its command's second word, `node <script>`) that is missing
 * where `weft up` looks for it: in the working directory, resolved against the directory of the
 * file that declares the workload.
 */
export function missingScripts(resources: readonly AnyResource[]): string[] {
  return ofKind(resources, 'LocalWorkload').flatMap((workload) => {
    const script = workload.object.spec.command[1];
    if (script === undefined) return [`${workload.name}: no script`];
    const path = resolve(dirname(workload.origin.file), workload.object.spec.workingDir, script);
    return existsSync(path) ? [] : [`${workload.name}: ${path}`];
  });
}

/**
 * A stand-in for an explicit-mode sidecar: an HTTP forward proxy that sends each request for
 * `name:port` to the loopback port `routes` gives for it. It takes both forms Node's clients use
 * under `NODE_USE_ENV_PROXY=1`: absolute-form requests (`GET http://details:9080/...`, node:http)
 * and CONNECT tunnels (fetch). It records the authority of each, prefixed by how it came.
 */
export interface ForwardProxy {
  readonly port: number;
  /** `name:port` to a loopback port; may be added to while the proxy runs. */
  readonly routes: Record<string, number>;
  readonly seen: string[];
  close(): Promise<void>;
}

export async function startForwardProxy(routes: Record<string, number>): Promise<ForwardProxy> {
  const seen: string[] = [];
  const tunnels = new Set<{ destroy(): void }>();
  const server = createServer((incoming, outgoing) => {
    const target = new URL(incoming.url ?? '/');
    seen.push(`ABSOLUTE ${target.host}`);
    const port = routes[target.host];
    if (port === undefined) {
      outgoing.writeHead(502);
      outgoing.end(`no route to ${target.host}`);
      return;
    }
    const upstream = httpRequest({ host: '127.0.0.1', port, method: incoming.method, path: `${target.pathname}${target.search}`, headers: incoming.headers }, (response) => {
      outgoing.writeHead(response.statusCode ?? 502, response.headers);
      response.pipe(outgoing);
    });
    upstream.on('error', () => outgoing.destroy());
    incoming.pipe(upstream);
  });
  server.on('connect', (request, client, head) => {
    const authority = request.url ?? '';
    seen.push(`CONNECT ${authority}`);
    const port = routes[authority];
    if (port === undefined) {
      client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
      return;
    }
    const upstream = connect(port, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    tunnels.add(client).add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    routes,
    seen,
    close: () => new Promise<void>((resolve) => {
      // Tunnels are no longer the server's connections, so they are ended here.
      for (const socket of tunnels) socket.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
