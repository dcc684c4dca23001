import { adsServiceDefinition, messageType } from '../../xds/index.ts';
import type { DeltaDiscoveryRequest, DiscoveryRequest } from '../../xds/envoy/index.ts';

/**
 * The discovery responses as the client reads them off the wire: the envelope decoded, each
 * resource left as its `Any` bytes, so that one resource that does not decode is NACKed by name
 * instead of failing the whole stream (which is what decoding the response in one go would do).
 */
export interface RawAny {
  readonly typeUrl: string;
  readonly value: Uint8Array;
}

export interface RawDiscoveryResponse {
  readonly versionInfo: string;
  readonly typeUrl: string;
  readonly nonce: string;
  readonly resources: readonly RawAny[];
}

export interface RawDeltaResource {
  readonly name: string;
  readonly version: string;
  /** Absent for a resource that only refreshes its TTL. */
  readonly resource: RawAny | undefined;
}

export interface RawDeltaDiscoveryResponse {
  readonly systemVersionInfo: string;
  readonly typeUrl: string;
  readonly nonce: string;
  readonly resources: readonly RawDeltaResource[];
  readonly removedResources: readonly string[];
}

interface DecodedAny {
  readonly type_url?: string;
  readonly typeUrl?: string;
  readonly value?: Uint8Array;
}

/** protobufjs's built-in `google.protobuf.Any` keeps the proto field name `type_url`. */
function rawAny(any: DecodedAny): RawAny {
  return { typeUrl: any.type_url ?? any.typeUrl ?? '', value: any.value ?? new Uint8Array() };
}

const DISCOVERY_RESPONSE = 'envoy.service.discovery.v3.DiscoveryResponse';
const DELTA_DISCOVERY_RESPONSE = 'envoy.service.discovery.v3.DeltaDiscoveryResponse';

export function decodeRawResponse(bytes: Buffer): RawDiscoveryResponse {
  const message = messageType(DISCOVERY_RESPONSE).decode(bytes) as unknown as { versionInfo: string; typeUrl: string; nonce: string; resources: DecodedAny[] };
  return { versionInfo: message.versionInfo, typeUrl: message.typeUrl, nonce: message.nonce, resources: message.resources.map(rawAny) };
}

export function decodeRawDeltaResponse(bytes: Buffer): RawDeltaDiscoveryResponse {
  const message = messageType(DELTA_DISCOVERY_RESPONSE).decode(bytes) as unknown as {
    systemVersionInfo: string;
    typeUrl: string;
    nonce: string;
    resources: { name: string; version: string; resource?: DecodedAny | null }[];
    removedResources: string[];
  };
  return {
    systemVersionInfo: message.systemVersionInfo,
    typeUrl: message.typeUrl,
    nonce: message.nonce,
    resources: message.resources.map((r) => ({ name: r.name, version: r.version, resource: r.resource == null ? undefined : rawAny(r.resource) })),
    removedResources: [...message.removedResources],
  };
}

/** The two ADS methods, as `grpc.Client.makeBidiStreamRequest` takes them. */
export const SOTW_METHOD = {
  path: adsServiceDefinition.StreamAggregatedResources.path,
  serialize: adsServiceDefinition.StreamAggregatedResources.requestSerialize as (request: DiscoveryRequest) => Buffer,
  deserialize: decodeRawResponse,
};

export const DELTA_METHOD = {
  path: adsServiceDefinition.DeltaAggregatedResources.path,
  serialize: adsServiceDefinition.DeltaAggregatedResources.requestSerialize as (request: DeltaDiscoveryRequest) => Buffer,
  deserialize: decodeRawDeltaResponse,
};
