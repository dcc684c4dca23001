import type { StringMatcher } from '../../../xds/envoy/index.ts';
import type { Problems } from '../../route/problems.ts';
import { compileStringMatcher } from '../../route/route-match.ts';
import { bool, checkFields, fieldPath, message, string } from './raw-json.ts';

const FIELDS = ['exact', 'prefix', 'suffix', 'contains', 'safeRegex', 'ignoreCase'] as const;
/** `googleRe2` is RegexMatcher's deprecated engine marker: RE2 is the only engine, so it changes nothing. */
const REGEX_FIELDS = ['regex', 'googleRe2'];

/** A RegexMatcher's pattern, checked for shape (the caller compiles it). */
export function regexPattern(raw: unknown, at: string, problems: Problems): string | undefined {
  const regex = message(raw, 'RegexMatcher', at, problems);
  if (regex === undefined) return undefined;
  checkFields(regex, REGEX_FIELDS, 'RegexMatcher', at, problems);
  return string(regex['regex'] ?? '', fieldPath(at, 'regex'), problems);
}

/**
 * An `envoy.type.matcher.v3.StringMatcher` in JSON form: its fields' types are checked here, then
 * it compiles as routes compile theirs (one of exact, prefix, suffix, contains, safeRegex;
 * `ignoreCase` folds case, and is refused with safeRegex).
 */
export function parseStringMatcher(raw: unknown, at: string, problems: Problems): ((value: string) => boolean) | undefined {
  const matcher = message(raw, 'StringMatcher', at, problems);
  if (matcher === undefined) return undefined;
  const before = problems.count;
  checkFields(matcher, FIELDS, 'StringMatcher', at, problems);
  const typed: { -readonly [K in keyof StringMatcher]: StringMatcher[K] } = {};
  for (const kind of ['exact', 'prefix', 'suffix', 'contains'] as const) {
    if (matcher[kind] !== undefined) typed[kind] = string(matcher[kind], fieldPath(at, kind), problems);
  }
  if (matcher['safeRegex'] !== undefined) {
    const regex = regexPattern(matcher['safeRegex'], fieldPath(at, 'safeRegex'), problems);
    if (regex !== undefined) typed.safeRegex = { regex };
  }
  if (matcher['ignoreCase'] !== undefined) typed.ignoreCase = bool(matcher['ignoreCase'], fieldPath(at, 'ignoreCase'), problems);
  if (problems.count > before) return undefined;
  return compileStringMatcher(typed, at, problems);
}
