/**
 * Why a JWT did or did not verify, with the message Envoy's jwt_verify_lib gives each status: it
 * is the body of the 401 (or 403) and, spaces made underscores, the response code details.
 */
export const JWT_STATUS_MESSAGES = {
  ok: 'OK',
  missing: 'Jwt is missing',
  notYetValid: 'Jwt not yet valid',
  expired: 'Jwt is expired',
  badFormat: 'Jwt is not in the form of Header.Payload.Signature',
  headerParseError: 'Jwt header is an invalid Base64url input or an invalid JSON',
  headerBadAlg: 'Jwt header [alg] field is not a string',
  headerNotImplementedAlg: 'Jwt header [alg] field value is invalid',
  headerBadKid: 'Jwt header [kid] field is not a string',
  payloadParseError: 'Jwt payload is an invalid Base64 or an invalid JSON',
  signatureParseError: 'Jwt signature is an invalid Base64',
  unknownIssuer: 'Jwt issuer is not configured',
  audienceNotAllowed: 'Audiences in Jwt are not allowed',
  verificationFail: 'Jwt verification fails',
  jwksParseError: 'Jwks is an invalid JSON',
  jwksNoKeys: 'Jwks does not have [keys] field',
  jwksBadKeys: '[keys] in Jwks is not an array',
  jwksNoValidKeys: 'Jwks doesn\'t have any valid public key',
  jwksKidAlgMismatch: 'Jwks doesn\'t have key to match kid or alg from Jwt',
  jwksFetchFail: 'Jwks remote fetch is failed',
} as const;

export type JwtStatus = keyof typeof JWT_STATUS_MESSAGES;
