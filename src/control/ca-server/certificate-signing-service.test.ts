import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { createWorkloadKeyAndCsr, loadCertificateAuthority, type CertificateAuthority } from '../../ca/index.ts';
import { caServiceDefinition, type IstioCertificateRequest, type IstioCertificateResponse } from '../../xds/index.ts';
import { RecordingLogger } from '../ads/test-support.ts';
import { CertificateSigningService } from './certificate-signing-service.ts';
import { WorkloadTokens } from './workload-tokens.ts';

const TRUST_DOMAIN = 'cluster.local';
const clock = { now: () => Date.now() };

interface CaUnderTest {
  readonly name: string;
  readonly ca: CertificateAuthority;
  readonly keyAndCsr: (identity: string) => Promise<{ readonly keyPem: string; readonly csrPem: string }>;
}

const real = await loadCertificateAuthority({ trustDomain: TRUST_DOMAIN, clock });
if (!real.ok) throw new Error(real.error);
const cas: CaUnderTest[] = [{ name: "Weft's CA (src/ca, a root in memory)", ca: real.value, keyAndCsr: createWorkloadKeyAndCsr }];

type Outcome = { readonly ok: true; readonly response: IstioCertificateResponse } | { readonly ok: false; readonly code: grpc.status; readonly details: string };

type CaClient = grpc.Client & {
  CreateCertificate(request: IstioCertificateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response?: IstioCertificateResponse) => void): void;
};

function call(client: CaClient, request: IstioCertificateRequest, authorization?: string): Promise<Outcome> {
  const metadata = new grpc.Metadata();
  if (authorization !== undefined) metadata.set('authorization', authorization);
  return new Promise((resolve) => {
    client.CreateCertificate(request, metadata, { deadline: Date.now() + 10_000 }, (error, response) => {
      resolve(error === null ? { ok: true, response: response! } : { ok: false, code: error.code, details: error.details });
    });
  });
}

function sanOf(pem: string): string | undefined {
  return new X509Certificate(pem).subjectAltName;
}

for (const { name, ca, keyAndCsr } of cas) {
  describe(`CreateCertificate over gRPC, signed by ${name}`, () => {
    const logger = new RecordingLogger();
    const tokens = new WorkloadTokens();
    const server = new grpc.Server();
    let client: CaClient;
    const reviews = tokens.issue('default', 'bookinfo-reviews');
    const reviewsId = `spiffe://${TRUST_DOMAIN}/ns/default/sa/bookinfo-reviews`;

    before(async () => {
      new CertificateSigningService({ ca, authenticator: tokens, logger }).register(server);
      const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e === null ? resolve(p) : reject(e))));
      const Client = grpc.makeGenericClientConstructor(caServiceDefinition, 'IstioCertificateService');
      client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as CaClient;
    });

    after(async () => {
      client.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    });

    it("signs the token's identity, not the one the CSR asks for, with a chain that ends in the CA's root", async () => {
      const { keyPem, csrPem } = await keyAndCsr(`spiffe://${TRUST_DOMAIN}/ns/istio-system/sa/istiod`);
      const outcome = await call(client, { csr: csrPem }, `Bearer ${reviews}`);
      assert.ok(outcome.ok, outcome.ok ? '' : outcome.details);
      const chain = outcome.response.certChain;
      assert.ok(chain.length >= 2, `a chain of ${chain.length}`);
      assert.equal(sanOf(chain[0]!), `URI:${reviewsId}`);
      const leaf = new X509Certificate(chain[0]!);
      assert.ok(leaf.checkPrivateKey(createPrivateKey(keyPem)), 'the leaf carries the CSR key');
      assert.deepEqual(chain.at(-1)!.trim(), ca.trustBundle().at(-1)!.trim());
      for (let i = 0; i + 1 < chain.length; i++) {
        assert.ok(new X509Certificate(chain[i]!).verify(new X509Certificate(chain[i + 1]!).publicKey), `certificate ${i} is signed by ${i + 1}`);
      }
    });

    it('logs each issuance with the identity and serial at info', async () => {
      const { csrPem } = await keyAndCsr(reviewsId);
      const outcome = await call(client, { csr: csrPem }, `Bearer ${reviews}`);
      assert.ok(outcome.ok);
      const serial = new X509Certificate(outcome.response.certChain[0]!).serialNumber;
      const entry = logger.entries.find((e) => e.level === 'info' && e.fields['serial'] === serial);
      assert.ok(entry, JSON.stringify(logger.entries));
      assert.equal(entry.fields['identity'], reviewsId);
    });

    it('signs for each token its own identity', async () => {
      const ratings = tokens.issue('shop', 'ratings');
      const { csrPem } = await keyAndCsr(reviewsId);
      const outcome = await call(client, { csr: csrPem }, `bearer ${ratings}`);
      assert.ok(outcome.ok, outcome.ok ? '' : outcome.details);
      assert.equal(sanOf(outcome.response.certChain[0]!), `URI:spiffe://${TRUST_DOMAIN}/ns/shop/sa/ratings`);
    });

    it('refuses a call without a bearer token as UNAUTHENTICATED', async () => {
      const { csrPem } = await keyAndCsr(reviewsId);
      for (const authorization of [undefined, `Basic ${reviews}`, 'Bearer ']) {
        const outcome = await call(client, { csr: csrPem }, authorization);
        assert.ok(!outcome.ok);
        assert.equal(outcome.code, grpc.status.UNAUTHENTICATED, `with ${authorization}`);
        assert.match(outcome.details, /bearer token/);
      }
    });

    it('refuses an unknown token as UNAUTHENTICATED', async () => {
      const { csrPem } = await keyAndCsr(reviewsId);
      const forged = `${reviews.slice(0, -2)}${reviews.endsWith('AA') ? 'BB' : 'AA'}`;
      for (const token of [forged, new WorkloadTokens().issue('default', 'bookinfo-reviews')]) {
        const outcome = await call(client, { csr: csrPem }, `Bearer ${token}`);
        assert.ok(!outcome.ok);
        assert.equal(outcome.code, grpc.status.UNAUTHENTICATED);
        assert.match(outcome.details, /not a known workload token/);
      }
    });

    it("refuses a garbage CSR as INVALID_ARGUMENT with the CA's reason", async () => {
      for (const csr of ['', 'not a CSR', '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n']) {
        const outcome = await call(client, { csr }, `Bearer ${reviews}`);
        assert.ok(!outcome.ok);
        assert.equal(outcome.code, grpc.status.INVALID_ARGUMENT, `for ${JSON.stringify(csr)}: ${outcome.details}`);
        assert.ok(outcome.details.length > 0);
      }
    });

    it('refuses a negative validity_duration as INVALID_ARGUMENT', async () => {
      const { csrPem } = await keyAndCsr(reviewsId);
      const outcome = await call(client, { csr: csrPem, validityDuration: -5 }, `Bearer ${reviews}`);
      assert.ok(!outcome.ok);
      assert.equal(outcome.code, grpc.status.INVALID_ARGUMENT);
    });

    it('honours validity_duration, and 0 asks for the default', async () => {
      const { csrPem } = await keyAndCsr(reviewsId);
      const lifetime = async (validityDuration: number): Promise<number> => {
        const requestedAt = Date.now();
        const outcome = await call(client, { csr: csrPem, validityDuration }, `Bearer ${reviews}`);
        assert.ok(outcome.ok, outcome.ok ? '' : outcome.details);
        return (new X509Certificate(outcome.response.certChain[0]!).validToDate.getTime() - requestedAt) / 1000;
      };
      const short = await lifetime(600);
      assert.ok(Math.abs(short - 600) <= 60, `asked for 600 s, got ${short} s`);
      const longer = await lifetime(7200);
      assert.ok(Math.abs(longer - 7200) <= 60, `asked for 7200 s, got ${longer} s`);
      const byDefault = await lifetime(0);
      assert.ok(byDefault > 0 && Math.abs(byDefault - 600) > 60, `the default lifetime is ${byDefault} s`);
    });
  });
}
