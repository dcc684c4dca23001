import { RE2JS } from 're2js';
import { err, ok, type Result } from '../../core/index.ts';

/**
 * Envoy's `safe_regex`: RE2 syntax, compiled once when config arrives. What RE2 refuses
 * (backreferences, lookaround, possessive repeats, ...) is refused here with RE2's reason.
 */
export function compileSafeRegex(pattern: string): Result<RE2JS, string> {
  try {
    return ok(RE2JS.compile(pattern));
  } catch (error) {
    return err(`"${pattern}" is not an RE2 regular expression: ${reason(error)}`);
  }
}

function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^error parsing regexp: /, '');
}

/** A compiled `RegexMatchAndSubstitute`: every match in a text replaced by the substitution. */
export interface RegexRewrite {
  replaceAll(text: string): string;
}

/** A literal piece of the substitution, or the number of the group to insert (0 is the whole match). */
type SubstitutionPart = string | number;

/**
 * Compiles a pattern and an RE2 substitution (`\1` inserts group 1, `\0` the whole match, `\\` a
 * backslash), as Envoy's regex rewrites take them. The error says which of the two is wrong.
 */
export function compileRegexRewrite(pattern: string, substitution: string): Result<RegexRewrite, { readonly field: 'pattern' | 'substitution'; readonly message: string }> {
  const regex = compileSafeRegex(pattern);
  if (!regex.ok) return err({ field: 'pattern', message: regex.error });
  const parts = parseSubstitution(substitution, regex.value.groupCount());
  if (!parts.ok) return err({ field: 'substitution', message: parts.error });
  const re = regex.value;
  const pieces = parts.value;
  if (pieces.every((p) => typeof p === 'string')) {
    const literal = pieces.join('');
    return ok({ replaceAll: (text) => re.matcher(text).replaceAll(() => literal) });
  }
  return ok({
    replaceAll: (text) => re.matcher(text).replaceAll((...args: unknown[]) => {
      let out = '';
      for (const piece of pieces) out += typeof piece === 'string' ? piece : ((args[piece] as string | null | undefined) ?? '');
      return out;
    }),
  });
}

function parseSubstitution(substitution: string, groups: number): Result<SubstitutionPart[], string> {
  const parts: SubstitutionPart[] = [];
  let literal = '';
  for (let i = 0; i < substitution.length; i++) {
    const c = substitution[i]!;
    if (c !== '\\') {
      literal += c;
      continue;
    }
    const next = substitution[i + 1];
    if (next === '\\') {
      literal += '\\';
    } else if (next !== undefined && next >= '0' && next <= '9') {
      const group = Number(next);
      if (group > groups) {
        return err(`"${substitution}" refers to group \\${group}, but the pattern has ${groups === 0 ? 'no groups' : groups === 1 ? 'only 1 group' : `only ${groups} groups`}`);
      }
      if (literal !== '') parts.push(literal);
      literal = '';
      parts.push(group);
    } else {
      return err(`"${substitution}" has a backslash that is neither \\0..\\9 (a group) nor \\\\ (a backslash)`);
    }
    i++;
  }
  if (literal !== '') parts.push(literal);
  return ok(parts);
}
