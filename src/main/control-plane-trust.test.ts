import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createWorkloadKeyAndCsr, loadCertificateAuthority } from '../ca/index.ts';
import { RecordingLogger } from '../control/ads/test-support.ts';
import { caServiceDefinition, type IstioCertificateRequest, type IstioCertificateResponse } from '../xds/index.ts';
import { controlPlaneChannel, type ControlPlaneChannel } from './control-plane-channel.ts';
import { startControlPlane, type RunningControlPlane } from './control-plane.ts';
import { systemClock } from './system.ts';

const PRODUCTPAGE_ID = 'spiffe://cluster.local/ns/default/sa/productpage';

type CaClient = grpc.Client & {
  CreateCertificate(request: IstioCertificateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response?: IstioCertificateResponse) => void): void;
};
const CaClientConstructor = grpc.makeGenericClientConstructor(caServiceDefinition, 'IstioCertificateService');

/**
 * The proxy's trust in the control plane's TLS port after a root rotation: the port's certificate
 * is issued by root B, the proxy's --xds-root-cert holds only root A, and the workload certificate's
 * trust bundle (given here) decides whether the proxy still connects.
 */
describe('the proxy trusting the control plane through its workload bundle', () => {
  let dir: string;
  let controlPlane: RunningControlPlane;
  let rootA: string;
  let rootB: string;
  let rootFileA: string;
  let address: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-cp-trust-'));
    const a = await loadCertificateAuthority({ trustDomain: 'cluster.local', clock: systemClock });
    const b = await loadCertificateAuthority({ trustDomain: 'cluster.local', clock: systemClock });
    if (!a.ok) throw new Error(a.error);
    if (!b.ok) throw new Error(b.error);
    rootA = a.value.trustBundle().join('');
    rootB = b.value.trustBundle().join('');
    rootFileA = join(dir, 'root-a.pem');
    writeFileSync(rootFileA, rootA);
    controlPlane = await startControlPlane({
      config: { directory: dir }, xdsAddress: '127.0.0.1:0', xdsTlsAddress: '127.0.0.1:0', debugAddress: '127.0.0.1:0', logger: new RecordingLogger(), certificateAuthority: b.value,
    });
    address = `127.0.0.1:${controlPlane.xdsTlsPort}`;
  });

  after(async () => {
    await controlPlane?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function channel(): ControlPlaneChannel {
    const made = controlPlaneChannel({ rootCertFile: rootFileA, serverName: 'istiod.istio-system.svc' });
    assert.ok(made !== undefined);
    return made;
  }

  /** CreateCertificate over the proxy's channel, on a connection of its own (not one a previous call left open); the leaf's SAN. */
  async function createCertificate(through: ControlPlaneChannel): Promise<string | undefined> {
    const client = new CaClientConstructor(address, through.credentials, { ...through.channelOptions, 'grpc.use_local_subchannel_pool': 1 }) as unknown as CaClient;
    try {
      const { csrPem } = await createWorkloadKeyAndCsr(PRODUCTPAGE_ID);
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${controlPlane.workloadTokens.issue('default', 'productpage')}`);
      const response = await new Promise<IstioCertificateResponse>((resolve, reject) => {
        client.CreateCertificate({ csr: csrPem }, metadata, { deadline: Date.now() + 10_000 }, (error, value) => (error === null ? resolve(value!) : reject(error)));
      });
      return new X509Certificate(response.certChain[0]!).subjectAltName;
    } finally {
      client.close();
    }
  }

  const untrusted = (error: grpc.ServiceError): boolean => {
    assert.equal(error.code, grpc.status.UNAVAILABLE);
    assert.match(error.details, /self-signed certificate in certificate chain/);
    return true;
  };

  it('connects when the bundle holds the root of the port\'s certificate, though the root file does not', async () => {
    const through = channel();
    through.trustWorkloadBundle([rootA, rootB]);
    assert.equal(await createCertificate(through), `URI:${PRODUCTPAGE_ID}`);
  });

  it('does not connect when neither the root file nor the bundle holds it', async () => {
    const through = channel();
    await assert.rejects(createCertificate(through), untrusted, 'the root file alone');
    through.trustWorkloadBundle([rootA]);
    await assert.rejects(createCertificate(through), untrusted, 'a bundle without root B');
  });

  it('follows the latest bundle at each new connection of the same credentials', async () => {
    const through = channel();
    await assert.rejects(createCertificate(through), untrusted);
    through.trustWorkloadBundle([rootB]);
    assert.equal(await createCertificate(through), `URI:${PRODUCTPAGE_ID}`, 'a renewal brought root B');
    through.trustWorkloadBundle([rootA]);
    await assert.rejects(createCertificate(through), untrusted, 'a later bundle without root B replaces it');
  });

  it('keeps the root file\'s roots whatever the bundle, and leaves out a root that does not parse', async () => {
    const a = await loadCertificateAuthority({ trustDomain: 'cluster.local', clock: systemClock });
    if (!a.ok) throw new Error(a.error);
    // Root B in the file, a bundle of another root and garbage: the file still decides.
    const rootFileB = join(dir, 'root-b.pem');
    writeFileSync(rootFileB, rootB);
    const through = controlPlaneChannel({ rootCertFile: rootFileB, serverName: 'istiod.istio-system.svc' })!;
    through.trustWorkloadBundle([a.value.trustBundle().join(''), '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n']);
    assert.equal(await createCertificate(through), `URI:${PRODUCTPAGE_ID}`);
  });
});
