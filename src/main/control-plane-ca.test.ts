import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createWorkloadKeyAndCsr, loadCertificateAuthority } from '../ca/index.ts';
import { RecordingLogger } from '../control/ads/test-support.ts';
import { caServiceDefinition, type IstioCertificateRequest, type IstioCertificateResponse } from '../xds/index.ts';
import { startControlPlane, type RunningControlPlane } from './control-plane.ts';

type CaClient = grpc.Client & {
  CreateCertificate(request: IstioCertificateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response?: IstioCertificateResponse) => void): void;
};

describe('the control plane with a certificate authority', () => {
  let dir: string;
  let controlPlane: RunningControlPlane;
  let client: CaClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-cp-ca-'));
    const ca = await loadCertificateAuthority({ trustDomain: 'cluster.local', clock: { now: () => Date.now() } });
    if (!ca.ok) throw new Error(ca.error);
    controlPlane = await startControlPlane({ config: { directory: dir }, xdsAddress: '127.0.0.1:0', debugAddress: '127.0.0.1:0', logger: new RecordingLogger(), certificateAuthority: ca.value });
    const Client = grpc.makeGenericClientConstructor(caServiceDefinition, 'IstioCertificateService');
    client = new Client(`127.0.0.1:${controlPlane.xdsPort}`, grpc.credentials.createInsecure()) as unknown as CaClient;
  });

  after(async () => {
    client?.close();
    await controlPlane?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('without a TLS port, signs on the plaintext xDS port (as istiod without 15012) for a token from its workloadTokens', async () => {
    const token = controlPlane.workloadTokens.issue('default', 'productpage');
    const { csrPem } = await createWorkloadKeyAndCsr('spiffe://cluster.local/ns/default/sa/productpage');
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const response = await new Promise<IstioCertificateResponse>((resolve, reject) => {
      client.CreateCertificate({ csr: csrPem, validityDuration: 900 }, metadata, { deadline: Date.now() + 10_000 }, (error, value) => (error === null ? resolve(value!) : reject(error)));
    });
    assert.equal(new X509Certificate(response.certChain[0]!).subjectAltName, 'URI:spiffe://cluster.local/ns/default/sa/productpage');
  });
});
