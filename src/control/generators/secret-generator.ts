import { createPrivateKey, X509Certificate } from 'node:crypto';
import { ofKind, type Resource } from '../../config/index.ts';
import type { ProxyView } from '../model/index.ts';
import type { MeshSnapshot } from '../snapshot/index.ts';
import { TypeUrl, type ProtoJson } from '../../xds/index.ts';
import type { Secret } from '../../xds/envoy/index.ts';
import { proxyKey, type Generator, type NamedResource, type ProxyField, type ResourceKind } from './generator.ts';
import { SDS_DEFAULT, SDS_ROOT_CA } from './upstream-tls.ts';

/** Istio's prefix for secrets read from Kubernetes (`kubernetes://<name>`, or `kubernetes://<namespace>/<name>`). */
const KUBERNETES_PREFIX = 'kubernetes://';
/** The suffix that asks for a credential's CA instead of its certificate (Istio's SdsCaSuffix). */
const CA_SUFFIX = '-cacert';

/** Certificate and key, in the order Istio reads them: the TLS Secret's keys, then Istio's generic ones. */
const CERTIFICATE_KEYS: readonly (readonly [string, string])[] = [['tls.crt', 'tls.key'], ['cert', 'key']];
const CA_KEYS: readonly string[] = ['ca.crt', 'cacert'];

const SHARING_FIELDS: readonly ProxyField[] = ['namespace'];

/**
 * SDS for `credentialName` secrets (DestinationRule and Gateway TLS): for each name asked for, a
 * Kubernetes Secret of the proxy's own namespace turned into an Envoy Secret, as Istio's SDS
 * server does:
 * - `X` (or `kubernetes://X`): a tlsCertificate from Secret X's `tls.crt`/`tls.key` (or `cert`/`key`);
 * - `X-cacert`: a validationContext from Secret X's `ca.crt` (or `cacert`), else from a separate
 *   Secret `X-cacert` holding that key.
 *
 * Only the proxy's own namespace is read: Istio lets a proxy read the secrets of its namespace
 * and no other (a gateway in istio-system gets istio-system's), so one workload's credentials never
 * reach another namespace's proxies. A `kubernetes://<namespace>/<name>` naming another namespace
 * is refused likewise.
 *
 * A name whose Secret or keys are missing, or whose PEM does not parse (or whose key does not
 * belong to its certificate; Istio's VERIFY_SDS_CERTIFICATE), is left out: ADS reports it not found,
 * the proxy keeps failing connections that need it with that reason, and the bad secret cannot
 * make the proxy NACK the good ones sent beside it. `default` and `ROOTCA` are the proxy's own
 * (its agent holds them) and never come from here.
 */
export class SecretGenerator implements Generator {
  readonly typeUrl = TypeUrl.Secret;
  readonly inputs: ReadonlySet<ResourceKind> = new Set<ResourceKind>(['Secret']);

  sharingKey(proxy: ProxyView): string {
    return proxyKey(proxy, SHARING_FIELDS);
  }

  generate(proxy: ProxyView, snapshot: MeshSnapshot, names: ReadonlySet<string> | 'all'): NamedResource[] {
    // SDS has no wildcard: a proxy gets only the secrets its TLS contexts name.
    if (names === 'all') return [];
    const secrets = new Map(ofKind(snapshot.resources, 'Secret').filter((s) => s.namespace === proxy.namespace).map((s) => [s.name, s]));
    return [...names].flatMap((name) => {
      const secret = secretFor(name, proxy.namespace, secrets);
      return secret === undefined ? [] : [{ name, resource: secret }];
    });
  }
}

/** The Envoy Secret for a requested name, or undefined when there is none to give. */
function secretFor(requested: string, namespace: string, secrets: ReadonlyMap<string, Resource<'Secret'>>): ProtoJson | undefined {
  if (requested === SDS_DEFAULT || requested === SDS_ROOT_CA) return undefined;
  let name = requested.startsWith(KUBERNETES_PREFIX) ? requested.slice(KUBERNETES_PREFIX.length) : requested;
  const slash = name.indexOf('/');
  if (slash >= 0) {
    if (name.slice(0, slash) !== namespace) return undefined;
    name = name.slice(slash + 1);
  }
  if (name === '') return undefined;
  if (name.endsWith(CA_SUFFIX)) {
    const credential = name.slice(0, -CA_SUFFIX.length);
    const ca = caOf(secrets.get(credential)) ?? caOf(secrets.get(name));
    return ca === undefined ? undefined : { name: requested, validationContext: { trustedCa: { inlineBytes: ca.toString('base64') } } } satisfies Secret;
  }
  const values = secretValues(secrets.get(name));
  for (const [certKey, keyKey] of CERTIFICATE_KEYS) {
    const chain = values.get(certKey);
    const key = values.get(keyKey);
    if (chain === undefined || key === undefined) continue;
    if (!certificateMatchesKey(chain, key)) return undefined;
    return { name: requested, tlsCertificate: { certificateChain: { inlineBytes: chain.toString('base64') }, privateKey: { inlineBytes: key.toString('base64') } } } satisfies Secret;
  }
  return undefined;
}

function caOf(secret: Resource<'Secret'> | undefined): Buffer | undefined {
  const values = secretValues(secret);
  for (const key of CA_KEYS) {
    const ca = values.get(key);
    if (ca !== undefined) return isCertificate(ca) ? ca : undefined;
  }
  return undefined;
}

/** The Secret's values by key, decoded: `data` is base64, `stringData` plain text and wins (the API server merges it over `data`). */
function secretValues(secret: Resource<'Secret'> | undefined): Map<string, Buffer> {
  const values = new Map<string, Buffer>();
  if (secret === undefined) return values;
  const { data, stringData } = secret.object;
  for (const [key, value] of Object.entries(data ?? {})) values.set(key, Buffer.from(value.replace(/[\r\n]/g, ''), 'base64'));
  for (const [key, value] of Object.entries(stringData ?? {})) values.set(key, Buffer.from(value, 'utf8'));
  for (const [key, value] of values) if (value.length === 0) values.delete(key);
  return values;
}

function isCertificate(pem: Buffer): boolean {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}

function certificateMatchesKey(chain: Buffer, key: Buffer): boolean {
  try {
    return new X509Certificate(chain).checkPrivateKey(createPrivateKey(key));
  } catch {
    return false;
  }
}
