/**
 * The connection manager's path transformations, in Envoy's order: the escaped-slash action
 * first, then RFC 3986 normalization (`normalizePath`), then `mergeSlashes`. The query string is
 * left alone.
 */

export type EscapedSlashesAction = 'KEEP_UNCHANGED' | 'REJECT_REQUEST' | 'UNESCAPE_AND_REDIRECT' | 'UNESCAPE_AND_FORWARD';

export interface PathNormalization {
  readonly normalizePath: boolean;
  readonly mergeSlashes: boolean;
  readonly escapedSlashes: EscapedSlashesAction;
}

export type NormalizedPath =
  | { readonly kind: 'ok'; readonly path: string }
  /** 400: the path is malformed, or has escaped slashes that the config rejects. */
  | { readonly kind: 'reject' }
  /** Envoy's UNESCAPE_AND_REDIRECT: the client is sent to the path with its slashes unescaped. */
  | { readonly kind: 'redirect'; readonly path: string };

const ESCAPED_SLASH = /%(?:2f|5c)/i;
const ESCAPED_SLASHES = /%(?:2f|5c)/gi;
const PERCENT = /%([0-9a-fA-F]{2})/g;
const BAD_PERCENT = /%(?![0-9a-fA-F]{2})/;
const UNRESERVED = /[A-Za-z0-9\-._~]/;
const SLASHES = /\/{2,}/g;

export function normalizeRequestPath(path: string, options: PathNormalization): NormalizedPath {
  const queryAt = path.indexOf('?');
  let pathPart = queryAt < 0 ? path : path.slice(0, queryAt);
  const query = queryAt < 0 ? '' : path.slice(queryAt);
  let unescaped = false;
  if (options.escapedSlashes !== 'KEEP_UNCHANGED' && ESCAPED_SLASH.test(pathPart)) {
    if (options.escapedSlashes === 'REJECT_REQUEST') return { kind: 'reject' };
    pathPart = pathPart.replace(ESCAPED_SLASHES, (escape) => (escape[2] === '5' ? '\\' : '/'));
    unescaped = true;
  }
  if (options.normalizePath) {
    const canonical = canonicalPath(pathPart);
    if (canonical === undefined) return { kind: 'reject' };
    pathPart = canonical;
  }
  if (options.mergeSlashes) pathPart = pathPart.replace(SLASHES, '/');
  if (unescaped && options.escapedSlashes === 'UNESCAPE_AND_REDIRECT') return { kind: 'redirect', path: pathPart + query };
  return { kind: 'ok', path: pathPart + query };
}

/**
 * RFC 3986 §6.2.2 without case normalization of the path itself: percent-encodings of unreserved
 * characters decoded and the others upper-cased, backslashes taken as slashes (as browsers and
 * Envoy do), and `.` / `..` segments removed. Undefined for a path that is not absolute or has
 * a broken percent-encoding.
 */
export function canonicalPath(path: string): string | undefined {
  if (path.charCodeAt(0) !== 47 /* '/' */ || BAD_PERCENT.test(path)) return undefined;
  const decoded = path.indexOf('%') < 0 ? path : path.replace(PERCENT, (escape, hex: string) => {
    const char = String.fromCharCode(Number.parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : escape.toUpperCase();
  });
  const slashed = decoded.indexOf('\\') < 0 ? decoded : decoded.replaceAll('\\', '/');
  if (slashed.indexOf('/.') < 0) return slashed;
  return removeDotSegments(slashed);
}

/** RFC 3986 §5.2.4 for an absolute path. */
function removeDotSegments(path: string): string {
  const segments = path.split('/');
  const out: string[] = [];
  const last = segments.length - 1;
  // segments[0] is the empty string before the leading slash.
  for (let i = 1; i <= last; i++) {
    const segment = segments[i]!;
    if (segment === '.') {
      if (i === last) out.push('');
    } else if (segment === '..') {
      out.pop();
      if (i === last) out.push('');
    } else {
      out.push(segment);
    }
  }
  return `/${out.join('/')}`;
}
