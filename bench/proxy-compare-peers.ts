/**
 * nginx and HAProxy as the reference reverse proxies (Debian packages), each configured in the
 * run's scratch directory as the leanest equivalent of Weft's gateway: one worker process (nginx) or
 * one thread (HAProxy), access logs off, kept-alive upstream connections, and
 *   - HTTP/1.1 on one port to the upstream's HTTP/1.1 listener;
 *   - h2c (prior knowledge) on another to the upstream's h2c listener (nginx `grpc_pass`, HAProxy
 *     `proto h2`: the upstream connection is HTTP/2 too);
 *   - TCP on a third to the echo (nginx `stream`, HAProxy `mode tcp`).
 * `extraClusters` adds that many upstream blocks (nginx) or backends (HAProxy), unused by any
 * route, for the memory comparison with 1,000 clusters.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Service } from './proxy-compare-process.ts';

export interface Ports {
  readonly h1: number;
  readonly h2: number;
  readonly tcp: number;
}

export interface Peer {
  readonly name: string;
  readonly ports: Ports;
  /** The proxy's processes, whose CPU and memory are measured. */
  processes(): number[];
  stop(): Promise<void>;
}

export interface PeerOptions {
  readonly directory: string;
  readonly upstream: Ports;
  readonly cpu: number;
  readonly timeLimitS: number;
  readonly extraClusters: number;
}

const STREAM_MODULE = 'ngx_stream_module.so';

/** Whether `command` is on PATH. */
export function hasCommand(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** What is missing to run a peer, with how to install it; empty when all is there. */
export function missingTools(): string[] {
  const missing: string[] = [];
  if (!hasCommand('nginx')) missing.push('nginx (apt-get install -y nginx libnginx-mod-stream)');
  else if (nginxStreamModule() === null) missing.push("nginx's stream module (apt-get install -y libnginx-mod-stream)");
  if (!hasCommand('haproxy')) missing.push('haproxy (apt-get install -y haproxy)');
  for (const tool of ['taskset', 'timeout', 'cc']) if (!hasCommand(tool)) missing.push(`${tool} (apt-get install -y ${tool === 'cc' ? 'gcc' : tool === 'taskset' ? 'util-linux' : 'coreutils'})`);
  return missing;
}

/** `load_module` path of the dynamic stream module, '' when nginx has it built in, null when absent. */
function nginxStreamModule(): string | null {
  const configure = execFileSync('sh', ['-c', 'nginx -V 2>&1'], { encoding: 'utf8' });
  if (/--with-stream(\s|$)/.test(configure)) return '';
  const modules = /--modules-path=(\S+)/.exec(configure)?.[1] ?? '/usr/lib/nginx/modules';
  const file = path.join(modules, STREAM_MODULE);
  return existsSync(file) ? file : null;
}

export function nginxVersion(): string {
  return /nginx\/(\S+)/.exec(execFileSync('sh', ['-c', 'nginx -v 2>&1'], { encoding: 'utf8' }))?.[1] ?? '?';
}

export function haproxyVersion(): string {
  return /version (\S+)/.exec(execFileSync('haproxy', ['-v'], { encoding: 'utf8' }))?.[1] ?? '?';
}

/** A port nobody listens on right now (the OS's pick, released for the peer to take). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function freePorts(): Promise<Ports> {
  return { h1: await freePort(), h2: await freePort(), tcp: await freePort() };
}

/** Resolves once `port` accepts connections, or throws after `timeoutMs`. */
export async function waitForPort(port: number, service: Service, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (service.exited || Date.now() > deadline) throw new Error(`${service.name} is not listening on ${port}:\n${service.stderr.slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The start of an nginx.conf for one worker in the foreground, its files in `directory`, up to and
 * with the `http` block's common settings (no access log, long keep-alive) and the kept-alive
 * upstream `up_h1` on `upstreamH1`; the caller adds the rest of `http` and closes it.
 */
export function nginxHead(directory: string, upstreamH1: number): string {
  const temp = (name: string) => path.join(directory, name);
  return `user root;
worker_processes 1;
daemon off;
pid ${temp('nginx.pid')};
error_log stderr warn;
worker_rlimit_nofile 65536;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path ${temp('client_body')};
  proxy_temp_path ${temp('proxy')};
  fastcgi_temp_path ${temp('fastcgi')};
  uwsgi_temp_path ${temp('uwsgi')};
  scgi_temp_path ${temp('scgi')};
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  upstream up_h1 { server 127.0.0.1:${upstreamH1}; keepalive 256; keepalive_requests 10000000; }
`;
}

/** nginx's HTTP/1.1 location to `up_h1`, kept-alive. */
export const NGINX_LOCATION = 'location / { proxy_pass http://up_h1; proxy_http_version 1.1; proxy_set_header Connection ""; }';

function nginxConfig(directory: string, listen: Ports, upstream: Ports, extraClusters: number, streamModule: string): string {
  const extra = Array.from({ length: extraClusters }, (_, i) => `  upstream svc_${i} { server 127.0.0.1:${upstream.h1}; keepalive 16; }`).join('\n');
  return `${streamModule ? `load_module ${streamModule};\n` : ''}${nginxHead(directory, upstream.h1)}  upstream up_h2 { server 127.0.0.1:${upstream.h2}; keepalive 256; keepalive_requests 10000000; }
${extra}
  server {
    listen 127.0.0.1:${listen.h1};
    ${NGINX_LOCATION}
  }
  server {
    listen 127.0.0.1:${listen.h2} http2;
    location / { grpc_pass grpc://up_h2; }
  }
}
stream {
  upstream echo { server 127.0.0.1:${upstream.tcp}; }
  server { listen 127.0.0.1:${listen.tcp}; proxy_pass echo; }
}
`;
}

export async function startNginx(options: PeerOptions): Promise<Peer> {
  const streamModule = nginxStreamModule();
  if (streamModule === null) throw new Error("nginx's stream module is missing: apt-get install -y libnginx-mod-stream");
  const directory = path.join(options.directory, `nginx-${options.extraClusters}`);
  mkdirSync(directory, { recursive: true });
  const ports = await freePorts();
  const service = await runNginx(directory, nginxConfig(directory, ports, options.upstream, options.extraClusters, streamModule), [ports.h1, ports.h2, ports.tcp], options.cpu, options.timeLimitS);
  return { name: 'nginx', ports, processes: () => service.processes(), stop: () => service.stop() };
}

/** Writes `config` as `directory`/nginx.conf, checks it (`nginx -t`), runs nginx on core `cpu`; resolves once every port in `listening` accepts connections. */
export async function runNginx(directory: string, config: string, listening: readonly number[], cpu: number, timeLimitS: number): Promise<Service> {
  const file = path.join(directory, 'nginx.conf');
  writeFileSync(file, config);
  execFileSync('nginx', ['-t', '-q', '-c', file, '-p', directory], { stdio: ['ignore', 'ignore', 'pipe'] });
  const service = new Service('nginx', 'nginx', ['-c', file, '-p', directory], { cpu, timeLimitS });
  for (const port of listening) await waitForPort(port, service, 10_000);
  return service;
}

function haproxyConfig(listen: Ports, upstream: Ports, extraClusters: number): string {
  const extra = Array.from({ length: extraClusters }, (_, i) => `backend svc_${i}\n  server s1 127.0.0.1:${upstream.h1}\n`).join('');
  return `global
  nbthread 1
  maxconn 8000

defaults
  mode http
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  timeout http-keep-alive 300s
  http-reuse always

frontend h1
  bind 127.0.0.1:${listen.h1}
  default_backend up_h1

frontend h2
  bind 127.0.0.1:${listen.h2} proto h2
  default_backend up_h2

frontend tcp
  mode tcp
  bind 127.0.0.1:${listen.tcp}
  default_backend echo

backend up_h1
  server s1 127.0.0.1:${upstream.h1}

backend up_h2
  server s1 127.0.0.1:${upstream.h2} proto h2

backend echo
  mode tcp
  server s1 127.0.0.1:${upstream.tcp}

${extra}`;
}

export async function startHaproxy(options: PeerOptions): Promise<Peer> {
  const directory = path.join(options.directory, `haproxy-${options.extraClusters}`);
  mkdirSync(directory, { recursive: true });
  const ports = await freePorts();
  const config = path.join(directory, 'haproxy.cfg');
  writeFileSync(config, haproxyConfig(ports, options.upstream, options.extraClusters));
  execFileSync('haproxy', ['-c', '-q', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  const service = new Service('haproxy', 'haproxy', ['-db', '-f', config], { cpu: options.cpu, timeLimitS: options.timeLimitS });
  for (const port of [ports.h1, ports.h2, ports.tcp]) await waitForPort(port, service, 10_000);
  return { name: 'haproxy', ports, processes: () => service.processes(), stop: () => service.stop() };
}
