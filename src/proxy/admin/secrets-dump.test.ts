import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SecretStore } from '../security/index.ts';
import { pem } from '../upstream/tls-test-support.ts';
import { buildConfigDump, ConfigDumpType, type SecretsConfigDump } from './config-dump.ts';
import { secretsDumpSource } from './secrets-dump.ts';

const SECRET_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
const base64 = (text: string) => Buffer.from(text).toString('base64');

function storeWithWorkloadCertificate(): SecretStore {
  const store = new SecretStore({ localNames: ['default', 'ROOTCA'], now: () => Date.UTC(2026, 10, 23, 12, 0, 0, 250) });
  store.setLocal('default', { kind: 'tlsCertificate', certificateChainPem: pem('client.pem'), privateKeyPem: pem('client-key.pem') }, '27619118c1c81d7');
  store.setLocal('ROOTCA', { kind: 'validationContext', trustedCaPem: pem('ca.pem') }, '27619118c1c81d7');
  return store;
}

describe('the secrets config dump', () => {
  it('shows each held secret as Envoy does, certificates base64-encoded and the private key redacted', () => {
    const store = storeWithWorkloadCertificate();
    const dump = secretsDumpSource(() => store.list()).dump();
    assert.deepEqual(dump, {
      '@type': ConfigDumpType.Secrets,
      dynamicActiveSecrets: [
        {
          name: 'ROOTCA',
          versionInfo: '27619118c1c81d7',
          lastUpdated: '2026-11-23T12:00:00.250Z',
          secret: { '@type': SECRET_TYPE, name: 'ROOTCA', validationContext: { trustedCa: { inlineBytes: base64(pem('ca.pem')) } } },
        },
        {
          name: 'default',
          versionInfo: '27619118c1c81d7',
          lastUpdated: '2026-11-23T12:00:00.250Z',
          secret: {
            '@type': SECRET_TYPE,
            name: 'default',
            tlsCertificate: { certificateChain: { inlineBytes: base64(pem('client.pem')) }, privateKey: { inlineBytes: base64('[redacted]') } },
          },
        },
      ],
    } satisfies SecretsConfigDump);
  });

  it('never writes the private key, in any encoding', () => {
    const store = storeWithWorkloadCertificate();
    const text = JSON.stringify(secretsDumpSource(() => store.list()).dump());
    const keyBody = pem('client-key.pem').split('\n')[1] ?? '';
    assert.ok(keyBody.length > 20);
    assert.ok(!text.includes(keyBody));
    assert.ok(!text.includes(base64(pem('client-key.pem')).slice(0, 40)));
  });

  it('reads the secrets again on every dump, and comes last in /config_dump', () => {
    const store = new SecretStore({ now: () => 0 });
    const source = secretsDumpSource(() => store.list());
    assert.deepEqual(source.dump(), { '@type': ConfigDumpType.Secrets, dynamicActiveSecrets: [] });
    store.setLocal('ROOTCA', { kind: 'validationContext', trustedCaPem: pem('ca.pem') }, '1');
    const dump = buildConfigDump([source, { dump: () => ({ '@type': ConfigDumpType.Clusters, dynamicActiveClusters: [] }) }], { includeEndpoints: false });
    assert.deepEqual(dump.configs.map((c) => c['@type']), [ConfigDumpType.Clusters, ConfigDumpType.Secrets]);
    assert.equal((dump.configs[1] as SecretsConfigDump).dynamicActiveSecrets?.[0]?.name, 'ROOTCA');
  });
});
