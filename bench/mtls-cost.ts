/**
 * What mutual TLS costs on Weft's proxy path: the same HTTP/1.1 `GET /1024`, interleaved in
 * rounds, to three servers, each on one port with mutual TLS and one in plaintext:
 *   weft    `weft proxy` as a sidecar (the real product path): `weft control-plane` in this
 *           process, with its CA, configures it from Istio YAML (a Service, and a
 *           PeerAuthentication STRICT for the workload with port 8081 DISABLE); the sidecar gets
 *           its workload certificate from the CA with a workload token, and its inbound listener
 *           terminates mTLS (DownstreamTlsContext with the SDS secrets `default` and `ROOTCA`,
 *           client certificate required) and forwards in plaintext to the upstream;
 *   nginx   1 worker, `ssl_verify_client on` against the mesh root, kept-alive upstream
 *           connections to the same upstream;
 *   node    a Node.js https server answering by itself (no proxy, no upstream): the floor of what
 *           terminating TLS costs in Node.
 * Every certificate is an EC P-256 leaf with a SPIFFE id, signed by the control plane's CA; the
 * load generator presents one (identity loadgen) on every TLS connection.
 *
 * Two kinds of load, each at a fixed rate (open loop, latency from each request's due time) and
 * closed loop (the most the server does):
 *   new connections  each request on a new connection: connect, a full handshake (the client
 *                    keeps no session, so nothing is resumed), the request, the response, close;
 *   kept-alive       16 (fixed rate) or 64 (closed loop) connections opened before the window.
 * CPU is the server's own (every thread of its processes), per request answered.
 *
 * The server under test is pinned to cpu1; the load generator (bench/mtls-loadgen.c, C with
 * OpenSSL, compiled at run time), the upstream (bench/loadgen/upstream.c) and the control plane to
 * cpu0. Runs disturbed by other processes or steal are repeated (QuietRuns).
 *
 *   node bench/mtls-cost.ts [--quick] [--rounds N] [--rate R] [--handshake-rate R] [--duration S]
 *                           [--max-duration S] [--warmup S] [--handshake-conns N] [--retries N]
 *                           [--time-limit S] [--json FILE]
 *
 * Needs Linux with 2 or more cores, nginx, taskset, timeout, cc and OpenSSL's headers (Debian:
 * apt-get install -y nginx gcc libssl-dev). Markdown on stdout, progress on stderr.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createWorkloadKeyAndCsr, loadCertificateAuthority, type CertificateAuthority } from '../src/ca/index.ts';
import type { Logger } from '../src/core/index.ts';
import { startControlPlane, type RunningControlPlane } from '../src/main/control-plane.ts';
import { compileNative, DRAIN_S, execGenerator, parseLoadResult, type LoadResult } from './proxy-compare-loadgen.ts';
import { freePort, hasCommand, NGINX_LOCATION, nginxHead, nginxVersion, runNginx } from './proxy-compare-peers.ts';
import { Service } from './proxy-compare-process.ts';
import { cpuUsPerRequest, fixed, median, num, proxyBusy, ratio } from './proxy-compare-report.ts';
import { startUpstream, type Upstream } from './proxy-compare-upstream.ts';
import { getJson } from './proxy-compare-weft.ts';
import { benchOptions } from './bench-options.ts';
import { benchClock, requireTwoCores, couldNotRunLines } from './bench-run.ts';
import { FOREIGN_LIMIT, STEAL_LIMIT } from './quiet-runs.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WEFT = path.join(HERE, '..', 'bin', 'weft.js');
const LOAD_CPU = 0;
const SERVER_CPU = 1;
const SPIN_US = 50;
const BODY = 1024;
const AUTHORITY = 'mtls-bench.bench.svc.cluster.local';
const KEEPALIVE_OPEN_CONNECTIONS = 16;
const KEEPALIVE_CLOSED_CONNECTIONS = 64;
/** Open loop, new connections: at most this many in progress (a due request waits for one). */
const HANDSHAKE_OPEN_SLOTS = 64;
const TRUST_DOMAIN = 'cluster.local';

const SERVERS = ['weft', 'nginx', 'node'] as const;
type ServerName = (typeof SERVERS)[number];
type Transport = 'mtls' | 'plain';
const KINDS = ['hs-rate', 'hs-max', 'ka-rate', 'ka-max'] as const;
type Kind = (typeof KINDS)[number];

// ---- options ----

const USAGE = `usage: node bench/mtls-cost.ts [--quick] [--rounds N] [--rate R] [--handshake-rate R] [--duration S] [--max-duration S]
       [--warmup S] [--handshake-conns N] [--retries N] [--time-limit S] [--json FILE]`;
const args = process.argv.slice(2);
const { option, number } = benchOptions(args, new Set(['--rounds', '--rate', '--handshake-rate', '--duration', '--max-duration', '--warmup', '--handshake-conns', '--retries', '--time-limit', '--json']), USAGE);
const rounds = Math.max(1, Math.round(number('--rounds', 3, 1)));
const rate = number('--rate', 1000, 1000);
const handshakeRate = number('--handshake-rate', 100, 100);
const durationS = number('--duration', 4, 2);
const maxDurationS = number('--max-duration', 3, 1.5);
const warmupS = number('--warmup', 1, 0.5);
const handshakeConns = Math.max(1, Math.round(number('--handshake-conns', 16, 16)));
const retries = number('--retries', 1, 1);
const timeLimitS = number('--time-limit', 1200, 300);
const jsonOut = option('--json');

const { started, deadline, progress, quiet } = benchClock(timeLimitS, retries);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const loadBefore = os.loadavg();

// ---- refusing early ----

requireTwoCores('mtls-cost', 'the server');
for (const [tool, install] of [['nginx', 'nginx'], ['taskset', 'util-linux'], ['timeout', 'coreutils'], ['cc', 'gcc']] as const) {
  if (!hasCommand(tool)) {
    process.stderr.write(`mtls-cost cannot run: ${tool} is missing (apt-get install -y ${install})\n`);
    process.exit(2);
  }
}
execFileSync('taskset', ['-a', '-p', '-c', String(LOAD_CPU), String(process.pid)], { stdio: 'ignore' });

// ---- the load generator ----

interface Extra {
  /** Version, cipher, key exchange group and ALPN of the first handshake; `plaintext` without TLS. */
  readonly tls: string;
  readonly handshakes: number;
  readonly resumed: number;
  readonly failedConnections: number;
  /** Kept-alive mode: connections refused while they were being opened (each opened again). */
  readonly setupFailures: number;
  /** The generator's own CPU time in the measured window. */
  readonly generatorCpuNs: number;
}

/** What each run's connections were, beside its LoadResult (QuietRuns hands back the result it kept). */
const extras = new WeakMap<LoadResult, Extra>();
/** Handshakes the generator completed, per server port, in every run (repeated ones too). */
const handshakesTo = new Map<number, number>();

function compileGenerator(scratch: string): string {
  try {
    return compileNative('mtls-loadgen', scratch, path.join(HERE, 'mtls-loadgen.c'), ['ssl', 'crypto']);
  } catch (error) {
    process.stderr.write(`mtls-cost cannot build its load generator (OpenSSL's headers: apt-get install -y libssl-dev):\n${(error as { stderr?: Buffer }).stderr?.toString() ?? (error as Error).message}\n`);
    process.exit(2);
  }
}

interface Certificates {
  readonly root: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

interface LoadSpec {
  readonly port: number;
  readonly transport: Transport;
  readonly kind: Kind;
  readonly cpuPids: readonly number[];
  readonly warmupS: number;
  readonly durationS: number;
  /** Kept-alive mode: how many connections are opened at a time before the window (the generator's default, 4, when not given). */
  readonly setupParallel?: number;
}

async function runGenerator(binary: string, certs: Certificates, spec: LoadSpec): Promise<LoadResult> {
  const handshake = spec.kind.startsWith('hs');
  const fixedRate = spec.kind.endsWith('rate');
  const connections = handshake ? (fixedRate ? HANDSHAKE_OPEN_SLOTS : handshakeConns) : fixedRate ? KEEPALIVE_OPEN_CONNECTIONS : KEEPALIVE_CLOSED_CONNECTIONS;
  const generatorArgs = [
    '--tls', spec.transport === 'mtls' ? '1' : '0', '--mode', handshake ? 'handshake' : 'keepalive',
    ...(spec.transport === 'mtls' ? ['--cert', certs.clientCert, '--key', certs.clientKey] : []),
    '--port', String(spec.port), '--conns', String(connections), '--rate', String(fixedRate ? (handshake ? handshakeRate : rate) : 0),
    '--warmup', String(spec.warmupS), '--duration', String(spec.durationS), '--drain', String(DRAIN_S), '--spin-us', String(SPIN_US),
    '--path', `/${BODY}`, '--authority', AUTHORITY,
    ...(spec.setupParallel !== undefined ? ['--setup-parallel', String(spec.setupParallel)] : []),
    ...(spec.cpuPids.length > 0 ? ['--cpu-pids', spec.cpuPids.join(',')] : []),
  ];
  const stdout = await execGenerator('mtls-loadgen', binary, generatorArgs, LOAD_CPU, spec.warmupS, spec.durationS);
  const [first, second] = stdout.split('\n');
  const result = parseLoadResult('mtls-loadgen', first ?? '{}');
  const extra = JSON.parse(second ?? '{}') as { tls?: string; handshakes?: number; resumed?: number; failed_connections?: number; setup_failures?: number; generator_cpu_ns?: number };
  extras.set(result, {
    tls: extra.tls ?? '?', handshakes: extra.handshakes ?? 0, resumed: extra.resumed ?? 0, failedConnections: extra.failed_connections ?? 0,
    setupFailures: extra.setup_failures ?? 0, generatorCpuNs: extra.generator_cpu_ns ?? Number.NaN,
  });
  handshakesTo.set(spec.port, (handshakesTo.get(spec.port) ?? 0) + (extra.handshakes ?? 0));
  return result;
}

// ---- certificates from the control plane's CA ----

interface Issued {
  readonly chainFile: string;
  readonly keyFile: string;
}

/** A key and a certificate for `spiffe://cluster.local/ns/bench/sa/<account>`; the file holds the chain without its root. */
async function issue(ca: CertificateAuthority, directory: string, account: string): Promise<Issued> {
  const identity = `spiffe://${TRUST_DOMAIN}/ns/bench/sa/${account}`;
  const { keyPem, csrPem } = await createWorkloadKeyAndCsr(identity);
  const chain = await ca.sign({ csrPem, identity });
  if (!chain.ok) throw new Error(`the CA did not sign ${identity}: ${chain.error}`);
  const chainFile = path.join(directory, `${account}.pem`);
  const keyFile = path.join(directory, `${account}-key.pem`);
  writeFileSync(chainFile, chain.value.slice(0, -1).join(''));
  writeFileSync(keyFile, keyPem, { mode: 0o600 });
  return { chainFile, keyFile };
}

// ---- the servers ----

interface ServerUnderTest {
  readonly name: ServerName;
  readonly ports: Readonly<Record<Transport, number>>;
  processes(): number[];
  stop(): Promise<void>;
}

/**
 * The workload mtls-bench: a Service with an HTTP port for mTLS and one for plaintext, and a
 * PeerAuthentication STRICT for the workload with the plaintext port DISABLE. The ports are free
 * ports of 127.0.0.1 picked by the OS, used as the workload's own ports: the sidecar's inbound
 * filter chains match on the configured destination port, so `--port-map` (binding elsewhere) would
 * leave every connection without a chain.
 */
const meshYaml = (mtls: number, plain: number): string => `apiVersion: v1
kind: Service
metadata: {name: mtls-bench, namespace: bench}
spec:
  selector: {app: mtls-bench}
  ports:
  - {name: http, port: ${mtls}, targetPort: ${mtls}}
  - {name: http-plain, port: ${plain}, targetPort: ${plain}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: mtls-bench, namespace: bench}
spec:
  selector: {matchLabels: {app: mtls-bench}}
  mtls: {mode: STRICT}
  portLevelMtls:
    ${plain}: {mode: DISABLE}
`;

interface ListenerStatus {
  readonly name: string;
  readonly local_address?: { readonly socket_address?: { readonly port_value?: number } };
}

/** The sidecar of workload mtls-bench (namespace bench), in explicit mode: its inbound ports forward to the upstream. */
async function startWeftSidecar(
  directory: string, controlPlane: RunningControlPlane, ports: Readonly<Record<Transport, number>>, upstream: Upstream, timeLimitS: number,
): Promise<ServerUnderTest & { adminPort: number }> {
  const tokenFile = path.join(directory, 'token');
  writeFileSync(tokenFile, controlPlane.workloadTokens.issue('bench', 'mtls-bench'), { mode: 0o600 });
  const bootstrap = path.join(directory, 'bootstrap.yaml');
  // INTERCEPTION_MODE NONE: the sidecar binds the workload's ports itself (Weft's local explicit mode); APP_PORTS: where the app listens.
  writeFileSync(bootstrap, `node:\n  metadata:\n    INTERCEPTION_MODE: NONE\n    APP_PORTS: '${JSON.stringify({ [ports.mtls]: upstream.h1Port, [ports.plain]: upstream.h1Port })}'\n`);
  const podPorts = JSON.stringify([{ name: 'http', containerPort: ports.mtls, protocol: 'TCP' }, { name: 'http-plain', containerPort: ports.plain, protocol: 'TCP' }]);
  const proxy = new Service('weft proxy', process.execPath, [
    WEFT, 'proxy', '--bootstrap', bootstrap, '--type', 'sidecar', '--pod-name', 'mtls-bench-0', '--namespace', 'bench', '--ip', '127.0.0.1',
    '--service-account', 'mtls-bench', '--workload-name', 'mtls-bench', '--label', 'app=mtls-bench', '--pod-ports', podPorts,
    '--xds-address', `127.0.0.1:${controlPlane.xdsPort}`, '--ca-token-file', tokenFile,
    '--admin-address', '127.0.0.1:0', '--health-address', '127.0.0.1:0', '--stats-address', '127.0.0.1:0',
    // Its outbound HTTP proxy listener (15001, unused here) on a free port.
    '--port-map', '15001=0', '--access-log', 'off',
  ], { cpu: SERVER_CPU, timeLimitS });
  try {
    await proxy.waitFor('its workload certificate', (_out, err) => (/workload certificate issued/.test(err) ? true : undefined), 60_000);
    const adminPort = await proxy.waitFor('its admin address', (_out, err) => {
      const match = /admin listening.*address=127\.0\.0\.1:(\d+)/.exec(err);
      return match ? Number(match[1]) : undefined;
    }, 30_000);
    const until = Date.now() + 60_000;
    for (;;) {
      const ready = await getJson(adminPort, '/ready').catch(() => ({ status: 0, body: '' }));
      const listeners = ready.status === 200 ? (JSON.parse((await getJson(adminPort, '/listeners?format=json')).body) as { listener_statuses?: ListenerStatus[] }) : undefined;
      const portOf = (configured: number) => listeners?.listener_statuses?.find((l) => l.name === `127.0.0.1_${configured}`)?.local_address?.socket_address?.port_value;
      if (portOf(ports.mtls) === ports.mtls && portOf(ports.plain) === ports.plain) return { name: 'weft', ports, adminPort, processes: () => proxy.processes(), stop: () => proxy.stop() };
      if (proxy.exited || Date.now() > until) throw new Error(`the sidecar has no inbound listeners on ${ports.mtls} and ${ports.plain} (ready: ${ready.status}):\n${proxy.stderr.slice(-2000)}`);
      await sleep(100);
    }
  } catch (error) {
    await proxy.stop();
    throw error;
  }
}

async function startNginxTls(directory: string, upstream: Upstream, server: Issued, root: string, timeLimitS: number): Promise<ServerUnderTest> {
  mkdirSync(directory, { recursive: true });
  const ports = { mtls: await freePort(), plain: await freePort() };
  const config = `${nginxHead(directory, upstream.h1Port)}  server {
    listen 127.0.0.1:${ports.mtls} ssl;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate ${server.chainFile};
    ssl_certificate_key ${server.keyFile};
    ssl_client_certificate ${root};
    ssl_verify_client on;
    ${NGINX_LOCATION}
  }
  server {
    listen 127.0.0.1:${ports.plain};
    ${NGINX_LOCATION}
  }
}
`;
  const service = await runNginx(directory, config, [ports.mtls, ports.plain], SERVER_CPU, timeLimitS);
  return { name: 'nginx', ports, processes: () => service.processes(), stop: () => service.stop() };
}

/** A Node.js server answering `BODY` bytes itself, over TLS (client certificate required, checked against the root) and in plaintext. */
const NODE_SERVER = `
const fs = require('node:fs'), http = require('node:http'), https = require('node:https');
const [key, cert, ca] = process.argv.slice(1, 4).map((f) => fs.readFileSync(f));
const body = Buffer.alloc(Number(process.argv[4]), 120);
const handler = (request, response) => {
  request.resume();
  response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
  response.end(body);
};
const secure = https.createServer({ key, cert, ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2', ALPNProtocols: ['http/1.1'] }, handler);
const plain = http.createServer(handler);
let listening = 0;
for (const server of [secure, plain]) {
  server.keepAliveTimeout = 300000;
  server.listen(0, '127.0.0.1', () => {
    if (++listening === 2) process.stdout.write(JSON.stringify({ mtls: secure.address().port, plain: plain.address().port }) + '\\n');
  });
}
process.on('SIGTERM', () => process.exit(0));
`;

async function startNodeServer(server: Issued, root: string, timeLimitS: number): Promise<ServerUnderTest> {
  const service = new Service('node tls server', process.execPath, ['-e', NODE_SERVER, server.keyFile, server.chainFile, root, String(BODY)], { cpu: SERVER_CPU, timeLimitS });
  const ports = await service.waitFor('its ports', (stdout) => {
    const line = stdout.split('\n').find((l) => l.startsWith('{'));
    return line === undefined ? undefined : (JSON.parse(line) as Record<Transport, number>);
  }, 10_000);
  return { name: 'node', ports, processes: () => service.processes(), stop: () => service.stop() };
}

// ---- checking every path once ----

interface Answer {
  readonly status: number;
  readonly bytes: number;
}

/** One GET on a new connection: mutual TLS with the client certificate (or without any), or plaintext. */
function get(port: number, tlsMode: 'client-cert' | 'no-cert' | 'plain', certs: Certificates): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port, path: `/${BODY}`, headers: { host: AUTHORITY }, agent: false as const, timeout: 5_000 };
    const onResponse = (response: http.IncomingMessage): void => {
      let bytes = 0;
      response.on('data', (chunk: Buffer) => (bytes += chunk.length));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, bytes }));
    };
    const request = tlsMode === 'plain'
      ? http.get(options, onResponse)
      : https.get({
        ...options,
        ca: readFileSync(certs.root),
        ...(tlsMode === 'client-cert' ? { cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) } : {}),
        // Mesh certificates name a SPIFFE id, no host: the chain is checked against the root, the name is not.
        checkServerIdentity: () => undefined,
      }, onResponse);
    request.on('timeout', () => request.destroy(new Error('no answer within 5 s')));
    request.on('error', reject);
  });
}

/** What the server must do on each port; throws with what it did instead. */
async function checkServer(server: ServerUnderTest, certs: Certificates): Promise<void> {
  const ok = (answer: Answer, what: string): Answer => {
    if (answer.status !== 200 || answer.bytes !== BODY) throw new Error(`${server.name}, ${what}: status ${answer.status}, ${answer.bytes} bytes`);
    return answer;
  };
  const refused = async (attempt: Promise<Answer>, what: string): Promise<void> => {
    const outcome = await attempt.then((a) => `status ${a.status}`, () => undefined);
    if (outcome !== undefined && outcome !== 'status 400') throw new Error(`${server.name}: ${what} was answered (${outcome}); it must be refused`);
  };
  ok(await get(server.ports.mtls, 'client-cert', certs), 'mutual TLS');
  ok(await get(server.ports.plain, 'plain', certs), 'plaintext');
  // nginx answers a TLS client without a certificate with a 400 page; Weft and Node close the connection.
  await refused(get(server.ports.mtls, 'no-cert', certs), 'TLS without a client certificate');
  await refused(get(server.ports.mtls, 'plain', certs), 'plaintext on the mTLS port');
}

/** The counters of the sidecar's listener on `port` (`ssl.handshake`, `no_filter_chain_match`, ...), by their name after the listener's. */
async function weftListenerStats(adminPort: number, port: number): Promise<Map<string, number>> {
  const prefix = `listener.127.0.0.1_${port}.`;
  const stats = (await getJson(adminPort, `/stats?filter=${encodeURIComponent(prefix)}`)).body;
  return new Map(stats.split('\n').filter((l) => l.startsWith(prefix)).map((l) => {
    const [name, value] = l.slice(prefix.length).split(': ');
    return [name!, Number(value)];
  }));
}

/** What rose between two readings of the counters. */
function rises(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): Map<string, number> {
  return new Map([...after].map(([name, value]) => [name, value - (before.get(name) ?? 0)] as const).filter(([, d]) => d !== 0));
}

/** Counters of refused or dropped connections on Weft's mTLS listener. */
const REFUSALS = ['no_filter_chain_match', 'downstream_pre_cx_timeout', 'ssl.connection_error', 'ssl.fail_verify_no_cert', 'ssl.fail_verify_error'];

// ---- the run ----

interface PathUnderTest {
  readonly id: string;
  readonly server: ServerName;
  readonly transport: Transport;
  readonly port: number;
  readonly processes: () => number[];
}

interface Run {
  readonly round: number;
  readonly path: string;
  readonly kind: Kind;
  readonly result: LoadResult;
}

const silentLogger: Logger = {
  debug() {},
  info() {},
  warn: (message) => progress(`control plane: ${message}`),
  error: (message) => progress(`control plane: ${message}`),
};

const scratch = mkdtempSync(path.join(os.tmpdir(), 'weft-mtls-cost-'));
const serviceTimeLimitS = timeLimitS + 600;
const failures: string[] = [];
const runs: Run[] = [];
const servers: ServerUnderTest[] = [];
let upstream: Upstream | undefined;
let controlPlane: RunningControlPlane | undefined;
let weftStats = { rounds: new Map<string, number>(), burst: new Map<string, number>(), generatorHandshakes: Number.NaN };
/** Per server: the burst probe's refused connections (of BURST), or why it did not run. */
const burst = new Map<ServerName, number | string>();
const BURST = 64;
let stoppedEarly = false;

const generator = compileGenerator(scratch);
progress(`scratch directory ${scratch}; load generator compiled`);
let certs: Certificates | undefined;

try {
  upstream = await startUpstream(scratch, LOAD_CPU, serviceTimeLimitS);
  const ca = await loadCertificateAuthority({ trustDomain: TRUST_DOMAIN, clock: { now: () => Date.now() } });
  if (!ca.ok) throw new Error(`the CA did not start: ${ca.error}`);
  const pki = path.join(scratch, 'pki');
  mkdirSync(pki);
  const root = path.join(pki, 'root.pem');
  writeFileSync(root, ca.value.trustBundle().join(''));
  const client = await issue(ca.value, pki, 'loadgen');
  certs = { root, clientCert: client.chainFile, clientKey: client.keyFile };

  const configDir = path.join(scratch, 'config');
  mkdirSync(configDir);
  const workloadPorts = { mtls: await freePort(), plain: await freePort() };
  writeFileSync(path.join(configDir, 'mesh.yaml'), meshYaml(workloadPorts.mtls, workloadPorts.plain));
  controlPlane = await startControlPlane({ config: { directory: configDir }, xdsAddress: '127.0.0.1:0', debugAddress: '127.0.0.1:0', logger: silentLogger, certificateAuthority: ca.value });

  progress('starting the Weft sidecar, nginx and the Node.js server');
  const weftDir = path.join(scratch, 'weft');
  mkdirSync(weftDir);
  const weft = await startWeftSidecar(weftDir, controlPlane, workloadPorts, upstream, serviceTimeLimitS);
  servers.push(weft);
  servers.push(await startNginxTls(path.join(scratch, 'nginx'), upstream, await issue(ca.value, pki, 'nginx'), root, serviceTimeLimitS));
  servers.push(await startNodeServer(await issue(ca.value, pki, 'node-tls'), root, serviceTimeLimitS));
  for (const server of servers) await checkServer(server, certs);
  progress('every server answers mutual TLS with the client certificate, refuses TLS without one and plaintext on its mTLS port');

  const paths: PathUnderTest[] = servers.flatMap((s) => (['mtls', 'plain'] as const).map((transport) => ({
    id: `${s.name}-${transport}`, server: s.name, transport, port: s.ports[transport], processes: () => s.processes(),
  })));
  const measure = (p: PathUnderTest, kind: Kind, warmup: number, duration: number, setupParallel?: number): Promise<LoadResult> => runGenerator(generator, certs!, {
    port: p.port, transport: p.transport, kind, cpuPids: p.processes(), warmupS: warmup, durationS: duration, ...(setupParallel !== undefined ? { setupParallel } : {}),
  });

  progress('warm-up pass');
  for (const p of paths) for (const kind of KINDS) await measure(p, kind, 0, Math.max(1, warmupS));
  const generatorBefore = handshakesTo.get(weft.ports.mtls) ?? 0;
  const statsBefore = await weftListenerStats(weft.adminPort, weft.ports.mtls);

  for (let round = 1; round <= rounds; round++) {
    if (Date.now() > deadline) {
      stoppedEarly = true;
      break;
    }
    // The paths take turns at going first.
    const shift = (round - 1) % paths.length;
    const order = [...paths.slice(shift), ...paths.slice(0, shift)];
    progress(`round ${round}/${rounds}: ${order.map((p) => p.id).join(', ')}`);
    for (const kind of KINDS) {
      for (const p of order) {
        const duration = kind.endsWith('rate') ? durationS : maxDurationS;
        try {
          runs.push({ round, path: p.id, kind, result: await quiet.measure(`${p.id} ${kind}`, () => measure(p, kind, warmupS, duration)) });
        } catch (error) {
          failures.push(`${p.id}, ${kind}, round ${round}: ${(error as Error).message}`);
        }
      }
    }
  }
  if (stoppedEarly) failures.push(`stopped at the time limit (${timeLimitS} s) before all rounds finished`);
  const statsAfter = await weftListenerStats(weft.adminPort, weft.ports.mtls);
  weftStats = { ...weftStats, rounds: rises(statsBefore, statsAfter), generatorHandshakes: (handshakesTo.get(weft.ports.mtls) ?? 0) - generatorBefore };

  // A burst: BURST mTLS connections opened at once (each server once, after the rounds); how many the server refuses.
  progress(`burst of ${BURST} new mTLS connections at once to each server`);
  for (const p of paths.filter((x) => x.transport === 'mtls')) {
    try {
      const result = await measure(p, 'ka-max', 0, 0.2, BURST);
      burst.set(p.server, extras.get(result)?.setupFailures ?? Number.NaN);
    } catch (error) {
      burst.set(p.server, (error as Error).message);
    }
  }
  weftStats = { ...weftStats, burst: rises(statsAfter, await weftListenerStats(weft.adminPort, weft.ports.mtls)) };
} catch (error) {
  failures.push((error as Error).message);
  process.exitCode = 1;
} finally {
  await Promise.all(servers.map((s) => s.stop()));
  await controlPlane?.close();
  await upstream?.service.stop();
}
const loadAfter = os.loadavg();

// ---- report ----

const of = (id: string, kind: Kind): Run[] => runs.filter((r) => r.path === id && r.kind === kind);
const med = (id: string, kind: Kind, f: (r: LoadResult) => number): number => median(of(id, kind).map((r) => f(r.result)));
const rps = (r: LoadResult): number => r.rps;
const p50 = (r: LoadResult): number => r.latencyUs.p50;
const p99 = (r: LoadResult): number => r.latencyUs.p99;
const cpu = cpuUsPerRequest;
const busy = proxyBusy;
/** cpu0 (generator, upstream, control plane, and whatever else ran there), busy %. */
const loadCore = (r: LoadResult): number => r.cpu0Busy;
/** The generator's own CPU, in % of one core, and per request (µs). */
const generatorBusy = (r: LoadResult): number => (extras.get(r)?.generatorCpuNs ?? Number.NaN) / 1e7 / r.windowS;
const generatorCpu = (r: LoadResult): number => (r.completed > 0 ? (extras.get(r)?.generatorCpuNs ?? Number.NaN) / 1000 / r.completed : Number.NaN);
/** Per round, `f(a) − f(b)` (or ÷) in the same round, then the median. */
function paired(a: string, b: string, kind: Kind, f: (r: LoadResult) => number, op: (x: number, y: number) => number): number {
  const byRound = new Map(of(b, kind).map((r) => [r.round, f(r.result)]));
  return median(of(a, kind).flatMap((r) => (byRound.has(r.round) ? [op(f(r.result), byRound.get(r.round)!)] : [])));
}
const minus = (x: number, y: number): number => x - y;
const over = (x: number, y: number): number => x / y;
const times = (v: number): string => (Number.isNaN(v) ? '–' : `${v.toFixed(2)}×`);

const out: string[] = [];
const line = (text = ''): void => {
  out.push(text);
};
const cpuModel = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '?';
const nginxOpenssl = /running with (OpenSSL \S+)/.exec(execFileSync('sh', ['-c', 'nginx -V 2>&1'], { encoding: 'utf8' }))?.[1] ?? /built with (OpenSSL \S+)/.exec(execFileSync('sh', ['-c', 'nginx -V 2>&1'], { encoding: 'utf8' }))?.[1] ?? '?';
const generatorOpenssl = execFileSync('openssl', ['version'], { encoding: 'utf8' }).split(' ').slice(0, 2).join(' ');
const tlsOf = (server: ServerName): string => {
  const kept = runs.find((r) => r.path === `${server}-mtls`);
  return kept === undefined ? '–' : (extras.get(kept.result)?.tls ?? '–');
};

line(`Command: \`npm run bench:mtls${args.length > 0 ? ` -- ${args.join(' ')}` : ''}\` (${Math.round((Date.now() - started) / 1000)} s).`);
line();
line(`- Machine: ${os.cpus().length} × ${cpuModel}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}; load average (1 min) ${loadBefore[0]!.toFixed(2)} before the run, ${loadAfter[0]!.toFixed(2)} after`);
line(`- Node.js ${process.version} (OpenSSL ${process.versions.openssl}) for Weft and the Node.js server; nginx ${nginxVersion()} (${nginxOpenssl}); load generator ${generatorOpenssl}`);
line(`- The server under test on cpu${SERVER_CPU}; load generator, upstream and control plane on cpu${LOAD_CPU}`);
line(`- HTTP/1.1 \`GET /${BODY}\`; ${rounds} round(s), interleaved, the paths taking turns at going first; warm-up ${warmupS} s before every window`);
line(`- New connections: ${handshakeRate}/s for ${durationS} s (at most ${HANDSHAKE_OPEN_SLOTS} at a time), and closed loop over ${handshakeConns} at a time for ${maxDurationS} s; full handshakes, nothing resumed`);
line(`- Kept-alive: ${rate} requests/s for ${durationS} s over ${KEEPALIVE_OPEN_CONNECTIONS} connections, and closed loop over ${KEEPALIVE_CLOSED_CONNECTIONS} for ${maxDurationS} s`);
line(`- Negotiated (mTLS, as the generator saw it): ${SERVERS.map((s) => `${s} ${tlsOf(s)}`).join('; ')}`);
line();
for (const l of couldNotRunLines(failures)) line(l);

line('### New connections: a full handshake per request (medians over rounds)');
line();
line('"TLS cost" is the server\'s CPU per mTLS connection minus per plaintext connection, in the same round. Latency: from the due time to the last byte of the response, at the fixed rate.');
line();
line('| server | max conns/s: mTLS | plaintext | mTLS ÷ plaintext | server busy at max: mTLS / plaintext | generator own / its core busy at max (mTLS) | generator µs per mTLS conn | CPU µs per conn: mTLS | plaintext | TLS cost µs per conn | p50 µs at the rate: mTLS | plaintext | p99 µs: mTLS | plaintext |');
line('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const s of SERVERS) {
  const m = `${s}-mtls`;
  const pl = `${s}-plain`;
  line(`| ${s} | ${fixed(med(m, 'hs-max', rps), 0)} | ${fixed(med(pl, 'hs-max', rps), 0)} | ${times(paired(m, pl, 'hs-max', rps, over))} | ${fixed(med(m, 'hs-max', busy), 0)}% / ${fixed(med(pl, 'hs-max', busy), 0)}% | ${fixed(med(m, 'hs-max', generatorBusy), 0)}% / ${fixed(med(m, 'hs-max', loadCore), 0)}% | ${num(med(m, 'hs-max', generatorCpu))} | ${num(med(m, 'hs-max', cpu))} | ${num(med(pl, 'hs-max', cpu))} | **${num(paired(m, pl, 'hs-max', cpu, minus))}** | ${num(med(m, 'hs-rate', p50))} | ${num(med(pl, 'hs-rate', p50))} | ${num(med(m, 'hs-rate', p99))} | ${num(med(pl, 'hs-rate', p99))} |`);
}
line();
line('| ratio (same round, median) | max mTLS conns/s | CPU µs per mTLS conn | TLS cost per conn | p50 of a new mTLS connection at the rate |');
line('|---|---|---|---|---|');
for (const peer of ['nginx', 'node'] as const) {
  const tlsCost = (s: ServerName) => paired(`${s}-mtls`, `${s}-plain`, 'hs-max', cpu, minus);
  line(`| Weft ÷ ${peer} | **${times(paired('weft-mtls', `${peer}-mtls`, 'hs-max', rps, over))}** | **${times(paired('weft-mtls', `${peer}-mtls`, 'hs-max', cpu, over))}** | ${ratio(tlsCost('weft'), tlsCost(peer))} | ${times(paired('weft-mtls', `${peer}-mtls`, 'hs-rate', p50, over))} |`);
}
line();

line('### Kept-alive connections (medians over rounds)');
line();
line('| path | CPU µs/request at the rate | p50 µs | p99 µs | max requests/s | server busy at max | generator own / its core busy at max | CPU µs/request at max |');
line('|---|---|---|---|---|---|---|---|');
for (const s of SERVERS) {
  for (const t of ['plain', 'mtls'] as const) {
    const id = `${s}-${t}`;
    line(`| ${s} ${t === 'mtls' ? 'mTLS' : 'plaintext'} | ${num(med(id, 'ka-rate', cpu))} | ${num(med(id, 'ka-rate', p50))} | ${num(med(id, 'ka-rate', p99))} | ${fixed(med(id, 'ka-max', rps), 0)} | ${fixed(med(id, 'ka-max', busy), 0)}% | ${fixed(med(id, 'ka-max', generatorBusy), 0)}% / ${fixed(med(id, 'ka-max', loadCore), 0)}% | ${num(med(id, 'ka-max', cpu))} |`);
  }
}
line();
line('| ratio (same round, median) | CPU/request at the rate | p50 at the rate | p99 at the rate | max requests/s | CPU/request at max |');
line('|---|---|---|---|---|---|');
const kaRatio = (a: string, b: string, label: string): void => {
  line(`| ${label} | **${times(paired(a, b, 'ka-rate', cpu, over))}** | ${times(paired(a, b, 'ka-rate', p50, over))} | ${times(paired(a, b, 'ka-rate', p99, over))} | **${times(paired(a, b, 'ka-max', rps, over))}** | ${times(paired(a, b, 'ka-max', cpu, over))} |`);
};
kaRatio('weft-mtls', 'weft-plain', 'Weft mTLS ÷ Weft plaintext');
kaRatio('nginx-mtls', 'nginx-plain', 'nginx mTLS ÷ nginx plaintext');
kaRatio('node-mtls', 'node-plain', 'Node.js mTLS ÷ Node.js plaintext');
kaRatio('weft-mtls', 'nginx-mtls', 'Weft mTLS ÷ nginx mTLS');
kaRatio('weft-plain', 'nginx-plain', 'Weft plaintext ÷ nginx plaintext');
line();
line('| TLS cost per kept-alive request, µs of server CPU (mTLS − plaintext, same round) | at the rate | at max |');
line('|---|---|---|');
for (const s of SERVERS) line(`| ${s} | ${num(paired(`${s}-mtls`, `${s}-plain`, 'ka-rate', cpu, minus))} | ${num(paired(`${s}-mtls`, `${s}-plain`, 'ka-max', cpu, minus))} |`);
line();

line('### Per round');
line();
line('| path | new conns/s at max | CPU µs per new conn | kept-alive CPU µs/request at the rate | p50 µs | p99 µs | kept-alive max requests/s |');
line('|---|---|---|---|---|---|---|');
for (const s of SERVERS) {
  for (const t of ['mtls', 'plain'] as const) {
    const id = `${s}-${t}`;
    const per = (kind: Kind, f: (r: LoadResult) => number, format: (v: number) => string) => of(id, kind).map((r) => format(f(r.result))).join(' / ');
    line(`| ${id} | ${per('hs-max', rps, (v) => v.toFixed(0))} | ${per('hs-max', cpu, num)} | ${per('ka-rate', cpu, num)} | ${per('ka-rate', p50, num)} | ${per('ka-rate', p99, num)} | ${per('ka-max', rps, (v) => v.toFixed(0))} |`);
  }
}
line();

const failed = runs.filter((r) => r.result.errors + r.result.timeouts + r.result.statusErrors > 0);
const resumed = runs.reduce((sum, r) => sum + (extras.get(r.result)?.resumed ?? 0), 0);
const refusals = (counters: ReadonlyMap<string, number>): string => {
  const named = REFUSALS.filter((name) => (counters.get(name) ?? 0) > 0).map((name) => `${name} ${counters.get(name)}`);
  return named.length === 0 ? 'none' : named.join(', ');
};
const setupFailures = runs.filter((r) => (extras.get(r.result)?.setupFailures ?? 0) > 0).map((r) => `${r.path} ${r.kind} round ${r.round}: ${extras.get(r.result)!.setupFailures}`);
const foreign = runs.map((r) => r.result.foreignCpu).filter((v) => !Number.isNaN(v));
const steal = runs.map((r) => r.result.steal);
line('**Checks.** ' + [
  `${runs.length} runs; ${failed.length === 0 ? 'no failed, refused or unanswered request in any' : `failures in ${failed.map((r) => `${r.path} ${r.kind} round ${r.round} (${r.result.errors} errors, ${r.result.timeouts} unanswered, ${r.result.statusErrors} not 200)`).join('; ')}`}`,
  `handshakes resumed: ${resumed}`,
  `the sidecar's mTLS listener counted ${fixed(weftStats.rounds.get('ssl.handshake') ?? 0, 0)} TLS handshakes (\`ssl.handshake\`) during the rounds, for ${fixed(weftStats.generatorHandshakes, 0)} the generator completed with it (repeated runs included); refused or dropped there: ${refusals(weftStats.rounds)}`,
  `kept-alive connections refused while being opened (4 at a time, each opened again): ${setupFailures.length === 0 ? 'none' : setupFailures.join(', ')}`,
  `a burst of ${BURST} mTLS connections opened at once, after the rounds: refused ${SERVERS.map((s) => `${s} ${typeof burst.get(s) === 'number' ? fixed(burst.get(s) as number, 0) : (burst.get(s) ?? '–')}`).join(', ')}; Weft's listener: ${refusals(weftStats.burst)}`,
  `${quiet.repeated} run(s) repeated because other processes used more than ${FOREIGN_LIMIT}% of a core or steal exceeded ${STEAL_LIMIT}%`,
  `other processes in kept runs: median ${fixed(median(foreign), 1)}%, highest ${fixed(foreign.length > 0 ? Math.max(...foreign) : Number.NaN, 1)}% of a core; steal highest ${fixed(Math.max(...steal, 0), 1)}%`,
].join('; ') + '.');
process.stdout.write(`${out.join('\n')}\n`);
if (jsonOut !== undefined) writeFileSync(jsonOut, JSON.stringify({ runs: runs.map((r) => ({ ...r, extra: extras.get(r.result) })), failures }, null, 2));
rmSync(scratch, { recursive: true, force: true });
progress('done');
