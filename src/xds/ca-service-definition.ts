import type { deserialize, ServerMethodDefinition, ServiceDefinition, serialize } from '@grpc/grpc-js';
import { decodeMessage, encodeMessage } from './proto-json.ts';

/**
 * The gRPC service `istio.v1.auth.IstioCertificateService` (src/xds/proto/istio/ca.proto), built
 * by hand on the protobufjs types like the ADS definition. Messages travel as their proto3 JSON
 * form; the same definition serves the control plane's CA server and a proxy's client.
 */
export const CA_SERVICE_NAME = 'istio.v1.auth.IstioCertificateService';

export interface IstioCertificateRequest {
  /** PEM-encoded CSR. */
  readonly csr: string;
  /** Requested lifetime in seconds; 0 or absent asks for the CA's default. */
  readonly validityDuration?: number;
  readonly metadata?: { readonly [key: string]: unknown };
}

export interface IstioCertificateResponse {
  /** PEM-encoded: the leaf, its intermediates, then the root. */
  readonly certChain: readonly string[];
}

interface UnaryMethodDefinition<Request, Response> extends ServerMethodDefinition<Request, Response> {
  readonly requestSerialize: serialize<Request>;
  readonly responseDeserialize: deserialize<Response>;
}

const REQUEST = 'istio.v1.auth.IstioCertificateRequest';
const RESPONSE = 'istio.v1.auth.IstioCertificateResponse';

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function decodeRequest(bytes: Buffer): IstioCertificateRequest {
  const json = decodeMessage(REQUEST, bytes);
  return { csr: typeof json['csr'] === 'string' ? json['csr'] : '', validityDuration: Number(json['validityDuration'] ?? 0) };
}

function decodeResponse(bytes: Buffer): IstioCertificateResponse {
  const chain = decodeMessage(RESPONSE, bytes)['certChain'];
  return { certChain: Array.isArray(chain) ? chain.map(String) : [] };
}

const createCertificate: UnaryMethodDefinition<IstioCertificateRequest, IstioCertificateResponse> = {
  path: `/${CA_SERVICE_NAME}/CreateCertificate`,
  originalName: 'createCertificate',
  requestStream: false,
  responseStream: false,
  requestSerialize: (request) => toBuffer(encodeMessage(REQUEST, request)),
  requestDeserialize: decodeRequest,
  responseSerialize: (response) => toBuffer(encodeMessage(RESPONSE, { certChain: [...response.certChain] })),
  responseDeserialize: decodeResponse,
};

export const caServiceDefinition = {
  CreateCertificate: createCertificate,
} satisfies ServiceDefinition;
