import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { connect, type PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { loadCertificateAuthority, type CertificateAuthority } from '../../ca/index.ts';
import type { TimerHandle, Timers } from '../../core/index.ts';
import { RecordingLogger } from '../ads/test-support.ts';
import { ControlPlaneCertificate } from './control-plane-certificate.ts';

/** Timers that only run when the test says so. */
class ManualTimers implements Timers {
  readonly pending = new Map<number, { callback: () => void; ms: number }>();
  #next = 0;
  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = ++this.#next;
    this.pending.set(id, { callback, ms });
    return id as unknown as TimerHandle;
  }
  clearTimeout(handle: TimerHandle): void {
    this.pending.delete(handle as unknown as number);
  }
  /** Runs the one pending timer and returns the delay it was set with. */
  fire(): number {
    assert.equal(this.pending.size, 1, 'one timer pending');
    const [id, timer] = [...this.pending][0]!;
    this.pending.delete(id);
    timer.callback();
    return timer.ms;
  }
}

/** The certificate a TLS client verifying against `rootPem` for istiod's name gets from 127.0.0.1:port. */
function servedCertificate(port: number, rootPem: string): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: rootPem, servername: 'istiod.istio-system.svc', ALPNProtocols: ['h2'] }, () => {
      const certificate = socket.getPeerCertificate();
      socket.destroy();
      resolve(certificate);
    });
    socket.setTimeout(5_000, () => socket.destroy(new Error('no TLS handshake within 5 s')));
    socket.on('error', reject);
  });
}

async function eventually(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("the control plane's TLS certificate", () => {
  const timers = new ManualTimers();
  const logger = new RecordingLogger();
  let ca: CertificateAuthority;
  let root: string;
  let certificate: ControlPlaneCertificate;
  const server = new grpc.Server();
  let port: number;

  before(async () => {
    const loaded = await loadCertificateAuthority({ trustDomain: 'cluster.local', clock: { now: () => Date.now() } });
    if (!loaded.ok) throw new Error(loaded.error);
    ca = loaded.value;
    root = ca.trustBundle()[0]!;
    certificate = new ControlPlaneCertificate({ ca, clock: { now: () => Date.now() }, timers, logger });
    const started = await certificate.start();
    assert.ok(started.ok, started.ok ? '' : started.error);
    port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', certificate.credentials, (e, p) => (e === null ? resolve(p) : reject(e))));
  });

  after(async () => {
    certificate.close();
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  });

  it("is served for istiod's names and 127.0.0.1, valid 24 h, chained to the mesh root", async () => {
    const served = await servedCertificate(port, root);
    assert.equal(served.subjectaltname, 'DNS:istiod.istio-system.svc, DNS:istiod.istio-system.svc.cluster.local, DNS:localhost, IP Address:127.0.0.1');
    assert.equal(served.serialNumber.toLowerCase(), certificate.current()!.serial);
    const lifetime = new Date(served.valid_to).getTime() - Date.now();
    assert.ok(Math.abs(lifetime - 86_400_000) < 60_000, `valid for ${lifetime} ms`);
    assert.ok(logger.entries.some((e) => e.level === 'info' && e.message === 'control plane certificate issued' && e.fields['serial'] === served.serialNumber.toLowerCase()));
  });

  it('is issued again at half its lifetime, with a new key, on the same port', async () => {
    const first = certificate.current()!;
    const delay = timers.fire();
    assert.ok(Math.abs(delay - 43_200_000) < 60_000, `renewed after ${delay} ms, about 12 h`);
    await eventually(() => certificate.current() !== first, 'the new certificate');
    const second = certificate.current()!;
    assert.notEqual(second.serial, first.serial);
    assert.notEqual(second.privateKeyPem, first.privateKeyPem);
    await eventually(async () => (await servedCertificate(port, root)).serialNumber.toLowerCase() === second.serial, 'the port to serve the new certificate');
    assert.equal(timers.pending.size, 1, 'the next renewal is due');
  });

  it('keeps the current certificate and retries when the CA fails', async () => {
    const failing = new ControlPlaneCertificate({
      ca: { trustDomain: ca.trustDomain, trustBundle: () => ca.trustBundle(), sign: (r) => ca.sign(r), issueServerCertificate: async () => ({ ok: false, error: 'the CA is down' }) },
      clock: { now: () => Date.now() },
      timers: new ManualTimers(),
      logger,
    });
    const started = await failing.start();
    assert.equal(started.ok, false);
    assert.match(started.ok ? '' : started.error, /the control plane's TLS certificate: the CA is down/);
    failing.close();

    const flaky = new ManualTimers();
    let calls = 0;
    const once = new ControlPlaneCertificate({
      ca: { trustDomain: ca.trustDomain, trustBundle: () => ca.trustBundle(), sign: (r) => ca.sign(r), issueServerCertificate: (r) => (++calls === 1 ? ca.issueServerCertificate(r) : Promise.resolve({ ok: false as const, error: 'the CA is down' })) },
      clock: { now: () => Date.now() },
      timers: flaky,
      logger,
      retryMs: 5_000,
    });
    assert.ok((await once.start()).ok);
    const kept = once.current();
    flaky.fire();
    await eventually(() => logger.entries.some((e) => e.level === 'error' && e.message.startsWith('issuing the control plane certificate failed')), 'the failure to be logged');
    assert.equal(once.current(), kept);
    assert.equal([...flaky.pending.values()][0]?.ms, 5_000, 'retried after retryMs');
    once.close();
    assert.equal(flaky.pending.size, 0, 'close() stops renewing');
  });
});
