import type { deserialize, ServerMethodDefinition, ServiceDefinition, serialize } from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { messageType } from './envoy-protos.ts';
import { encodeMessage, toJson, type ProtoJson } from './proto-json.ts';
import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse } from './envoy/index.ts';

/**
 * The gRPC service `envoy.service.discovery.v3.AggregatedDiscoveryService`, built by hand on the
 * protobufjs types so that no proto-loader step is needed. Requests travel as their JSON form
 * (`DiscoveryRequest`); the server writes responses whose resources are already encoded
 * (`EncodedDiscoveryResponse`), because it hashes those bytes anyway, and a client reads them back
 * in JSON form (`DiscoveryResponse`). The same definition serves a server and a client.
 */
export const ADS_SERVICE_NAME = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

/** One resource, encoded, with the version that identifies its bytes. */
export interface EncodedResource {
  readonly name: string;
  readonly version: string;
  readonly typeUrl: string;
  readonly bytes: Uint8Array;
}

export interface EncodedDiscoveryResponse {
  readonly versionInfo: string;
  readonly typeUrl: string;
  readonly nonce: string;
  readonly resources: readonly EncodedResource[];
}

export interface EncodedDeltaDiscoveryResponse {
  readonly systemVersionInfo: string;
  readonly typeUrl: string;
  readonly nonce: string;
  readonly resources: readonly EncodedResource[];
  readonly removedResources: readonly string[];
}

/** A bidi method whose server writes `Written` and whose client reads `Read`. */
interface AdsMethodDefinition<Request, Written, Read> extends ServerMethodDefinition<Request, Written> {
  readonly requestSerialize: serialize<Request>;
  readonly responseDeserialize: deserialize<Read>;
}

const DISCOVERY_REQUEST = 'envoy.service.discovery.v3.DiscoveryRequest';
const DISCOVERY_RESPONSE = 'envoy.service.discovery.v3.DiscoveryResponse';
const DELTA_DISCOVERY_REQUEST = 'envoy.service.discovery.v3.DeltaDiscoveryRequest';
const DELTA_DISCOVERY_RESPONSE = 'envoy.service.discovery.v3.DeltaDiscoveryResponse';

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Decodes a request into its JSON form. The `details` of a NACK's status are dropped: they are
 * `Any`s of types a client chooses, which the server neither needs nor may know.
 */
function decodeRequest<T>(typeName: string, bytes: Buffer): T {
  const type = messageType(typeName);
  const message = type.decode(bytes) as protobuf.Message & { errorDetail?: { details?: unknown[] } };
  if (message.errorDetail != null) message.errorDetail.details = [];
  return toJson(type, message) as T;
}

function decodeResponse<T>(typeName: string, bytes: Buffer): T {
  const type = messageType(typeName);
  return toJson(type, type.decode(bytes)) as T;
}

/** protobufjs's own `google.protobuf.Any` keeps the proto field name `type_url`. */
function packed(resource: EncodedResource): { type_url: string; value: Uint8Array } {
  return { type_url: resource.typeUrl, value: resource.bytes };
}

function encodeResponse(response: EncodedDiscoveryResponse): Buffer {
  const type = messageType(DISCOVERY_RESPONSE);
  const message = type.fromObject({ versionInfo: response.versionInfo, typeUrl: response.typeUrl, nonce: response.nonce, resources: response.resources.map(packed) });
  return toBuffer(type.encode(message).finish());
}

function encodeDeltaResponse(response: EncodedDeltaDiscoveryResponse): Buffer {
  const type = messageType(DELTA_DISCOVERY_RESPONSE);
  const message = type.fromObject({
    systemVersionInfo: response.systemVersionInfo,
    typeUrl: response.typeUrl,
    nonce: response.nonce,
    resources: response.resources.map((r) => ({ name: r.name, version: r.version, resource: packed(r) })),
    removedResources: [...response.removedResources],
  });
  return toBuffer(type.encode(message).finish());
}

const streamAggregatedResources: AdsMethodDefinition<DiscoveryRequest, EncodedDiscoveryResponse, DiscoveryResponse> = {
  path: `/${ADS_SERVICE_NAME}/StreamAggregatedResources`,
  originalName: 'streamAggregatedResources',
  requestStream: true,
  responseStream: true,
  requestSerialize: (request) => toBuffer(encodeMessage(DISCOVERY_REQUEST, request as ProtoJson)),
  requestDeserialize: (bytes) => decodeRequest<DiscoveryRequest>(DISCOVERY_REQUEST, bytes),
  responseSerialize: encodeResponse,
  responseDeserialize: (bytes) => decodeResponse<DiscoveryResponse>(DISCOVERY_RESPONSE, bytes),
};

const deltaAggregatedResources: AdsMethodDefinition<DeltaDiscoveryRequest, EncodedDeltaDiscoveryResponse, DeltaDiscoveryResponse> = {
  path: `/${ADS_SERVICE_NAME}/DeltaAggregatedResources`,
  originalName: 'deltaAggregatedResources',
  requestStream: true,
  responseStream: true,
  requestSerialize: (request) => toBuffer(encodeMessage(DELTA_DISCOVERY_REQUEST, request as ProtoJson)),
  requestDeserialize: (bytes) => decodeRequest<DeltaDiscoveryRequest>(DELTA_DISCOVERY_REQUEST, bytes),
  responseSerialize: encodeDeltaResponse,
  responseDeserialize: (bytes) => decodeResponse<DeltaDiscoveryResponse>(DELTA_DISCOVERY_RESPONSE, bytes),
};

export const adsServiceDefinition = {
  StreamAggregatedResources: streamAggregatedResources,
  DeltaAggregatedResources: deltaAggregatedResources,
} satisfies ServiceDefinition;
