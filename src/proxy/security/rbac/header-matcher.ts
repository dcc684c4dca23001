import type { HeaderMatcher } from '../../../xds/envoy/index.ts';
import type { Problems } from '../../route/problems.ts';
import { compileHeaderMatcher, type RequestView } from '../../route/route-match.ts';
import { bool, checkFields, fieldPath, message, string } from './raw-json.ts';

const SPECIFIERS = ['exactMatch', 'safeRegexMatch', 'rangeMatch', 'presentMatch', 'prefixMatch', 'suffixMatch', 'containsMatch', 'stringMatch'] as const;
const FIELDS = ['name', ...SPECIFIERS, 'invertMatch', 'treatMissingHeaderAsEmpty'];
const TEXT_SPECIFIERS = ['exactMatch', 'prefixMatch', 'suffixMatch', 'containsMatch'] as const;

/**
 * An `envoy.config.route.v3.HeaderMatcher` as Envoy's RBAC applies it to a request, with the
 * same rules as route matching (route-match.ts compiles it): the header's values joined with ',',
 * pseudo-headers (`:path` with its query, `:method`, `:authority`) from the request line. RBAC
 * config arrives as raw JSON, so its fields and their types are checked here first.
 */
export function parseHeaderMatcher(raw: unknown, at: string, problems: Problems): ((view: RequestView) => boolean) | undefined {
  const matcher = message(raw, 'HeaderMatcher', at, problems);
  if (matcher === undefined) return undefined;
  const before = problems.count;
  checkFields(matcher, FIELDS, 'HeaderMatcher', at, problems);
  const name = matcher['name'] === undefined ? '' : string(matcher['name'], fieldPath(at, 'name'), problems) ?? '';
  if (name === '') problems.add(fieldPath(at, 'name'), 'is required (the header to match)');
  for (const field of ['invertMatch', 'treatMissingHeaderAsEmpty', 'presentMatch'] as const) {
    if (matcher[field] !== undefined) bool(matcher[field], fieldPath(at, field), problems);
  }
  for (const field of TEXT_SPECIFIERS) if (matcher[field] !== undefined) string(matcher[field], fieldPath(at, field), problems);
  for (const field of ['safeRegexMatch', 'rangeMatch', 'stringMatch'] as const) {
    if (matcher[field] !== undefined) message(matcher[field], field, fieldPath(at, field), problems);
  }
  if (problems.count > before) return undefined;
  const test = compileHeaderMatcher(matcher as unknown as HeaderMatcher, at, problems);
  if (test === undefined || problems.count > before) return undefined;
  return (view) => test(view, 0);
}
