import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { createWorkloadKeyAndCsr, loadCertificateAuthority } from '../ca/index.ts';
import { RecordingLogger } from '../control/ads/test-support.ts';
import { caServiceDefinition, type IstioCertificateRequest, type IstioCertificateResponse } from '../xds/index.ts';
import { startControlPlane, type RunningControlPlane } from './control-plane.ts';
import { systemClock } from './system.ts';

const WEFT = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));
const PRODUCTPAGE_ID = 'spiffe://cluster.local/ns/default/sa/productpage';

type CaClient = grpc.Client & {
  CreateCertificate(request: IstioCertificateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response?: IstioCertificateResponse) => void): void;
};
const CaClientConstructor = grpc.makeGenericClientConstructor(caServiceDefinition, 'IstioCertificateService');

/** CreateCertificate for productpage with `token`, over `credentials`; the leaf's SAN. */
async function createCertificate(address: string, credentials: grpc.ChannelCredentials, token: string, options: grpc.ChannelOptions = {}): Promise<string | undefined> {
  const client = new CaClientConstructor(address, credentials, options) as unknown as CaClient;
  try {
    const { csrPem } = await createWorkloadKeyAndCsr(PRODUCTPAGE_ID);
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const response = await new Promise<IstioCertificateResponse>((resolve, reject) => {
      client.CreateCertificate({ csr: csrPem }, metadata, { deadline: Date.now() + 10_000 }, (error, value) => (error === null ? resolve(value!) : reject(error)));
    });
    return new X509Certificate(response.certChain[0]!).subjectAltName;
  } finally {
    client.close();
  }
}

async function eventually(check: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the control plane with its TLS port (Istio\'s 15012)', () => {
  let dir: string;
  let controlPlane: RunningControlPlane;
  const log = new RecordingLogger();
  let rootPem: string;
  let rootFile: string;
  let otherRootFile: string;
  let tls: string;
  const proxies: ChildProcess[] = [];
  const istiod = { 'grpc.ssl_target_name_override': 'istiod.istio-system.svc' };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-cp-tls-'));
    const ca = await loadCertificateAuthority({ trustDomain: 'cluster.local', clock: systemClock });
    if (!ca.ok) throw new Error(ca.error);
    const other = await loadCertificateAuthority({ trustDomain: 'cluster.local', clock: systemClock });
    if (!other.ok) throw new Error(other.error);
    rootPem = ca.value.trustBundle().join('');
    rootFile = join(dir, 'root-cert.pem');
    writeFileSync(rootFile, rootPem);
    otherRootFile = join(dir, 'other-root-cert.pem');
    writeFileSync(otherRootFile, other.value.trustBundle().join(''));
    controlPlane = await startControlPlane({
      config: { directory: dir }, xdsAddress: '127.0.0.1:0', xdsTlsAddress: '127.0.0.1:0', debugAddress: '127.0.0.1:0', logger: log, certificateAuthority: ca.value,
    });
    tls = `127.0.0.1:${controlPlane.xdsTlsPort}`;
  });

  after(async () => {
    for (const proxy of proxies) {
      if (proxy.exitCode === null && proxy.signalCode === null) {
        proxy.kill('SIGKILL');
        await once(proxy, 'exit');
      }
    }
    await controlPlane?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function startProxy(pod: string, args: readonly string[]): { proxy: ChildProcess; stderr: () => string } {
    let stderr = '';
    const proxy = spawn(process.execPath, [
      WEFT, 'proxy', '--pod-name', pod, '--namespace', 'default', '--service-account', 'productpage', '--ip', '127.0.0.1',
      '--admin-address', '127.0.0.1:0', '--health-address', '127.0.0.1:0', '--stats-address', '127.0.0.1:0', '--access-log', 'off', ...args,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    proxy.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    proxies.push(proxy);
    return { proxy, stderr: () => stderr };
  }

  it('logs where it serves TLS', () => {
    const ready = log.entries.find((e) => e.message === 'control plane ready');
    assert.equal(ready?.fields['xdsTls'], tls);
  });

  it('signs over TLS, the client checking the server against the mesh root and istiod\'s name', async () => {
    const token = controlPlane.workloadTokens.issue('default', 'productpage');
    assert.equal(await createCertificate(tls, grpc.credentials.createSsl(Buffer.from(rootPem)), token, istiod), `URI:${PRODUCTPAGE_ID}`);
  });

  it('refuses CreateCertificate on the plaintext port, as istiod serves its CA only on 15012', async () => {
    const token = controlPlane.workloadTokens.issue('default', 'productpage');
    const issuedBefore = log.entries.filter((e) => e.message === 'issued a workload certificate').length;
    await assert.rejects(createCertificate(`127.0.0.1:${controlPlane.xdsPort}`, grpc.credentials.createInsecure(), token), (error: grpc.ServiceError) => {
      assert.equal(error.code, grpc.status.UNIMPLEMENTED);
      assert.match(error.details, /served only over TLS/);
      return true;
    });
    assert.ok(log.entries.some((e) => e.level === 'warn' && e.message === 'refusing a call on the plaintext port' && e.fields['method'] === '/istio.v1.auth.IstioCertificateService/CreateCertificate'));
    assert.equal(log.entries.filter((e) => e.message === 'issued a workload certificate').length, issuedBefore, 'nothing was signed there');
  });

  it('a proxy with the mesh root syncs over TLS and gets its workload certificate there', async () => {
    const tokenFile = join(dir, 'token-good');
    writeFileSync(tokenFile, controlPlane.workloadTokens.issue('default', 'productpage'));
    const { stderr } = startProxy('productpage-v1-tls', ['--xds-address', tls, '--xds-root-cert', rootFile, '--ca-token-file', tokenFile]);
    const connected = (): boolean => controlPlane.ads.status().some((s) => s.proxyId.includes('productpage-v1-tls') && s.types.some((t) => t.state === 'SYNCED'));
    await eventually(() => connected() && /workload certificate issued: /.test(stderr()), 30_000, () => `the proxy to sync and get its certificate:\n${stderr()}`);
    assert.match(stderr(), new RegExp(`workload certificate issued: ${PRODUCTPAGE_ID.replaceAll('/', '\\/')}`));
    assert.doesNotMatch(stderr(), /DEP0123|stream ended/, 'no IP as TLS server name, no failed stream');
  });

  it('a proxy with another root does not connect, and its log says why', async () => {
    const tokenFile = join(dir, 'token-other-root');
    writeFileSync(tokenFile, controlPlane.workloadTokens.issue('default', 'productpage'));
    const issuedBefore = log.entries.filter((e) => e.message === 'issued a workload certificate').length;
    const { stderr } = startProxy('productpage-v1-untrusted', ['--xds-address', tls, '--xds-root-cert', otherRootFile, '--ca-token-file', tokenFile]);
    await eventually(() => /ads: stream ended; reconnecting/.test(stderr()) && /workload certificate request failed/.test(stderr()), 30_000, () => `the failures to be logged:\n${stderr()}`);
    const reason = /ads: stream ended; reconnecting.*/.exec(stderr())![0];
    assert.match(reason, /UNAVAILABLE: .*self-signed certificate in certificate chain/);
    assert.match(/workload certificate request failed.*/.exec(stderr())![0], /self-signed certificate in certificate chain/);
    assert.ok(!controlPlane.ads.status().some((s) => s.proxyId.includes('productpage-v1-untrusted')), 'no stream reached the control plane');
    assert.equal(log.entries.filter((e) => e.message === 'issued a workload certificate').length, issuedBefore, 'no certificate was signed for it');
  });

  it('a proxy that expects another server name does not connect, and its log says why', async () => {
    const bootstrap = join(dir, 'bootstrap-other-name.yaml');
    writeFileSync(bootstrap, `ads: {address: "${tls}", tls: {rootCertFile: "${rootFile}", serverName: istiod.other-system.svc}}\n`);
    const { stderr } = startProxy('productpage-v1-othername', ['--bootstrap', bootstrap]);
    await eventually(() => /ads: stream ended; reconnecting/.test(stderr()), 30_000, () => `the failure to be logged:\n${stderr()}`);
    assert.match(/ads: stream ended; reconnecting.*/.exec(stderr())![0], /Host: istiod\.other-system\.svc\. is not in the cert's altnames: DNS:istiod\.istio-system\.svc/);
    assert.ok(!controlPlane.ads.status().some((s) => s.proxyId.includes('productpage-v1-othername')));
  });

  it('a proxy whose root file is missing does not start, naming the file', async () => {
    const missing = join(dir, 'no-such-root.pem');
    const { proxy, stderr } = startProxy('productpage-v1-noroot', ['--xds-address', tls, '--xds-root-cert', missing]);
    const [code] = await once(proxy, 'exit') as [number | null];
    assert.equal(code, 1);
    assert.match(stderr(), new RegExp(`proxy failed to start: the control plane's root \\(${missing.replaceAll('/', '\\/')}\\) cannot be read`));
  });
});
