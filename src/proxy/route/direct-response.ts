import type { DirectResponseAction } from '../../xds/envoy/index.ts';
import type { Problems } from './problems.ts';
import type { RouteAction } from './route-entry.ts';

/** Envoy's limit on a direct response body when the route configuration sets none. */
export const DEFAULT_MAX_DIRECT_RESPONSE_BODY_BYTES = 4096;

type Direct = Extract<RouteAction, { kind: 'direct' }>;

/**
 * A route's `directResponse`: a status in 200..599 and an optional body, inline only (Weft reads
 * no files or environment variables for route bodies), at most `maxBodyBytes` long. Bytes are
 * decoded as UTF-8.
 */
export function compileDirectResponse(response: DirectResponseAction, maxBodyBytes: number, at: string, problems: Problems): Direct | undefined {
  const status = response.status;
  if (status === undefined || !Number.isInteger(status) || status < 200 || status > 599) {
    problems.add(`${at}.status`, `must be an HTTP status from 200 to 599${status === undefined ? '' : `, not ${status}`}`);
    return undefined;
  }
  const source = response.body;
  if (source === undefined) return { kind: 'direct', status };
  let bytes: Buffer;
  if (source.inlineString !== undefined) bytes = Buffer.from(source.inlineString, 'utf8');
  else if (source.inlineBytes !== undefined) bytes = Buffer.from(source.inlineBytes, 'base64');
  else {
    const kind = source.filename !== undefined ? 'filename' : source.environmentVariable !== undefined ? 'environmentVariable' : undefined;
    problems.add(kind === undefined ? `${at}.body` : `${at}.body.${kind}`, 'Weft takes a direct response body only inline (inlineString or inlineBytes)');
    return undefined;
  }
  if (bytes.length > maxBodyBytes) {
    problems.add(`${at}.body`, `is ${bytes.length} bytes, more than the route configuration's maxDirectResponseBodySizeBytes (${maxBodyBytes})`);
    return undefined;
  }
  return { kind: 'direct', status, body: bytes.toString('utf8') };
}
