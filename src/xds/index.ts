export { envoyProtos, messageType } from './envoy-protos.ts';
export { TypeUrl, TYPE_URL_PREFIX, TYPE_SHORT_NAME, TYPE_ORDER, typeNameOf, isTypeUrl } from './type-urls.ts';
export { encodeMessage, decodeMessage, packAny, assertValidMessage, toJson, ProtoJsonError, type ProtoJson } from './proto-json.ts';
export { ADS_SERVICE_NAME, adsServiceDefinition, type EncodedDeltaDiscoveryResponse, type EncodedDiscoveryResponse, type EncodedResource } from './ads-service-definition.ts';
export { CA_SERVICE_NAME, caServiceDefinition, type IstioCertificateRequest, type IstioCertificateResponse } from './ca-service-definition.ts';
