/**
 * Root rotation with an overlap bundle, Istio's plug-in CA procedure, end to end: an in-process
 * control plane with a plugged-in CA (`--cacerts`, read again every 500 ms here), an ingress gateway
 * and a sidecar as real `weft proxy` processes with short-lived workload certificates, and requests
 * every 50 ms through the gateway -> sidecar hop, which is mutual TLS (PeerAuthentication STRICT,
 * one request per upstream connection, so every request makes a new handshake).
 *
 * Steps, each waiting until both proxies renewed twice: (1) root-cert.pem holds the old and the new
 * root, the old CA signs; (2) the new CA signs; (3) root-cert.pem holds the new root only. No request
 * may fail. Then the negative control: the signer switches straight to a third, unknown root, and
 * requests do fail while one proxy holds a certificate of the new root and the other one of the old.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { webcrypto } from 'node:crypto';
import { x509 } from '../../src/ca/x509.ts';
import { derToPem } from '../../src/ca/pem.ts';
import type { ReloadingCertificateAuthority } from '../../src/ca/index.ts';
import { openCertificateAuthority } from '../../src/main/certificate-authority.ts';
import { startControlPlane, type RunningControlPlane } from '../../src/main/control-plane.ts';
import { systemClock } from '../../src/main/system.ts';

const WEFT = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));
const GATEWAY_ID = 'spiffe://cluster.local/ns/istio-system/sa/gateway';
const BACKEND_ID = 'spiffe://cluster.local/ns/default/sa/backend';
/**
 * Different lifetimes, so that the two proxies renew at different times (about 2.5 s and 4 s); long
 * enough that a renewal slowed by a busy machine still comes before the certificate expires.
 */
const GATEWAY_TTL = '5s';
const BACKEND_TTL = '8s';

interface Authority {
  readonly cert: x509.X509Certificate;
  readonly keys: webcrypto.CryptoKeyPair;
}

const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

async function newKeys(): Promise<webcrypto.CryptoKeyPair> {
  return crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;
}

async function caExtensions(keys: webcrypto.CryptoKeyPair, pathLength?: number): Promise<x509.Extension[]> {
  return [
    new x509.BasicConstraintsExtension(true, pathLength, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
}

async function makeRoot(name: string): Promise<Authority> {
  const keys = await newKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: `4${Math.floor(Math.random() * 1e15).toString(16).padStart(15, '0')}`,
    name: `CN=${name}, O=Weft rotation test`, notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000),
    keys, signingAlgorithm: SIGNING, extensions: await caExtensions(keys),
  });
  return { cert, keys };
}

async function makeIntermediate(root: Authority, name: string): Promise<Authority> {
  const keys = await newKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: `5${Math.floor(Math.random() * 1e15).toString(16).padStart(15, '0')}`,
    subject: `CN=${name}, O=Weft rotation test`, issuer: root.cert.subject, notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000),
    publicKey: keys.publicKey, signingKey: root.keys.privateKey, signingAlgorithm: SIGNING,
    extensions: [...await caExtensions(keys, 0), await x509.AuthorityKeyIdentifierExtension.create(root.cert.publicKey)],
  });
  return { cert, keys };
}

/** Workload chains leaf -> intermediate -> root, as most plugged-in CAs issue; RR_INTERMEDIATES=0 signs with the roots themselves. */
const INTERMEDIATES = process.env['RR_INTERMEDIATES'] !== '0';
const signerOf = async (root: Authority, name: string): Promise<Authority> => (INTERMEDIATES ? makeIntermediate(root, name) : root);

const pemOf = (authority: Authority): string => authority.cert.toString('pem') + '\n';

/**
 * Istio's cacerts files: `signer` signs, chained to `root`; root-cert.pem is `bundle`. With
 * INTERMEDIATES the signer is an intermediate of the root, else the root itself (Istio takes both).
 */
async function writeCacerts(dir: string, signer: Authority, root: Authority, bundle: readonly Authority[]): Promise<void> {
  const keyPem = derToPem(await crypto.subtle.exportKey('pkcs8', signer.keys.privateKey), 'PRIVATE KEY');
  // The key and certificate first, the bundle last, as an operator copying files would: a poll in between sees a broken set and keeps the CA.
  writeFileSync(join(dir, 'ca-key.pem'), keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'ca-cert.pem'), pemOf(signer));
  writeFileSync(join(dir, 'cert-chain.pem'), signer === root ? pemOf(root) : pemOf(signer) + pemOf(root));
  writeFileSync(join(dir, 'root-cert.pem'), bundle.map(pemOf).join(''));
}

function yaml(backendAddress: string): string {
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: backend, namespace: default}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - route:
    - destination: {host: backend.default.svc.cluster.local, port: {number: 8080}}
---
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: default}
spec:
  selector: {app: backend}
  ports: [{name: http, port: 8080, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: backend, namespace: default}
spec:
  host: backend.default.svc.cluster.local
  trafficPolicy:
    connectionPool: {http: {maxRequestsPerConnection: 1}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec:
  mtls: {mode: STRICT}
# backend sidecar at ${backendAddress}
`;
}

interface Issued {
  readonly identity: string;
  readonly serial: string;
  readonly at: number;
}

class Proxy {
  readonly process: ChildProcess;
  stderr = '';

  constructor(args: readonly string[]) {
    this.process = spawn(process.execPath, [WEFT, 'proxy', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.process.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
  }

  get admin(): string | undefined {
    const match = /admin listening address=(\S+)/.exec(this.stderr);
    return match === null ? undefined : `http://${match[1]}`;
  }

  async certs(): Promise<{ ca_cert: { serial_number: string }[]; cert_chain: { serial_number: string }[] }> {
    const answer = await fetch(`${this.admin}/certs`);
    const body = await answer.json() as { certificates: { ca_cert: { serial_number: string }[]; cert_chain: { serial_number: string }[] }[] };
    assert.equal(body.certificates.length, 1);
    return body.certificates[0]!;
  }

  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = once(this.process, 'exit');
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  }
}

async function eventually<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await Promise.resolve().then(check).catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One GET through the gateway; 'ok' or what went wrong. */
function get(port: number): Promise<string> {
  return new Promise((resolve) => {
    const request = httpRequest({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 2_000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(response.statusCode === 200 && body === 'backend' ? 'ok' : `${response.statusCode} ${body.slice(0, 120)}`));
      response.on('error', (error) => resolve(error.message));
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', (error) => resolve(error.message));
    request.end();
  });
}

describe('root rotation with an overlap bundle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-root-rotation-'));
  const cacerts = join(dir, 'cacerts');
  const config = join(dir, 'config');
  const issued: Issued[] = [];
  const logged: string[] = [];
  const backendAddress = `127.${90 + Math.floor(Math.random() * 60)}.${1 + Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`;
  let ca: ReloadingCertificateAuthority | undefined;
  let controlPlane: RunningControlPlane | undefined;
  let app: Server | undefined;
  let gateway: Proxy | undefined;
  let backend: Proxy | undefined;
  let gatewayPort = 0;
  let oldRoot: Authority;
  let newRoot: Authority;
  const gatewayToken = join(dir, 'gateway.token');
  const backendToken = join(dir, 'backend.token');

  const logger = {
    debug() {},
    info: (message: string, fields?: Record<string, unknown>) => {
      if (message === 'issued a workload certificate') issued.push({ identity: String(fields?.['identity']), serial: String(fields?.['serial']).toLowerCase(), at: Date.now() });
      if (message.includes('reloaded')) logged.push(message);
    },
    warn() {},
    error: (message: string, fields?: Record<string, unknown>) => void logged.push(`${message} ${JSON.stringify(fields ?? {})}`),
  };

  /** Until each proxy got `count` more certificates than it had: its renewals. */
  async function renewals(count: number): Promise<void> {
    const had = (identity: string) => issued.filter((i) => i.identity === identity).length;
    const [gw, be] = [had(GATEWAY_ID), had(BACKEND_ID)];
    await eventually(() => had(GATEWAY_ID) >= gw + count && had(BACKEND_ID) >= be + count, `${count} renewals of each proxy`, 20_000);
  }

  /** Until the control plane's CA hands out `bundle` (the poll saw the files). */
  async function reloaded(bundle: readonly Authority[]): Promise<void> {
    const want = bundle.map((a) => a.cert.toString('pem').replace(/\s/g, '')).sort().join();
    await eventually(() => ca!.trustBundle().map((pem) => pem.replace(/\s/g, '')).sort().join() === want, 'the CA to reload', 5_000);
  }

  /** The control plane with its TLS port on `tlsPort` (0: any); its tokens live in its memory, so the proxies' token files get new ones. */
  async function startTheControlPlane(tlsPort: number): Promise<RunningControlPlane> {
    const started = await startControlPlane({
      config: { directory: config }, xdsAddress: '127.0.0.1:0', xdsTlsAddress: `127.0.0.1:${tlsPort}`, debugAddress: '127.0.0.1:0', logger,
      push: { debounceQuietMs: 10, debounceMaxMs: 100 }, certificateAuthority: ca!,
    });
    writeFileSync(gatewayToken, started.workloadTokens.issue('istio-system', 'gateway'));
    writeFileSync(backendToken, started.workloadTokens.issue('default', 'backend'));
    return started;
  }

  before(async () => {
    for (const sub of [cacerts, config]) mkdirSync(sub, { recursive: true });
    oldRoot = await makeRoot('Old Root');
    newRoot = await makeRoot('New Root');
    await writeCacerts(cacerts, await signerOf(oldRoot, 'Old Intermediate'), oldRoot, [oldRoot]);
    writeFileSync(join(config, 'mesh.yaml'), yaml(backendAddress));

    const opened = await openCertificateAuthority({ trustDomain: 'cluster.local', clock: systemClock, pluggedCertsDir: cacerts }, logger, { pollMs: 500 });
    if (!opened.ok) throw new Error(opened.error);
    ca = opened.value;
    controlPlane = await startTheControlPlane(0);
    const rootFile = join(dir, 'root-cert.pem');
    writeFileSync(rootFile, pemOf(oldRoot));

    app = createServer((_request, response) => response.end('backend'));
    await new Promise<void>((resolve) => app!.listen(0, '127.0.0.1', resolve));
    const appPort = (app.address() as { port: number }).port;

    const xds = `127.0.0.1:${controlPlane.xdsTlsPort}`;
    const common = ['--xds-address', xds, '--xds-root-cert', rootFile, '--log-level', process.env['RR_LOG'] ?? 'info', '--access-log', 'off', '--termination-drain-duration', '1s'];
    gateway = new Proxy([
      ...common, '--type', 'router', '--pod-name', 'gateway-0', '--namespace', 'istio-system', '--service-account', 'gateway', '--label', 'istio=ingressgateway',
      '--admin-address', '127.0.0.1:0', '--health-address', '127.0.0.1:0', '--stats-address', '127.0.0.1:0',
      '--bind-address', '127.0.0.1', '--port-map', '80=0', '--ca-token-file', gatewayToken, '--workload-cert-ttl', GATEWAY_TTL,
    ]);
    const bootstrap = join(dir, 'backend.yaml');
    writeFileSync(bootstrap, JSON.stringify({
      node: {
        id: `sidecar~${backendAddress}~backend-0.default~default.svc.cluster.local`,
        metadata: {
          NAMESPACE: 'default', LABELS: { app: 'backend' }, SERVICE_ACCOUNT: 'backend', WORKLOAD_NAME: 'backend', INSTANCE_IPS: backendAddress,
          POD_PORTS: JSON.stringify([{ containerPort: 8080, protocol: 'TCP', name: 'http' }]), INTERCEPTION_MODE: 'NONE', APP_PORTS: JSON.stringify({ 8080: appPort }),
        },
      },
      ads: { address: xds },
      admin: { address: `${backendAddress}:0` }, health: { address: `${backendAddress}:0` }, stats: { address: `${backendAddress}:0` },
    }));
    backend = new Proxy([...common, '--bootstrap', bootstrap, '--ca-token-file', backendToken, '--workload-cert-ttl', BACKEND_TTL]);

    for (const proxy of [gateway, backend]) {
      await eventually(async () => {
        if (proxy.process.exitCode !== null) throw new Error(`a proxy exited:\n${proxy.stderr}`);
        return proxy.admin !== undefined && (await fetch(`${proxy.admin}/ready`)).status === 200;
      }, 'the proxies to be ready');
    }
    gatewayPort = await eventually(async () => {
      const listeners = await (await fetch(`${gateway!.admin}/listeners?format=json`)).json() as { listener_statuses: { name: string; local_address: { socket_address: { port_value: number } } }[] };
      return listeners.listener_statuses.find((l) => l.name === '0.0.0.0_80')?.local_address.socket_address.port_value;
    }, 'the gateway listener');
    let last = '';
    await eventually(async () => (last = await get(gatewayPort)) === 'ok', 'a request through the gateway and the sidecar to succeed').catch((error: Error) => {
      throw new Error(`${error.message}: the last answer was ${last}\n${gateway!.stderr.split("\n").filter((l) => /tls|ssl|cert|handshake|verif|reset|error/i.test(l)).slice(-8).join("\n")}\n${backend!.stderr.split("\n").filter((l) => /tls|ssl|handshake|verif|reset|error/i.test(l)).slice(-8).join("\n")}`);
    });
  });

  after(async () => {
    await Promise.all([gateway?.stop(), backend?.stop()]);
    await controlPlane?.close();
    ca?.close();
    await new Promise<void>((resolve) => (app === undefined ? resolve() : app.close(() => resolve())));
    rmSync(dir, { recursive: true, force: true });
  });

  it('drops no request while the root is rotated in three steps, and a direct switch to an unknown root does', { timeout: 120_000 }, async () => {
    const outcomes: { at: number; phase: string; result: string }[] = [];
    let phase = 'start';
    let sending = true;
    const loop = (async () => {
      while (sending) {
        const at = Date.now();
        const currentPhase = phase;
        void get(gatewayPort).then((result) => outcomes.push({ at, phase: currentPhase, result }));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const failures = (which: (p: string) => boolean) => outcomes.filter((o) => which(o.phase) && o.result !== 'ok');
    try {
      await renewals(1);

      phase = 'step 1: old and new root, old CA signs';
      await writeCacerts(cacerts, await signerOf(oldRoot, 'Old Intermediate 2'), oldRoot, [oldRoot, newRoot]);
      await reloaded([oldRoot, newRoot]);
      await renewals(2);

      phase = 'step 2: the new CA signs';
      const newIntermediate = await signerOf(newRoot, 'New Intermediate');
      await writeCacerts(cacerts, newIntermediate, newRoot, [oldRoot, newRoot]);
      await reloaded([oldRoot, newRoot]);
      const switchedAt = Date.now();
      await renewals(2);

      phase = 'step 3: the new root only';
      await writeCacerts(cacerts, newIntermediate, newRoot, [newRoot]);
      await reloaded([newRoot]);
      await renewals(2);

      // Reconnecting now needs the new root, which the proxies' --xds-root-cert file lacks but their
      // bundle holds: the control plane restarts on the same port, every stream (xDS, CA) is new.
      // Not counted: the restarted control plane learns the backend's endpoint only when the backend
      // reconnects, so the gateway may have none until then ('no healthy upstream').
      phase = 'restart';
      const tlsPort = controlPlane!.xdsTlsPort!;
      await controlPlane!.close();
      controlPlane = await startTheControlPlane(tlsPort);
      const synced = (pod: string) => controlPlane!.ads.status().some((s) => s.proxyId.includes(pod) && s.types.some((t) => t.state === 'SYNCED'));
      await eventually(() => synced('gateway-0') && synced('backend-0'), 'the proxies to sync with the restarted control plane', 20_000).catch((error: Error) => {
        throw new Error(`${error.message}\n${gateway!.stderr.split('\n').filter((l) => /ads:|certificate/.test(l)).slice(-4).join('\n')}`);
      });
      await eventually(async () => (await get(gatewayPort)) === 'ok', 'requests to succeed after the restart');
      phase = 'step 3: after the restart';
      await renewals(1);
      // Let the last requests of the rotation finish before counting.
      await new Promise((resolve) => setTimeout(resolve, 2_500));

      const counted = (p: string) => p !== 'start' && p !== 'restart' && p !== 'negative';
      const rotation = outcomes.filter((o) => counted(o.phase));
      assert.ok(rotation.length > 100, `only ${rotation.length} requests were sent during the rotation`);
      assert.deepEqual(failures(counted).slice(0, 5), [], `requests failed during the rotation (${failures(counted).length} of ${rotation.length})`);

      // Both proxies hold a certificate the new CA issued, and trust the new root only.
      const newRootSerial = newRoot.cert.serialNumber.toLowerCase();
      for (const [proxy, identity] of [[gateway!, GATEWAY_ID], [backend!, BACKEND_ID]] as const) {
        const certs = await proxy.certs();
        assert.deepEqual(certs.ca_cert.map((c) => c.serial_number), [newRootSerial], `${identity} trusts only the new root`);
        const leaf = certs.cert_chain[0]!.serial_number;
        assert.ok(issued.some((i) => i.identity === identity && i.serial === leaf && i.at >= switchedAt), `${identity} holds ${leaf}, issued by the new CA`);
      }
      // The TLS port serves a chain of the new CA too.
      const served = controlPlane!.serverCertificate!.current()!.certChainPem;
      assert.equal(new x509.X509Certificate(served.at(-1)!).serialNumber.toLowerCase(), newRootSerial);

      phase = 'negative';
      const thirdRoot = await makeRoot('Unknown Root');
      await writeCacerts(cacerts, await signerOf(thirdRoot, 'Unknown Intermediate'), thirdRoot, [thirdRoot]);
      await reloaded([thirdRoot]);
      await eventually(() => failures((p) => p === 'negative').length >= 3, 'requests to fail after a switch to an unknown root without overlap', 10_000);
    } finally {
      sending = false;
      await loop;
    }
    assert.deepEqual(logged.filter((line) => !line.includes('reloaded') && !line.includes('failed; the current CA stays in use')), []);
  });
});
