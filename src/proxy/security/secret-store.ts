import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { err, ok, type Result } from '../../core/index.ts';
import { TypeUrl, type ProtoJson } from '../../xds/index.ts';
import type { ResourceHandler, ResourceUpdate } from '../xds-client/resource-handler.ts';

/** A certificate and its key, PEM (Envoy's Secret `tlsCertificate`). */
export interface TlsCertificateSecret {
  readonly kind: 'tlsCertificate';
  /** The leaf first, then any intermediates. */
  readonly certificateChainPem: string;
  readonly privateKeyPem: string;
}

/** The CA peers must chain to, PEM (Envoy's Secret `validationContext.trustedCa`). */
export interface ValidationContextSecret {
  readonly kind: 'validationContext';
  readonly trustedCaPem: string;
}

export type SecretValue = TlsCertificateSecret | ValidationContextSecret;

/** What a TLS context reads: the secret of a name, and a number that changes whenever any secret does. */
export interface SecretLookup {
  readonly version: number;
  get(name: string): SecretValue | undefined;
}

/** A secret the proxy holds, for the config dump and `weft proxy-config secret`. */
export interface HeldSecret {
  readonly name: string;
  readonly value: SecretValue;
  /** `local`: the proxy's own workload certificate and the mesh root (Istio's agent serves these); `sds`: from the control plane. */
  readonly source: 'local' | 'sds';
  readonly version: string;
  /** Milliseconds since the epoch. */
  readonly lastUpdated: number;
}

/**
 * The secrets TLS contexts name, by name: the proxy's own (`default` and `ROOTCA`, kept up to date
 * by its workload certificate client, as Istio's agent serves them to Envoy) and those SDS brings
 * from the control plane (credentialName secrets). Names held locally are never asked of SDS.
 */
export class SecretStore implements SecretLookup {
  readonly #secrets = new Map<string, HeldSecret>();
  readonly #localNames: ReadonlySet<string>;
  readonly #references: (() => Iterable<string>)[] = [];
  readonly #now: () => number;
  #version = 0;

  /** The SDS handler for the ADS client. */
  readonly sds: ResourceHandler;

  constructor(options: { readonly localNames?: Iterable<string>; readonly now: () => number }) {
    this.#localNames = new Set(options.localNames ?? []);
    this.#now = options.now;
    this.sds = {
      typeUrl: TypeUrl.Secret,
      apply: (update) => this.#apply(update),
      dependencies: () => ({ typeUrl: TypeUrl.Secret, names: this.#wantedOverSds() }),
    };
  }

  get version(): number {
    return this.#version;
  }

  get(name: string): SecretValue | undefined {
    return this.#secrets.get(name)?.value;
  }

  list(): readonly HeldSecret[] {
    return [...this.#secrets.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Sets one of the proxy's own secrets. */
  setLocal(name: string, value: SecretValue, version: string): void {
    this.#secrets.set(name, { name, value, source: 'local', version, lastUpdated: this.#now() });
    this.#version++;
  }

  /** Adds a source of secret names in use (the clusters' and listeners' TLS contexts), read when the ADS client works out what to ask for. */
  addReferences(names: () => Iterable<string>): void {
    this.#references.push(names);
  }

  #wantedOverSds(): Set<string> {
    const wanted = new Set<string>();
    for (const names of this.#references) for (const name of names()) if (!this.#localNames.has(name)) wanted.add(name);
    return wanted;
  }

  #apply(update: ResourceUpdate): Result<void, string> {
    const parsed: HeldSecret[] = [];
    const problems: string[] = [];
    for (const [name, raw] of update.resources) {
      if (this.#localNames.has(name)) {
        problems.push(`secret "${name}": the proxy provides this secret itself`);
        continue;
      }
      const value = parseSecret(name, raw);
      if (value.ok) parsed.push({ name, value: value.value, source: 'sds', version: update.version, lastUpdated: this.#now() });
      else problems.push(`secret "${name}": ${value.error}`);
    }
    if (problems.length > 0) return err(problems.join('; '));
    for (const secret of parsed) this.#secrets.set(secret.name, secret);
    for (const name of update.removed) if (this.#secrets.get(name)?.source === 'sds') this.#secrets.delete(name);
    if (parsed.length > 0 || update.removed.length > 0) this.#version++;
    return ok(undefined);
  }
}

/**
 * Checks an Envoy Secret (`envoy.extensions.transport_sockets.tls.v3.Secret`) carrying a
 * tlsCertificate (chain and key that belong together) or a validationContext (trustedCa); data
 * inline (inlineBytes, inlineString) or in a file.
 */
export function parseSecret(name: string, raw: ProtoJson): Result<SecretValue, string> {
  if (raw['name'] !== name) return err(`name: "${String(raw['name'])}" differs from the resource name`);
  const kinds = ['tlsCertificate', 'validationContext', 'sessionTicketKeys', 'genericSecret'].filter((k) => raw[k] !== undefined);
  if (kinds.length !== 1) return err(kinds.length === 0 ? 'holds nothing: give tlsCertificate or validationContext' : `give one of ${kinds.join(', ')}`);
  if (raw['tlsCertificate'] !== undefined) {
    const certificate = raw['tlsCertificate'] as ProtoJson;
    const unknown = Object.keys(certificate).filter((k) => k !== 'certificateChain' && k !== 'privateKey');
    if (unknown.length > 0) return err(`tlsCertificate.${unknown[0]}: not supported (give certificateChain and privateKey)`);
    const chain = dataSource(certificate['certificateChain'], 'tlsCertificate.certificateChain');
    if (!chain.ok) return chain;
    const key = dataSource(certificate['privateKey'], 'tlsCertificate.privateKey');
    if (!key.ok) return key;
    try {
      const leaf = new X509Certificate(chain.value);
      if (!leaf.checkPrivateKey(createPrivateKey(key.value))) return err('tlsCertificate.privateKey: does not belong to the certificate');
    } catch (error) {
      return err(`tlsCertificate: not a PEM certificate and key: ${error instanceof Error ? error.message : String(error)}`);
    }
    return ok({ kind: 'tlsCertificate', certificateChainPem: chain.value, privateKeyPem: key.value });
  }
  if (raw['validationContext'] !== undefined) {
    const context = raw['validationContext'] as ProtoJson;
    const unknown = Object.keys(context).filter((k) => k !== 'trustedCa');
    if (unknown.length > 0) return err(`validationContext.${unknown[0]}: not supported in an SDS secret (give trustedCa; put SAN checks in the TLS context)`);
    const ca = dataSource(context['trustedCa'], 'validationContext.trustedCa');
    if (!ca.ok) return ca;
    try {
      new X509Certificate(ca.value);
    } catch (error) {
      return err(`validationContext.trustedCa: not a PEM certificate: ${error instanceof Error ? error.message : String(error)}`);
    }
    return ok({ kind: 'validationContext', trustedCaPem: ca.value });
  }
  return err(`${kinds[0]}: not supported`);
}

function dataSource(value: unknown, at: string): Result<string, string> {
  if (typeof value !== 'object' || value === null) return err(`${at}: required`);
  const source = value as ProtoJson;
  if (typeof source['inlineBytes'] === 'string') return ok(Buffer.from(source['inlineBytes'], 'base64').toString('utf8'));
  if (typeof source['inlineString'] === 'string') return ok(source['inlineString']);
  if (typeof source['filename'] === 'string') {
    try {
      return ok(readFileSync(source['filename'], 'utf8'));
    } catch (error) {
      return err(`${at}.filename: cannot read "${source['filename']}": ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }
  return err(`${at}: give inlineBytes, inlineString or filename`);
}

/** By resource object: xDS replaces a resource with a new object, so a found set never goes stale. */
const namesByResource = new WeakMap<object, ReadonlySet<string>>();

/**
 * The SDS secret names a resource's TLS contexts refer to, wherever they sit in it; worked out once
 * per resource object, since the ADS client asks after every update for every resource.
 */
export function sdsSecretNames(resource: object): ReadonlySet<string> {
  let names = namesByResource.get(resource);
  if (names === undefined) {
    const found = new Set<string>();
    collectSecretNames(resource, found);
    names = found;
    namesByResource.set(resource, names);
  }
  return names;
}

function collectSecretNames(config: unknown, into: Set<string>): void {
  if (Array.isArray(config)) {
    for (const item of config) collectSecretNames(item, into);
  } else if (typeof config === 'object' && config !== null) {
    for (const [key, value] of Object.entries(config)) {
      if (key === 'tlsCertificateSdsSecretConfigs' && Array.isArray(value)) {
        for (const entry of value) addName(entry, into);
      } else if (key === 'validationContextSdsSecretConfig') {
        addName(value, into);
      } else {
        collectSecretNames(value, into);
      }
    }
  }
}

function addName(entry: unknown, into: Set<string>): void {
  const name = typeof entry === 'object' && entry !== null ? (entry as { name?: unknown }).name : undefined;
  if (typeof name === 'string' && name !== '') into.add(name);
}
