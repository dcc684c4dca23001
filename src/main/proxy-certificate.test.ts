import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createWorkloadKeyAndCsr, loadCertificateAuthority } from '../ca/index.ts';
import { RecordingLogger } from '../control/ads/test-support.ts';
import { WorkloadCertificateClient, type WorkloadCertificate, type WorkloadCertificateOptions } from '../proxy/security/index.ts';
import { startControlPlane, type RunningControlPlane } from './control-plane.ts';
import { systemClock, systemTimers } from './system.ts';

const WEFT = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));
const PRODUCTPAGE = { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'productpage' };
const PRODUCTPAGE_ID = 'spiffe://cluster.local/ns/default/sa/productpage';

/** Polls `check` every 20 ms until it holds, for at most `timeoutMs`. */
async function eventually(check: () => boolean, timeoutMs: number, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function spki(pem: string, kind: 'private' | 'certificate'): Buffer {
  const key = kind === 'private' ? createPublicKey(createPrivateKey(pem)) : new X509Certificate(pem).publicKey;
  return key.export({ type: 'spki', format: 'der' });
}

describe('a proxy getting its workload certificate from the control plane', () => {
  let dir: string;
  let controlPlane: RunningControlPlane;
  let controlPlaneLog: RecordingLogger;
  const clients: WorkloadCertificateClient[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-proxy-cert-'));
    const ca = await loadCertificateAuthority({ trustDomain: 'cluster.local', clock: systemClock });
    if (!ca.ok) throw new Error(ca.error);
    controlPlaneLog = new RecordingLogger();
    controlPlane = await startControlPlane({ config: { directory: dir }, xdsAddress: '127.0.0.1:0', debugAddress: '127.0.0.1:0', logger: controlPlaneLog, certificateAuthority: ca.value });
  });

  after(async () => {
    for (const client of clients) client.close();
    await controlPlane?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function client(tokenFile: string, overrides: Partial<WorkloadCertificateOptions> = {}): { client: WorkloadCertificateClient; issued: WorkloadCertificate[]; log: RecordingLogger } {
    const log = new RecordingLogger();
    const made = new WorkloadCertificateClient({
      caAddress: `127.0.0.1:${controlPlane.xdsPort}`,
      identity: PRODUCTPAGE,
      readToken: () => readFile(tokenFile, 'utf8'),
      createKeyAndCsr: createWorkloadKeyAndCsr,
      clock: systemClock,
      timers: systemTimers,
      random: Math.random,
      logger: log,
      ...overrides,
    });
    clients.push(made);
    const issued: WorkloadCertificate[] = [];
    made.onCertificate((certificate) => issued.push(certificate));
    return { client: made, issued, log };
  }

  it('gets a certificate whose SAN is its SPIFFE id and whose key is its own', async () => {
    const tokenFile = join(dir, 'token-first');
    writeFileSync(tokenFile, `${controlPlane.workloadTokens.issue('default', 'productpage')}\n`);
    const { client: made, issued, log } = client(tokenFile);
    made.start();
    await eventually(() => issued.length === 1, 10_000, 'the certificate');

    const certificate = made.current()!;
    assert.equal(certificate, issued[0]);
    const leaf = new X509Certificate(certificate.certChainPem[0]!);
    assert.equal(leaf.subjectAltName, `URI:${PRODUCTPAGE_ID}`);
    assert.deepEqual(spki(certificate.privateKeyPem, 'private'), spki(certificate.certChainPem[0]!, 'certificate'), 'the leaf certifies our own key');
    assert.equal(certificate.trustBundlePem, certificate.certChainPem.at(-1));
    assert.equal(certificate.serial, leaf.serialNumber.toLowerCase());
    assert.equal(certificate.notAfter, leaf.validToDate.getTime());
    assert.ok(certificate.notAfter - Date.now() > 23 * 3600_000, 'the CA default lifetime, 24 h');
    assert.ok(log.entries.some((e) => e.level === 'info' && e.message === `workload certificate issued: ${PRODUCTPAGE_ID}, serial ${certificate.serial}, valid until ${leaf.validToDate.toISOString()}`));
  });

  it('renews a short-lived certificate before it expires, with a new serial and key', async () => {
    const tokenFile = join(dir, 'token-renew');
    writeFileSync(tokenFile, controlPlane.workloadTokens.issue('default', 'productpage'));
    const { client: made, issued } = client(tokenFile, { validitySeconds: 4 });
    made.start();
    await eventually(() => issued.length >= 2, 10_000, 'a renewal');

    const [first, second] = issued as [WorkloadCertificate, WorkloadCertificate];
    assert.ok(first.notAfter - first.notBefore <= 65_000, 'the CA honoured the short lifetime (notBefore is backdated a minute)');
    assert.notEqual(second.serial, first.serial);
    assert.notEqual(second.privateKeyPem, first.privateKeyPem, 'each renewal makes a new key');
    assert.ok(Date.now() < first.notAfter, 'renewed before the first one expired');
    assert.equal(made.current(), issued.at(-1));
  });

  it('with a wrong token gets nothing and retries with growing back-off, then takes a good answer', async () => {
    const tokenFile = join(dir, 'token-wrong');
    writeFileSync(tokenFile, 'not-a-workload-token');
    // random → 0.99: each delay is just under its ceiling, 100 → 200 → 400 ms (capped).
    const { client: made, issued, log } = client(tokenFile, { retryBaseMs: 100, retryMaxMs: 400, random: () => 0.99 });
    made.start();
    const failures = (): typeof log.entries => log.entries.filter((e) => e.message === 'workload certificate request failed');
    await eventually(() => failures().length >= 4, 10_000, 'four failed attempts');

    assert.equal(made.current(), undefined);
    assert.equal(issued.length, 0);
    assert.ok(made.attempts() >= 4);
    assert.match(String(failures()[0]!.fields['error']), /UNAUTHENTICATED/);
    assert.deepEqual(failures().slice(0, 4).map((e) => e.fields['retryInMs']), [99, 198, 396, 396]);
    assert.ok(controlPlaneLog.entries.filter((e) => e.message === 'refusing a certificate request').length >= 4, 'each attempt reached the CA');

    writeFileSync(tokenFile, controlPlane.workloadTokens.issue('default', 'productpage'));
    await eventually(() => issued.length === 1, 10_000, 'the certificate after the token is fixed');
    assert.equal(new X509Certificate(made.current()!.certChainPem[0]!).subjectAltName, `URI:${PRODUCTPAGE_ID}`);
  });

  it('refuses a certificate for another identity and keeps retrying', async () => {
    const tokenFile = join(dir, 'token-other');
    writeFileSync(tokenFile, controlPlane.workloadTokens.issue('default', 'reviews'));
    const { client: made, issued, log } = client(tokenFile, { retryBaseMs: 50, retryMaxMs: 100 });
    made.start();
    const failures = (): typeof log.entries => log.entries.filter((e) => e.message === 'workload certificate request failed');
    await eventually(() => failures().length >= 2, 10_000, 'two failed attempts');
    assert.equal(made.current(), undefined);
    assert.equal(issued.length, 0);
    const failure = failures()[0];
    assert.match(String(failure?.fields['error']), /names spiffe:\/\/cluster\.local\/ns\/default\/sa\/reviews; expected only spiffe:\/\/cluster\.local\/ns\/default\/sa\/productpage/);
  });

  describe('weft proxy --ca-token-file', () => {
    let proxy: ChildProcess;
    let stderr = '';

    after(async () => {
      if (proxy !== undefined && proxy.exitCode === null) {
        proxy.kill('SIGTERM');
        await once(proxy, 'exit');
      }
    });

    it('shows the issued certificate on /certs, as Envoy does', async () => {
      const tokenFile = join(dir, 'token-proxy');
      writeFileSync(tokenFile, controlPlane.workloadTokens.issue('default', 'productpage'));
      proxy = spawn(process.execPath, [
        WEFT, 'proxy', '--pod-name', 'productpage-v1-1', '--namespace', 'default', '--service-account', 'productpage', '--ip', '127.0.0.1',
        '--xds-address', `127.0.0.1:${controlPlane.xdsPort}`, '--ca-token-file', tokenFile,
        '--admin-address', '127.0.0.1:0', '--health-address', '127.0.0.1:0', '--stats-address', '127.0.0.1:0', '--access-log', 'off',
      ], { stdio: ['ignore', 'ignore', 'pipe'] });
      proxy.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const issuedLine = /workload certificate issued: (\S+), serial ([0-9a-f]+), valid until (\S+)/;
      await eventually(() => issuedLine.test(stderr) && /admin listening address=\S+/.test(stderr), 30_000, () => `the certificate log line in:\n${stderr}`);
      const [, identity, serial, validUntil] = issuedLine.exec(stderr)!;
      assert.equal(identity, PRODUCTPAGE_ID);
      const admin = /admin listening address=(\S+)/.exec(stderr)![1]!;

      const response = await fetch(`http://${admin}/certs`);
      assert.equal(response.status, 200);
      const body = (await response.json()) as { certificates: { ca_cert: Record<string, unknown>[]; cert_chain: Record<string, unknown>[] }[] };
      assert.equal(body.certificates.length, 1);
      const [leaf] = body.certificates[0]!.cert_chain;
      assert.deepEqual(leaf, {
        path: '<inline>',
        serial_number: serial,
        subject_alt_names: [{ uri: PRODUCTPAGE_ID }],
        days_until_expiration: '0',
        valid_from: leaf!['valid_from'],
        expiration_time: validUntil!.replace(/\.\d{3}Z$/, 'Z'),
      });
      const [root] = body.certificates[0]!.ca_cert;
      assert.equal(root!['path'], '<inline>');
      assert.ok(Number(root!['days_until_expiration']) > 3000, 'the self-signed root lives 10 years');
    });
  });
});
