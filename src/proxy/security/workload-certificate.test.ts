import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, type webcrypto } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Logger, TimerHandle, Timers } from '../../core/index.ts';
import { caServiceDefinition, type IstioCertificateRequest, type IstioCertificateResponse } from '../../xds/index.ts';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { WorkloadCertificateClient, type CreateKeyAndCsr, type WorkloadCertificate } from './workload-certificate.ts';

// The proxy is handed its key and CSR maker (src/ca's, in main/); this test makes its own with the same library.
x509.cryptoProvider.set(globalThis.crypto);
const createKeyAndCsr: CreateKeyAndCsr = async (identity) => {
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: identity }], true)],
  });
  return { keyPem: x509.PemConverter.encode(await crypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY'), csrPem: csr.toString('pem') };
};

const IDENTITY = 'spiffe://cluster.local/ns/default/sa/productpage';
const TOKEN = 'good-token';
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Timers that only record: the test fires each one when it wants, and reads the delay asked for. */
class ManualTimers implements Timers {
  readonly pending = new Map<number, { callback: () => void; ms: number }>();
  #next = 1;

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = this.#next++;
    this.pending.set(id, { callback, ms });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.pending.delete(handle as number);
  }

  /** Fires the one pending timer and waits (at most 5 s) until the attempt it started has set the next one; returns that one's delay. */
  async fireAndWait(): Promise<number> {
    assert.equal(this.pending.size, 1, 'one timer pending');
    const [id, timer] = [...this.pending][0]!;
    this.pending.delete(id);
    timer.callback();
    const deadline = Date.now() + 5_000;
    while (this.pending.size < 1) {
      if (Date.now() > deadline) throw new Error('the attempt set no next timer');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return [...this.pending.values()][0]!.ms;
  }
}

type Answer = 'good' | 'other-identity' | 'broken-chain' | 'unauthenticated';

/** A CA in the test: a root made here, and answers the test queues up. */
class TestCa {
  readonly answers: Answer[] = [];
  readonly requests: { csr: string; validityDuration: number; authorization: string }[] = [];
  readonly server = new grpc.Server();
  port = 0;
  now = 0;
  #root!: x509.X509Certificate;
  #other!: x509.X509Certificate;
  #rootKeys!: webcrypto.CryptoKeyPair;

  async start(): Promise<void> {
    this.#rootKeys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    this.#root = await this.#makeRoot(this.#rootKeys, 'CN=Test Root');
    this.#other = await this.#makeRoot(await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']), 'CN=Other Root');
    this.server.addService(caServiceDefinition, {
      CreateCertificate: (call: grpc.ServerUnaryCall<IstioCertificateRequest, IstioCertificateResponse>, callback: grpc.sendUnaryData<IstioCertificateResponse>) => {
        this.requests.push({ csr: call.request.csr, validityDuration: call.request.validityDuration ?? 0, authorization: String(call.metadata.get('authorization')[0]) });
        const answer = this.answers.shift() ?? 'good';
        if (answer === 'unauthenticated') {
          callback({ code: grpc.status.UNAUTHENTICATED, details: 'the bearer token is not a known workload token' });
          return;
        }
        this.#sign(call.request.csr, answer === 'other-identity' ? 'spiffe://cluster.local/ns/default/sa/reviews' : IDENTITY).then(
          (leaf) => callback(null, { certChain: [leaf, (answer === 'broken-chain' ? this.#other : this.#root).toString('pem')] }),
          (error: unknown) => callback({ code: grpc.status.INTERNAL, details: String(error) }),
        );
      },
    });
    this.port = await new Promise((resolve, reject) => {
      this.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error === null ? resolve(port) : reject(error)));
    });
  }

  async #makeRoot(keys: webcrypto.CryptoKeyPair, name: string): Promise<x509.X509Certificate> {
    return x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01', name, keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      notBefore: new Date(Date.now() - 3600_000), notAfter: new Date(Date.now() + 86_400_000),
      extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
    });
  }

  async #sign(csrPem: string, identity: string): Promise<string> {
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: (this.requests.length + 0x10).toString(16).padStart(2, '0'),
      issuer: this.#root.subject,
      subject: '',
      notBefore: new Date(this.now - 60_000),
      notAfter: new Date(this.now + 3600_000),
      publicKey: await csr.publicKey.export(),
      signingKey: this.#rootKeys.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: identity }], true)],
    });
    return leaf.toString('pem');
  }
}

describe('WorkloadCertificateClient', () => {
  const ca = new TestCa();

  before(() => ca.start());
  after(() => ca.server.forceShutdown());

  function client(timers: ManualTimers, random = (): number => 0.5): { client: WorkloadCertificateClient; issued: WorkloadCertificate[] } {
    // Whole seconds, as certificates keep their times.
    ca.now = Math.floor(Date.now() / 1000) * 1000;
    const made = new WorkloadCertificateClient({
      caAddress: `127.0.0.1:${ca.port}`,
      identity: { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'productpage' },
      readToken: async () => `${TOKEN}\n`,
      createKeyAndCsr,
      validitySeconds: 3600,
      clock: { now: () => ca.now },
      timers,
      random,
      logger: silent,
    });
    const issued: WorkloadCertificate[] = [];
    made.onCertificate((certificate) => issued.push(certificate));
    return { client: made, issued };
  }

  it('refuses bad answers, backs off from 1 s doubling to 30 s, then takes a good one and renews at half its remaining life', async () => {
    const timers = new ManualTimers();
    const { client: made, issued } = client(timers);
    ca.answers.push('other-identity', 'broken-chain', 'unauthenticated', 'unauthenticated', 'unauthenticated', 'unauthenticated', 'unauthenticated', 'good');
    const requestsBefore = ca.requests.length;
    made.start();
    const delays: number[] = [];
    for (let attempt = 0; attempt < 8; attempt++) delays.push(await timers.fireAndWait());
    made.close();

    // random() = 0.5: half of each ceiling (1, 2, 4, 8, 16, 30, 30 s); then half of the hour the certificate has left.
    assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 15_000, 15_000, 1_800_000]);
    assert.equal(issued.length, 1, 'only the good answer is installed');
    const [certificate] = issued as [WorkloadCertificate];
    assert.equal(new X509Certificate(certificate.certChainPem[0]!).subjectAltName, `URI:${IDENTITY}`);
    const request = ca.requests[requestsBefore]!;
    assert.equal(request.authorization, `Bearer ${TOKEN}`);
    assert.equal(request.validityDuration, 3600);
    assert.match(request.csr, /^-----BEGIN CERTIFICATE REQUEST-----/);
  });

  it('spreads renewals over 45 % to 55 % of the remaining life', async () => {
    for (const [random, delay] of [[0, 1_620_000], [0.75, 1_890_000]] as const) {
      const timers = new ManualTimers();
      const { client: made } = client(timers, () => random);
      made.start();
      assert.equal(await timers.fireAndWait(), delay);
      made.close();
    }
  });

  it('keeps the current certificate while a renewal fails, and retries from the shortest back-off', async () => {
    const timers = new ManualTimers();
    const { client: made, issued } = client(timers);
    made.start();
    assert.equal(await timers.fireAndWait(), 1_800_000);
    const first = made.current();
    assert.ok(first !== undefined);
    ca.answers.push('unauthenticated', 'unauthenticated');
    ca.now += 1_800_000;
    assert.equal(await timers.fireAndWait(), 500);
    assert.equal(await timers.fireAndWait(), 1000);
    assert.equal(made.current(), first, 'the old certificate stays in use');
    assert.equal(await timers.fireAndWait(), 1_800_000, 'half of what the new certificate has left');
    assert.equal(issued.length, 2);
    assert.notEqual(made.current()!.serial, first.serial);
    made.close();
    assert.equal(timers.pending.size, 0, 'close() stops the renewal timer');
  });
});
