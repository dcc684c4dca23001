import type { Problems } from '../../route/problems.ts';
import type { RbacMetadata } from './rbac-input.ts';
import { bool, checkFields, fieldPath, isObject, list, message, number, oneofMember, string } from './raw-json.ts';
import { parseStringMatcher } from './string-matcher.ts';

type ValueTest = (value: unknown) => boolean;

const VALUE_KINDS = ['nullMatch', 'doubleMatch', 'stringMatch', 'boolMatch', 'presentMatch', 'listMatch', 'orMatch'] as const;

/**
 * An `envoy.type.matcher.v3.MetadataMatcher`: the value at `path` (keys through nested structs)
 * in the `filter` namespace of the dynamic metadata, against `value`, the result flipped by `invert`.
 */
export function parseMetadataMatcher(raw: unknown, at: string, problems: Problems): ((metadata: RbacMetadata) => boolean) | undefined {
  const matcher = message(raw, 'MetadataMatcher', at, problems);
  if (matcher === undefined) return undefined;
  const before = problems.count;
  checkFields(matcher, ['filter', 'path', 'value', 'invert'], 'MetadataMatcher', at, problems);
  const filter = string(matcher['filter'] ?? '', fieldPath(at, 'filter'), problems);
  if (filter === '') problems.add(fieldPath(at, 'filter'), 'is required (the metadata namespace, e.g. istio_authn)');
  const keys: string[] = [];
  list(matcher['path'], 1, fieldPath(at, 'path'), problems)?.forEach((segment, i) => {
    const sat = `${fieldPath(at, 'path')}[${i}]`;
    const seg = message(segment, 'PathSegment', sat, problems);
    if (seg === undefined) return;
    checkFields(seg, ['key'], 'PathSegment', sat, problems);
    const key = string(seg['key'] ?? '', fieldPath(sat, 'key'), problems);
    if (key === '') problems.add(fieldPath(sat, 'key'), 'must not be empty');
    if (key !== undefined) keys.push(key);
  });
  if (matcher['value'] === undefined) problems.add(fieldPath(at, 'value'), 'is required (a ValueMatcher)');
  const test = matcher['value'] === undefined ? undefined : parseValueMatcher(matcher['value'], fieldPath(at, 'value'), problems);
  const invert = matcher['invert'] === undefined ? false : bool(matcher['invert'], fieldPath(at, 'invert'), problems);
  if (problems.count > before || test === undefined || filter === undefined || invert === undefined) return undefined;
  return (metadata) => {
    let current: unknown = metadata.get(filter);
    for (const key of keys) current = isObject(current) ? current[key] : undefined;
    return test(current) !== invert;
  };
}

/**
 * An `envoy.type.matcher.v3.ValueMatcher` over a metadata value (undefined when the path leads
 * nowhere). As in Envoy, each kind matches only values of its type, and `presentMatch: false`
 * matches nothing: absence is tested with `presentMatch: true` and the MetadataMatcher's `invert`.
 */
function parseValueMatcher(raw: unknown, at: string, problems: Problems): ValueTest | undefined {
  const matcher = message(raw, 'ValueMatcher', at, problems);
  if (matcher === undefined) return undefined;
  const kind = oneofMember(matcher, VALUE_KINDS, {}, 'ValueMatcher', at, problems);
  if (kind === undefined) return undefined;
  const kat = fieldPath(at, kind);
  const spec = matcher[kind];
  switch (kind) {
    case 'nullMatch': {
      const empty = message(spec, 'NullMatch', kat, problems);
      if (empty === undefined) return undefined;
      checkFields(empty, [], 'NullMatch', kat, problems);
      return (value) => value === null;
    }
    case 'doubleMatch': return parseDoubleMatcher(spec, kat, problems);
    case 'stringMatch': {
      const test = parseStringMatcher(spec, kat, problems);
      return test === undefined ? undefined : (value) => typeof value === 'string' && test(value);
    }
    case 'boolMatch': {
      const wanted = bool(spec, kat, problems);
      return wanted === undefined ? undefined : (value) => value === wanted;
    }
    case 'presentMatch': {
      const wanted = bool(spec, kat, problems);
      return wanted === undefined ? undefined : (value) => wanted && value !== undefined;
    }
    case 'listMatch': {
      const listMatch = message(spec, 'ListMatcher', kat, problems);
      if (listMatch === undefined) return undefined;
      checkFields(listMatch, ['oneOf'], 'ListMatcher', kat, problems);
      if (listMatch['oneOf'] === undefined) {
        problems.add(fieldPath(kat, 'oneOf'), 'is required (a ValueMatcher one of the list\'s values must match)');
        return undefined;
      }
      const one = parseValueMatcher(listMatch['oneOf'], fieldPath(kat, 'oneOf'), problems);
      return one === undefined ? undefined : (value) => Array.isArray(value) && value.some(one);
    }
    case 'orMatch': {
      const or = message(spec, 'OrMatcher', kat, problems);
      if (or === undefined) return undefined;
      checkFields(or, ['valueMatchers'], 'OrMatcher', kat, problems);
      const vat = fieldPath(kat, 'valueMatchers');
      const tests = list(or['valueMatchers'], 2, vat, problems)?.map((m, i) => parseValueMatcher(m, `${vat}[${i}]`, problems));
      if (tests === undefined || tests.some((t) => t === undefined)) return undefined;
      const all = tests as ValueTest[];
      return (value) => all.some((t) => t(value));
    }
  }
}

/** `envoy.type.matcher.v3.DoubleMatcher`: `exact`, or `range` [start, end). */
function parseDoubleMatcher(raw: unknown, at: string, problems: Problems): ValueTest | undefined {
  const matcher = message(raw, 'DoubleMatcher', at, problems);
  if (matcher === undefined) return undefined;
  const kind = oneofMember(matcher, ['range', 'exact'] as const, {}, 'DoubleMatcher', at, problems);
  if (kind === 'exact') {
    const exact = number(matcher['exact'], fieldPath(at, 'exact'), problems);
    return exact === undefined ? undefined : (value) => value === exact;
  }
  if (kind === undefined) return undefined;
  const rat = fieldPath(at, 'range');
  const range = message(matcher['range'], 'DoubleRange', rat, problems);
  if (range === undefined) return undefined;
  checkFields(range, ['start', 'end'], 'DoubleRange', rat, problems);
  const start = number(range['start'] ?? 0, fieldPath(rat, 'start'), problems);
  const end = number(range['end'] ?? 0, fieldPath(rat, 'end'), problems);
  if (start === undefined || end === undefined) return undefined;
  return (value) => typeof value === 'number' && value >= start && value < end;
}
