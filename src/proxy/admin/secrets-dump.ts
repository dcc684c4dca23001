import { assertNever } from '../../core/index.ts';
import { TypeUrl } from '../../xds/index.ts';
import type { HeldSecret, SecretValue } from '../security/index.ts';
import { ConfigDumpType, type ConfigDumpSource, type SecretsConfigDump, type TypedResource } from './config-dump.ts';

/**
 * Envoy replaces a private key with the text "[redacted]"; the field is `bytes`, so its JSON form
 * is that text in base64.
 */
const REDACTED = Buffer.from('[redacted]').toString('base64');

/**
 * `/config_dump`'s secrets section (envoy.admin.v3.SecretsConfigDump). The proxy's own secrets
 * (`default`, `ROOTCA`) are listed as dynamic like SDS ones, because Envoy gets them over SDS
 * from Istio's agent; private keys never leave the proxy.
 */
export function secretsDumpSource(list: () => readonly HeldSecret[]): ConfigDumpSource {
  return {
    dump: (): SecretsConfigDump => ({
      '@type': ConfigDumpType.Secrets,
      dynamicActiveSecrets: list().map((held) => ({
        name: held.name,
        versionInfo: held.version,
        lastUpdated: new Date(held.lastUpdated).toISOString(),
        secret: secretResource(held.name, held.value),
      })),
    }),
  };
}

function secretResource(name: string, value: SecretValue): TypedResource {
  const base64 = (pem: string): string => Buffer.from(pem).toString('base64');
  switch (value.kind) {
    case 'tlsCertificate':
      return { '@type': TypeUrl.Secret, name, tlsCertificate: { certificateChain: { inlineBytes: base64(value.certificateChainPem) }, privateKey: { inlineBytes: REDACTED } } };
    case 'validationContext':
      return { '@type': TypeUrl.Secret, name, validationContext: { trustedCa: { inlineBytes: base64(value.trustedCaPem) } } };
    default:
      return assertNever(value, 'secret');
  }
}
