import type { CidrRange, HeaderMatcher, StringMatcher } from '../../../xds/envoy/index.ts';

/**
 * Istio's string rules for AuthorizationPolicy values, as Envoy matchers (pilot/pkg/security/authz/
 * matcher): `abc` exact, `abc*` prefix, `*abc` suffix, `*` any non-empty value.
 */

/** `*` matches a non-empty value: Envoy refuses an empty prefix or suffix. */
const NON_EMPTY: StringMatcher = { safeRegex: { regex: '.+' } };

/**
 * The matcher for `value`, with `prefix` (such as `spiffe://`) before what the user wrote; a
 * suffix match with a prefix becomes a regex, since both ends are then fixed.
 */
export function stringMatcher(value: string, prefix = ''): StringMatcher {
  if (value === '*') return NON_EMPTY;
  if (value.startsWith('*')) {
    const suffix = value.slice(1);
    return prefix === '' ? { suffix } : { safeRegex: { regex: `${quoteMeta(prefix)}.*${quoteMeta(suffix)}` } };
  }
  if (value.endsWith('*')) return { prefix: prefix + value.slice(0, -1) };
  return { exact: prefix + value };
}

/** A header (`:method`, `request.headers[x-user]`) by Istio's rules; `*` means the header is present. */
export function headerMatcher(name: string, value: string): HeaderMatcher {
  if (value === '*') return { name, presentMatch: true };
  if (value.startsWith('*')) return { name, stringMatch: { suffix: value.slice(1) } };
  if (value.endsWith('*')) return { name, stringMatch: { prefix: value.slice(0, -1) } };
  return { name, stringMatch: { exact: value } };
}

/**
 * `:authority` by a `hosts` value, ignoring case, with or without a port: `example.com` also
 * matches `example.com:8080`, so a DENY on a host cannot be stepped around by adding the port
 * (Istio matches the header as received and asks authors to list both forms).
 */
export function hostMatchers(value: string): HeaderMatcher[] {
  const name = ':authority';
  if (value === '*') return [{ name, presentMatch: true }];
  if (value.endsWith('*')) return [{ name, stringMatch: { prefix: value.slice(0, -1), ignoreCase: true } }];
  if (value.startsWith('*')) {
    const suffix = value.slice(1);
    return [
      { name, stringMatch: { suffix, ignoreCase: true } },
      { name, stringMatch: { safeRegex: { regex: `(?i).*${quoteMeta(suffix)}:[0-9]+` } } },
    ];
  }
  return [
    { name, stringMatch: { exact: value, ignoreCase: true } },
    { name, stringMatch: { safeRegex: { regex: `(?i)${quoteMeta(value)}:[0-9]+` } } },
  ];
}

/** The characters of one path segment (RFC 3986 pchar), as Envoy's URI templates take them; '-' last, as a literal. */
const SEGMENT = "[A-Za-z0-9._~%!$&'()+,;:@=-]";
const SEGMENTS = "[A-Za-z0-9._~%!$&'()+,;:@=/-]";

/**
 * A `paths` value: Istio's string rules, or a template where `{*}` is one path segment and `{**}`
 * any number of them (Envoy's URI template semantics), as a regex over the whole path.
 */
export function pathMatcher(path: string): StringMatcher {
  if (!path.includes('{*}') && !path.includes('{**}')) return stringMatcher(path);
  const regex = path
    .split('/')
    .map((segment) => (segment === '{*}' ? `${SEGMENT}+` : segment === '{**}' ? `${SEGMENTS}*` : quoteMeta(segment)))
    .join('/');
  return { safeRegex: { regex } };
}

/** An address or a CIDR block as written (`10.0.0.1`, `10.0.0.0/16`, `::1`). */
export function cidrRange(value: string): CidrRange {
  const slash = value.indexOf('/');
  if (slash >= 0) return { addressPrefix: value.slice(0, slash), prefixLen: Number(value.slice(slash + 1)) };
  return { addressPrefix: value, prefixLen: value.includes(':') ? 128 : 32 };
}

/** `text` as an RE2 literal. */
export function quoteMeta(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
}
