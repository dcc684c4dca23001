import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { parse as parseYaml } from 'yaml';
import { createWorkloadKeyAndCsr } from '../ca/index.ts';
import { caServiceDefinition, type IstioCertificateRequest, type IstioCertificateResponse } from '../xds/index.ts';
import { startLocalMode, type RunningLocalMode } from './local-mode.ts';

type CaClient = grpc.Client & {
  CreateCertificate(request: IstioCertificateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response?: IstioCertificateResponse) => void): void;
};

const WORKLOADS = `apiVersion: v1
kind: ServiceAccount
metadata: {name: bookinfo-reviews, namespace: default}
---
apiVersion: local.weft.dev/v1alpha1
kind: LocalWorkload
metadata: {name: reviews-v1, namespace: default}
spec:
  labels: {app: reviews, version: v1}
  serviceAccount: bookinfo-reviews
  ports: [{name: http, containerPort: 9080}]
  command: [node, -e, "require('node:http').createServer((q, s) => s.end('ok')).listen(process.env.PORT, '127.0.0.1')"]
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: local.weft.dev/v1alpha1
kind: LocalWorkload
metadata: {name: cart, namespace: shop}
spec:
  labels: {app: cart}
  command: [node, -e, "setInterval(() => {}, 1000)"]
`;

/**
 * Signs a new key's CSR with the control plane's CA service on its TLS port, checked against the
 * mesh root in `<stateDir>/ca/root-cert.pem` as the proxies check it, presenting `token`; the
 * certificate's SAN. With `plaintext`, asks the plaintext port instead.
 */
async function certificateFor(running: RunningLocalMode, stateDir: string, token: string, plaintext = false): Promise<string | undefined> {
  const Client = grpc.makeGenericClientConstructor(caServiceDefinition, 'IstioCertificateService');
  const client = (plaintext
    ? new Client(running.file.xds, grpc.credentials.createInsecure())
    : new Client(running.file.xdsTls, grpc.credentials.createSsl(readFileSync(join(stateDir, 'ca', 'root-cert.pem'))), { 'grpc.ssl_target_name_override': 'istiod.istio-system.svc' })) as unknown as CaClient;
  try {
    const { csrPem } = await createWorkloadKeyAndCsr('spiffe://cluster.local/ns/whatever/sa/asked-for');
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const response = await new Promise<IstioCertificateResponse>((resolve, reject) => {
      client.CreateCertificate({ csr: csrPem, validityDuration: 900 }, metadata, { deadline: Date.now() + 10_000 }, (error, value) => (error === null ? resolve(value!) : reject(error)));
    });
    return new X509Certificate(response.certChain[0]!).subjectAltName;
  } finally {
    client.close();
  }
}

/** The SPIFFE ids of the certificates a proxy holds, from its admin `/certs`, once it has one (polled for up to 15 s). */
async function heldIdentities(stateDir: string, pod: string): Promise<string[]> {
  const bootstrap = parseYaml(readFileSync(join(stateDir, 'proxies', `${pod}.yaml`), 'utf8')) as { admin: { address: string } };
  for (let attempt = 0; attempt < 150; attempt++) {
    const response = await fetch(`http://${bootstrap.admin.address}/certs`).catch(() => undefined);
    if (response?.ok === true) {
      const body = await response.json() as { certificates: { cert_chain: { subject_alt_names: { uri?: string }[] }[] }[] };
      const uris = body.certificates.flatMap((c) => c.cert_chain.flatMap((cert) => cert.subject_alt_names.flatMap((san) => san.uri ?? [])));
      if (uris.length > 0) return uris;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return [];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    }).on('error', reject);
  });
}

async function start(stateDir: string, paths: readonly string[]): Promise<RunningLocalMode> {
  const gateway = { httpPort: await freePort(), httpsPort: await freePort() };
  return startLocalMode({ mode: 'explicit', sharedLoopback: true, stateDir, paths, gateway, report: () => undefined, onShutdownRequest: () => undefined });
}

describe('weft up and the certificate authority', () => {
  let dir: string;
  let stateDir: string;
  let running: RunningLocalMode | undefined;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'weft-up-ca-'));
    stateDir = join(dir, 'state');
    writeFileSync(join(dir, 'workloads.yaml'), WORKLOADS);
  });

  after(async () => {
    await running?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the root in <state>/ca and gives each sidecar a token file that gets its workload a certificate', async () => {
    running = await start(stateDir, [join(dir, 'workloads.yaml')]);
    assert.equal(statSync(join(stateDir, 'ca', 'ca-key.pem')).mode & 0o777, 0o600);
    assert.ok(existsSync(join(stateDir, 'ca', 'ca-cert.pem')));
    assert.equal(statSync(join(stateDir, 'tokens')).mode & 0o777, 0o700);

    const reviews = join(stateDir, 'tokens', 'default.reviews-v1-0.token');
    const cart = join(stateDir, 'tokens', 'shop.cart-0.token');
    assert.equal(statSync(reviews).mode & 0o777, 0o600);
    assert.equal(await certificateFor(running, stateDir, readFileSync(reviews, 'utf8')), 'URI:spiffe://cluster.local/ns/default/sa/bookinfo-reviews');
    // A workload that names no service account runs as `default`, as a pod does.
    assert.equal(await certificateFor(running, stateDir, readFileSync(cart, 'utf8')), 'URI:spiffe://cluster.local/ns/shop/sa/default');
    await assert.rejects(certificateFor(running, stateDir, 'not-a-token'), (error: grpc.ServiceError) => error.code === grpc.status.UNAUTHENTICATED);
    // Tokens go only over TLS: the plaintext port has no CA.
    await assert.rejects(certificateFor(running, stateDir, readFileSync(reviews, 'utf8'), true), (error: grpc.ServiceError) => error.code === grpc.status.UNIMPLEMENTED);
  });

  it('starts every sidecar and the gateway with their token and the mesh root, so each gets its certificate from the CA over TLS', async () => {
    assert.deepEqual(await heldIdentities(stateDir, 'default.reviews-v1-0'), ['spiffe://cluster.local/ns/default/sa/bookinfo-reviews']);
    assert.deepEqual(await heldIdentities(stateDir, 'shop.cart-0'), ['spiffe://cluster.local/ns/shop/sa/default']);
    assert.deepEqual(await heldIdentities(stateDir, 'istio-system.istio-ingressgateway-0'), ['spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account']);
    const bootstrap = parseYaml(readFileSync(join(stateDir, 'proxies', 'default.reviews-v1-0.yaml'), 'utf8')) as { ads: { address: string } };
    assert.equal(bootstrap.ads.address, running!.file.xdsTls, 'the sidecar dials the TLS port');
  });

  it('removes the tokens when the mesh stops, and the next start reuses the root with new tokens', async () => {
    const root = readFileSync(join(stateDir, 'ca', 'ca-cert.pem'), 'utf8');
    const oldToken = readFileSync(join(stateDir, 'tokens', 'default.reviews-v1-0.token'), 'utf8');
    await running!.close();
    running = undefined;
    assert.equal(existsSync(join(stateDir, 'tokens')), false);
    assert.ok(existsSync(join(stateDir, 'ca', 'ca-key.pem')));

    // No paths: the workloads come back from the journal.
    running = await start(stateDir, []);
    assert.equal(readFileSync(join(stateDir, 'ca', 'ca-cert.pem'), 'utf8'), root);
    const newToken = readFileSync(join(stateDir, 'tokens', 'default.reviews-v1-0.token'), 'utf8');
    assert.notEqual(newToken, oldToken);
    assert.equal(await certificateFor(running, stateDir, newToken), 'URI:spiffe://cluster.local/ns/default/sa/bookinfo-reviews');
    await assert.rejects(certificateFor(running, stateDir, oldToken), (error: grpc.ServiceError) => error.code === grpc.status.UNAUTHENTICATED);
  });
});
