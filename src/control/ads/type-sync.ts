import { decodeMessage, TYPE_SHORT_NAME, typeNameOf, type EncodedResource, type TypeUrl } from '../../xds/index.ts';
import type { RpcStatus } from '../../xds/envoy/index.ts';
import type { NackRecord, SentRecord, SentResource, SyncState, TypeStatus } from './proxy-status.ts';

/** How a request answered the last response of its type. */
export type Reply = { readonly kind: 'ack' } | { readonly kind: 'nack'; readonly nack: NackRecord } | { readonly kind: 'stale' };

/** What a stream knows of one type, apart from its subscription: what it sent, and how the proxy answered. */
export class TypeSync {
  #lastSent: SentRecord | undefined;
  #lastSentHash: string | undefined;
  #ackedVersion: string | undefined;
  #ackedNonce: string | undefined;
  #lastNack: NackRecord | undefined;
  #rejectedHash: string | undefined;
  #resources: readonly EncodedResource[] = [];

  get lastSent(): SentRecord | undefined {
    return this.#lastSent;
  }

  /** The hash of the resource set last sent. */
  get lastSentHash(): string | undefined {
    return this.#lastSentHash;
  }

  /** The hash of the resource set the proxy refused last, while nothing else has been sent since. */
  get rejectedHash(): string | undefined {
    return this.#rejectedHash;
  }

  /**
   * The complete set the proxy was last given (for Delta too, not only what changed), decoded from
   * the bytes sent: streams keep only those, often shared with other streams.
   */
  get resources(): readonly SentResource[] {
    return this.#resources.map((r) => ({ name: r.name, version: r.version, resource: decodeMessage(typeNameOf(r.typeUrl), r.bytes) }));
  }

  sent(record: SentRecord, hash: string, resources: readonly EncodedResource[]): void {
    if (hash !== this.#rejectedHash) this.#rejectedHash = undefined;
    this.#lastSent = record;
    this.#lastSentHash = hash;
    this.#resources = resources;
  }

  /**
   * Records the answer carried by a request with `nonce`. Only the last response can be answered:
   * a request naming an older nonce was overtaken by a later response and is stale.
   */
  reply(nonce: string, errorDetail: RpcStatus | undefined, time: number): Reply {
    const lastSent = this.#lastSent;
    if (lastSent === undefined || nonce !== lastSent.nonce) return { kind: 'stale' };
    if (errorDetail === undefined) {
      this.#ackedVersion = lastSent.version;
      this.#ackedNonce = nonce;
      return { kind: 'ack' };
    }
    const nack: NackRecord = { nonce, version: lastSent.version, message: errorDetail.message ?? `error code ${errorDetail.code ?? 0}`, time };
    this.#lastNack = nack;
    this.#rejectedHash = this.#lastSentHash;
    return { kind: 'nack', nack };
  }

  state(): SyncState {
    const lastSent = this.#lastSent;
    if (lastSent === undefined) return 'NOT SENT';
    if (this.#ackedNonce === lastSent.nonce) return 'SYNCED';
    if (this.#lastNack?.nonce === lastSent.nonce) return 'ERROR';
    return 'STALE';
  }

  status(typeUrl: TypeUrl, subscription: { readonly wildcard: boolean; readonly subscribed: readonly string[]; readonly notFound: readonly string[] }): TypeStatus {
    return {
      typeUrl,
      type: TYPE_SHORT_NAME[typeUrl],
      ...subscription,
      ...(this.#lastSent === undefined ? {} : { lastSent: this.#lastSent }),
      ...(this.#ackedVersion === undefined ? {} : { ackedVersion: this.#ackedVersion }),
      ...(this.#ackedNonce === undefined ? {} : { ackedNonce: this.#ackedNonce }),
      ...(this.#lastNack === undefined ? {} : { lastNack: this.#lastNack }),
      state: this.state(),
    };
  }
}
