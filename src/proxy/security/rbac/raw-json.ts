import { closestMatch } from '../../../core/index.ts';
import type { Problems } from '../../route/problems.ts';

/** A message in Envoy's JSON form, before it is checked. */
export type Raw = Readonly<Record<string, unknown>>;

export function isObject(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `at.field`, or `field` at the top. */
export function fieldPath(at: string, field: string): string {
  return at === '' ? field : `${at}.${field}`;
}

/** Reports each field of `raw` that `message` does not have, with a guess at what was meant. */
export function checkFields(raw: Raw, known: readonly string[], message: string, at: string, problems: Problems): void {
  for (const field of Object.keys(raw)) {
    if (known.includes(field)) continue;
    const guess = closestMatch(field, known);
    problems.add(fieldPath(at, field), `is not a field of ${message}${guess !== undefined ? `; did you mean ${guess}?` : ''}`);
  }
}

/** `raw` as a message, or undefined after reporting that it is not one. */
export function message(raw: unknown, name: string, at: string, problems: Problems): Raw | undefined {
  if (isObject(raw)) return raw;
  problems.add(at, `must be a ${name} object`);
  return undefined;
}

/** A list field, or undefined after reporting what is wrong; `min` is the proto's min_items. */
export function list(raw: unknown, min: number, at: string, problems: Problems): readonly unknown[] | undefined {
  if (!Array.isArray(raw)) {
    problems.add(at, raw === undefined && min > 0 ? `is required (a list of at least ${min})` : 'must be a list');
    return undefined;
  }
  if (raw.length < min) {
    problems.add(at, `needs at least ${min} ${min === 1 ? 'entry' : 'entries'}`);
    return undefined;
  }
  return raw;
}

export function string(raw: unknown, at: string, problems: Problems): string | undefined {
  if (typeof raw === 'string') return raw;
  problems.add(at, `${JSON.stringify(raw)} is not a string`);
  return undefined;
}

export function bool(raw: unknown, at: string, problems: Problems): boolean | undefined {
  if (typeof raw === 'boolean') return raw;
  problems.add(at, `${JSON.stringify(raw)} is not true or false`);
  return undefined;
}

/** A whole number in [min, max]; proto3 JSON may write a 64-bit one as a decimal string. */
export function integer(raw: unknown, min: number, max: number, at: string, problems: Problems): number | undefined {
  const value = typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
  problems.add(at, `${JSON.stringify(raw)} is not a whole number from ${min} to ${max}`);
  return undefined;
}

export function number(raw: unknown, at: string, problems: Problems): number | undefined {
  if (typeof raw === 'number' && Number.isFinite(raw)) return raw;
  problems.add(at, `${JSON.stringify(raw)} is not a number`);
  return undefined;
}

/** An enum field, by name or number; `fallback` when unset. */
export function enumValue<N extends string>(raw: unknown, names: readonly N[], fallback: N, at: string, problems: Problems): N {
  if (raw === undefined) return fallback;
  const name = typeof raw === 'number' ? names[raw] : names.find((n) => n === raw);
  if (name !== undefined) return name;
  problems.add(at, `${JSON.stringify(raw)} is not one of ${names.join(', ')}`);
  return fallback;
}

/**
 * The member set of a message that is one oneof (a Permission's `rule`, a Principal's
 * `identifier`), or undefined after reporting why there is none: nothing set, two set, a member
 * Weft does not implement (`unsupported` says why), or a field the message does not have.
 */
export function oneofMember<K extends string>(
  raw: Raw, kinds: readonly K[], unsupported: Readonly<Record<string, string>>, name: string, at: string, problems: Problems,
): K | undefined {
  const set = Object.keys(raw).filter((field) => raw[field] !== undefined);
  const all = [...kinds, ...Object.keys(unsupported)];
  const unknown = set.filter((field) => !all.includes(field));
  for (const field of unknown) {
    const guess = closestMatch(field, all);
    problems.add(fieldPath(at, field), `is not a kind of ${name} (${kinds.join(', ')})${guess !== undefined ? `; did you mean ${guess}?` : ''}`);
  }
  if (unknown.length > 0) return undefined;
  if (set.length !== 1) {
    problems.add(at, set.length === 0 ? `needs one of ${kinds.join(', ')}` : `sets ${set.join(' and ')}; a ${name} is exactly one of them`);
    return undefined;
  }
  const member = set[0]!;
  const why = unsupported[member];
  if (why !== undefined) {
    problems.add(fieldPath(at, member), `is not supported by Weft: ${why}`);
    return undefined;
  }
  return member as K;
}
