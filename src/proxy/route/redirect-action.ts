import type { RedirectAction, RedirectResponseCode } from '../../xds/envoy/index.ts';
import type { RequestHead } from '../http/request-head.ts';
import { rewritePrefix, rewriteRegex } from './forward-action.ts';
import type { Problems } from './problems.ts';
import type { RouteAction } from './route-entry.ts';
import type { CompiledRouteMatch } from './route-match.ts';
import { compileRegexRewrite, type RegexRewrite } from './safe-regex.ts';

type Redirect = Extract<RouteAction, { kind: 'redirect' }>;

const STATUS: Readonly<Record<RedirectResponseCode, number>> = {
  MOVED_PERMANENTLY: 301,
  FOUND: 302,
  SEE_OTHER: 303,
  TEMPORARY_REDIRECT: 307,
  PERMANENT_REDIRECT: 308,
};

const HEADER_VALUE = /^[^\0\r\n]*$/;

/**
 * A route's `redirect`, building the Location as Envoy does: the scheme (schemeRedirect,
 * httpsRedirect, else the request's), the host (hostRedirect, else the request's Host, whose port
 * is dropped when portRedirect replaces it or when the scheme changes and the port was the old
 * scheme's default), the port, and the path (pathRedirect keeping the request's query unless it
 * has its own; or the request's path after prefixRewrite / regexRewrite), without the query when
 * stripQuery.
 */
export function compileRedirectAction(redirect: RedirectAction, match: CompiledRouteMatch, at: string, problems: Problems): Redirect | undefined {
  const before = problems.count;
  const schemeRedirect = nonEmpty(redirect.schemeRedirect);
  if (schemeRedirect !== undefined && redirect.httpsRedirect === true) problems.add(at, 'sets schemeRedirect and httpsRedirect; only one may be set');
  const pathRedirect = nonEmpty(redirect.pathRedirect);
  const prefixRewrite = nonEmpty(redirect.prefixRewrite);
  const paths = [pathRedirect !== undefined && 'pathRedirect', prefixRewrite !== undefined && 'prefixRewrite', redirect.regexRewrite !== undefined && 'regexRewrite'].filter((p) => p !== false);
  if (paths.length > 1) problems.add(at, `sets ${paths.join(' and ')}; only one may be set`);
  const hostRedirect = nonEmpty(redirect.hostRedirect);
  if (hostRedirect !== undefined && !HEADER_VALUE.test(hostRedirect)) problems.add(`${at}.hostRedirect`, 'must not contain NUL, CR or LF');
  if (pathRedirect !== undefined && !HEADER_VALUE.test(pathRedirect)) problems.add(`${at}.pathRedirect`, 'must not contain NUL, CR or LF');
  let regexRewrite: RegexRewrite | undefined;
  if (redirect.regexRewrite !== undefined) {
    const compiled = compileRegexRewrite(redirect.regexRewrite.pattern?.regex ?? '', redirect.regexRewrite.substitution ?? '');
    if (!compiled.ok) problems.add(`${at}.regexRewrite.${compiled.error.field === 'pattern' ? 'pattern.regex' : 'substitution'}`, compiled.error.message);
    else regexRewrite = compiled.value;
  }
  const status = STATUS[redirect.responseCode ?? 'MOVED_PERMANENTLY'];
  if (status === undefined) problems.add(`${at}.responseCode`, `"${redirect.responseCode}" is not one of ${Object.keys(STATUS).join(', ')}`);
  if (problems.count > before || status === undefined) return undefined;

  const scheme = schemeRedirect ?? (redirect.httpsRedirect === true ? 'https' : undefined);
  const port = redirect.portRedirect !== undefined && redirect.portRedirect !== 0 ? `:${redirect.portRedirect}` : '';
  const pathRedirectHasQuery = pathRedirect?.includes('?') === true;
  const stripQuery = redirect.stripQuery === true;
  return {
    kind: 'redirect',
    redirect(head: RequestHead) {
      let path = head.path;
      if (prefixRewrite !== undefined) path = rewritePrefix(path, match.rewriteSpan, prefixRewrite);
      else if (regexRewrite !== undefined) path = rewriteRegex(path, regexRewrite);
      const finalScheme = scheme ?? head.scheme;
      const host = hostRedirect ?? requestHost(head.authority, head.scheme, finalScheme, port);
      if (pathRedirect !== undefined) {
        const q = path.indexOf('?');
        path = pathRedirectHasQuery || q < 0 ? pathRedirect : pathRedirect + path.slice(q);
      }
      if (!path.startsWith('/')) path = `/${path}`;
      if (stripQuery && !pathRedirectHasQuery) {
        const q = path.indexOf('?');
        if (q >= 0) path = path.slice(0, q);
      }
      return { status, location: `${finalScheme}://${host}${port}${path}` };
    },
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** The request's Host for a Location, without its port when a new port replaces it or the scheme changes away from the port's default. */
function requestHost(authority: string, requestScheme: string, scheme: string, newPort: string): string {
  if (authority === '') return authority;
  let end: number;
  if (authority.startsWith('[')) {
    end = authority.lastIndexOf(']:');
    if (end >= 0) end += 1;
  } else {
    end = authority.lastIndexOf(':');
  }
  if (end < 0) return authority;
  const requestPort = authority.slice(end);
  const drop = newPort !== ''
    || (scheme !== requestScheme && ((requestScheme === 'https' && requestPort === ':443') || (requestScheme === 'http' && requestPort === ':80')));
  return drop ? authority.slice(0, end) : authority;
}
