import type { Problems } from '../../route/problems.ts';
import type { RequestView } from '../../route/route-match.ts';
import { compileSafeRegex } from '../../route/safe-regex.ts';
import { bool, checkFields, fieldPath, integer, message, string } from './raw-json.ts';
import { parseStringMatcher, regexPattern } from './string-matcher.ts';

const SPECIFIERS = ['exactMatch', 'safeRegexMatch', 'rangeMatch', 'presentMatch', 'prefixMatch', 'suffixMatch', 'containsMatch', 'stringMatch'] as const;
const FIELDS = ['name', ...SPECIFIERS, 'invertMatch', 'treatMissingHeaderAsEmpty'];
/** int64 as JSON numbers can carry it exactly. */
const INT53 = Number.MAX_SAFE_INTEGER;

/**
 * An `envoy.config.route.v3.HeaderMatcher` as Envoy's RBAC applies it to a request: the header's
 * values joined with ',', pseudo-headers (`:path` with its query, `:method`, `:authority`) from the
 * request line. A missing header matches only a presence test expecting it absent (or, inverted,
 * present), unless treatMissingHeaderAsEmpty makes it ''; no specifier means "present". The same
 * rules as route matching, which keeps its compiler private to route tables.
 */
export function parseHeaderMatcher(raw: unknown, at: string, problems: Problems): ((view: RequestView) => boolean) | undefined {
  const matcher = message(raw, 'HeaderMatcher', at, problems);
  if (matcher === undefined) return undefined;
  const before = problems.count;
  checkFields(matcher, FIELDS, 'HeaderMatcher', at, problems);
  const name = matcher['name'] === undefined ? '' : string(matcher['name'], fieldPath(at, 'name'), problems) ?? '';
  if (name === '') problems.add(fieldPath(at, 'name'), 'is required (the header to match)');
  const key = name.toLowerCase();
  const set = SPECIFIERS.filter((k) => matcher[k] !== undefined);
  if (set.length > 1) problems.add(at, `sets ${set.join(' and ')}; only one may be set`);
  const invert = matcher['invertMatch'] === undefined ? false : bool(matcher['invertMatch'], fieldPath(at, 'invertMatch'), problems) ?? false;
  const missingAsEmpty = matcher['treatMissingHeaderAsEmpty'] === undefined
    ? false
    : bool(matcher['treatMissingHeaderAsEmpty'], fieldPath(at, 'treatMissingHeaderAsEmpty'), problems) ?? false;
  const specifier = set.length > 1 ? undefined : set[0] ?? 'presentMatch';
  if (specifier === 'presentMatch') {
    const wanted = matcher['presentMatch'] === undefined ? true : bool(matcher['presentMatch'], fieldPath(at, 'presentMatch'), problems);
    if (problems.count > before || wanted === undefined) return undefined;
    return (view) => ((view.header(key) !== undefined) === wanted) !== invert;
  }
  const test = specifier === undefined ? undefined : valueTest(specifier, matcher[specifier], fieldPath(at, specifier), problems);
  if (problems.count > before || test === undefined) return undefined;
  return (view) => {
    const value = view.header(key);
    if (value === undefined && !missingAsEmpty) return false;
    return test(value ?? '') !== invert;
  };
}

function valueTest(specifier: Exclude<(typeof SPECIFIERS)[number], 'presentMatch'>, raw: unknown, at: string, problems: Problems): ((value: string) => boolean) | undefined {
  switch (specifier) {
    case 'stringMatch': return parseStringMatcher(raw, at, problems);
    case 'rangeMatch': return rangeTest(raw, at, problems);
    case 'safeRegexMatch': {
      const pattern = regexPattern(raw, at, problems);
      if (pattern === undefined) return undefined;
      const regex = compileSafeRegex(pattern);
      if (!regex.ok) {
        problems.add(fieldPath(at, 'regex'), regex.error);
        return undefined;
      }
      return (value) => regex.value.testExact(value);
    }
    case 'exactMatch': {
      const exact = string(raw, at, problems);
      if (exact === undefined) return undefined;
      // Envoy's deprecated exact match: an empty value stands for any value.
      return exact === '' ? () => true : (value) => value === exact;
    }
    case 'prefixMatch':
    case 'suffixMatch':
    case 'containsMatch': {
      const part = string(raw, at, problems);
      if (part === undefined) return undefined;
      if (part === '') {
        problems.add(at, 'must not be empty');
        return undefined;
      }
      if (specifier === 'prefixMatch') return (value) => value.startsWith(part);
      if (specifier === 'suffixMatch') return (value) => value.endsWith(part);
      return (value) => value.includes(part);
    }
  }
}

/** `[start, end)` over a header value that is a whole decimal number (`envoy.type.v3.Int64Range`). */
function rangeTest(raw: unknown, at: string, problems: Problems): ((value: string) => boolean) | undefined {
  const range = message(raw, 'Int64Range', at, problems);
  if (range === undefined) return undefined;
  checkFields(range, ['start', 'end'], 'Int64Range', at, problems);
  const start = integer(range['start'] ?? 0, -INT53, INT53, fieldPath(at, 'start'), problems);
  const end = integer(range['end'] ?? 0, -INT53, INT53, fieldPath(at, 'end'), problems);
  if (start === undefined || end === undefined) return undefined;
  const low = BigInt(start);
  const high = BigInt(end);
  return (value) => {
    if (!/^[+-]?\d+$/.test(value)) return false;
    const n = BigInt(value);
    return n >= low && n < high;
  };
}
