/** Helpers for the tests that build real pod networks; only tests import this module. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { PodNetwork } from './pod-network.ts';
import { runCommand } from './run-command.ts';

/**
 * Why pod networks cannot be built here (not Linux, not root, a tool missing, namespaces not
 * allowed), or undefined when they can. The tests that need them skip with this reason.
 */
export async function podNetworkingUnavailable(): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'network namespaces and iptables are Linux-only';
  if (process.getuid?.() !== 0) return 'needs root: it creates network namespaces, a bridge and iptables rules';
  for (const [tool, flag] of [['ip', '-V'], ['iptables-restore', '--version'], ['setpriv', '--version'], ['getent', '--version']] as const) {
    const ran = await runCommand(tool, [flag]);
    if (!ran.ok && /\((ENOENT|EACCES)\)/.test(ran.error)) return `needs ${tool} on the PATH`;
  }
  const probe = `wprobe${process.pid.toString(36)}`;
  const added = await runCommand('ip', ['netns', 'add', probe]);
  if (!added.ok) return `cannot create a network namespace here: ${added.error}`;
  await runCommand('ip', ['netns', 'del', probe]);
  return undefined;
}

/**
 * A prefix of at most 9 characters unique to this test process and tag, so that parallel runs (and
 * the test files of one run, each its own process) never share a bridge or a namespace.
 */
export function testPrefix(tag: string): string {
  return `w${tag}${process.pid.toString(36)}`.slice(0, 9);
}

/**
 * A /24 of 198.18.0.0/15 (the benchmarking range, which hosts do not use) for this process and
 * tag, so that parallel runs do not put the same subnet on two bridges.
 */
export function testSubnet(tag: number): string {
  const n = (process.pid * 4 + tag) % 512;
  return `198.${18 + Math.floor(n / 256)}.${n % 256}.0/24`;
}

/** `node -e <script> ...args` inside a pod; its stdout once it exits, within the timeout. */
export async function runNodeInPod(netns: string, script: string, args: readonly string[], options: { readonly gid?: number; readonly timeoutMs?: number } = {}): Promise<string> {
  const argv = PodNetwork.commandInPod(netns, process.execPath, ['-e', script, ...args], options.gid !== undefined ? { gid: options.gid } : {});
  const child = spawn(argv.command, argv.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timeoutMs = options.timeoutMs ?? 10_000;
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  if (code !== 0) throw new Error(`node in ${netns} exited with ${code ?? signal}${signal === 'SIGKILL' ? ` (killed after ${timeoutMs} ms)` : ''}: ${stderr.trim()}`);
  return stdout;
}

/** A long-running `node -e <script>` in a pod, whose stdout lines are kept. */
export interface PodProcess {
  readonly lines: string[];
  /** Resolves once a line matches, or rejects after the timeout or when the process exits first. */
  waitForLine(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  write(line: string): void;
  stop(): Promise<void>;
}

export function startNodeInPod(netns: string, script: string, args: readonly string[], options: { readonly gid?: number } = {}): PodProcess {
  const argv = PodNetwork.commandInPod(netns, process.execPath, ['-e', script, ...args], options);
  const child = spawn(argv.command, argv.args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  let stderr = '';
  const exited = once(child, 'exit');
  let running = true;
  void exited.then(() => (running = false));
  const listeners = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    for (const listener of listeners) listener();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.on('error', () => {});
  return {
    lines,
    waitForLine(match, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find(match);
          if (found === undefined) return;
          done();
          resolve(found);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no such line from node in ${netns} within ${timeoutMs} ms; lines: ${JSON.stringify(lines)}; stderr: ${stderr.trim()}`));
        }, timeoutMs);
        const onExit = () => {
          done();
          reject(new Error(`node in ${netns} exited; lines: ${JSON.stringify(lines)}; stderr: ${stderr.trim()}`));
        };
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('exit', onExit);
        };
        listeners.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    write(line) {
      child.stdin.write(`${line}\n`);
    },
    async stop() {
      if (!running) return;
      child.kill('SIGKILL');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 5000)))]);
      clearTimeout(timer);
    },
  };
}

/**
 * A TCP server that answers each connection with a JSON line saying which listener took it and the
 * connection's original destination (SO_ORIGINAL_DST through the native addon: where a redirected
 * connection was going, the listener's own address for one conntrack saw but did not redirect, null
 * when conntrack has no entry), then closes it. Arguments: the addon's path, then the ports, on 0.0.0.0. Prints
 * `ready` once every port listens.
 */
export const PROBE_SERVER_SCRIPT = `
const net = require('node:net');
const [addonPath, ...ports] = process.argv.slice(1);
const addon = require(addonPath);
let listening = 0;
for (const port of ports.map(Number)) {
  const server = net.createServer((socket) => {
    const fd = socket._handle && socket._handle.fd;
    const found = typeof fd === 'number' ? addon.originalDestination(fd) : -1;
    socket.end(JSON.stringify({ listener: port, originalDestination: typeof found === 'number' ? null : found }) + '\\n');
  });
  server.listen(port, '0.0.0.0', () => { if (++listening === ports.length) console.log('ready'); });
}
`;

/**
 * Connects to host:port (from localAddress, when given) and prints what the server answered, or
 * `{"error": code}` when the connection failed or got no answer within 3 s.
 */
export const CLIENT_SCRIPT = `
const net = require('node:net');
const [host, port, localAddress] = process.argv.slice(1);
const socket = net.connect({ host, port: Number(port), ...(localAddress ? { localAddress } : {}) });
let answer = '';
const fail = (error) => { console.log(JSON.stringify({ error })); process.exit(0); };
socket.setTimeout(3000, () => fail('timeout'));
socket.on('data', (chunk) => (answer += chunk));
socket.on('end', () => { process.stdout.write(answer); process.exit(0); });
socket.on('error', (e) => fail(e.code));
`;

/** For each name read from stdin, prints `{"name", "address"}` (or `"error"`) as dns.lookup resolves it now. */
export const LOOKUP_SCRIPT = `
const dns = require('node:dns');
require('node:readline').createInterface({ input: process.stdin }).on('line', (name) => {
  dns.lookup(name, { family: 4 }, (error, address) => console.log(JSON.stringify(error ? { name, error: error.code } : { name, address })));
});
console.log('ready');
`;

/** What a probe (or a host server of `answeringServer`) answered, parsed. */
export type Answer = { readonly listener: number | string; readonly originalDestination?: { readonly address: string; readonly port: number } | null } | { readonly error: string };

export function parseAnswer(text: string): Answer {
  return JSON.parse(text.trim()) as Answer;
}

/** A server on the host that answers like a probe, as listener `host`, on an OS-picked port of the address. */
export async function answeringServer(address: string): Promise<{ readonly server: Server; readonly port: number }> {
  const server = createServer((socket) => socket.end(`${JSON.stringify({ listener: 'host' })}\n`));
  server.listen(0, address);
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

/** Connects from the host (this process) and parses the answer, within 3 s. */
export async function askFromHost(host: string, port: number): Promise<Answer> {
  const socket = connect({ host, port });
  socket.setTimeout(3000, () => socket.destroy(new Error('timeout')));
  let answer = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
  try {
    await once(socket, 'end');
  } catch (error) {
    return { error: (error as NodeJS.ErrnoException).code ?? (error as Error).message };
  } finally {
    socket.destroy();
  }
  return parseAnswer(answer);
}
