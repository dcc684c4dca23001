import type { HeaderAppendAction, HeaderValueOption } from '../../xds/envoy/index.ts';
import type { Headers } from '../http/headers.ts';
import type { HeaderMutation } from './route-entry.ts';
import type { Problems } from './problems.ts';

export const NO_HEADER_MUTATION: HeaderMutation = { remove: [], set: [], append: [], addIfAbsent: [] };

/** One level of Envoy header config (a weighted cluster's, a route's, a virtual host's, a route configuration's), validated. */
export interface HeaderLevel {
  readonly remove: readonly string[];
  readonly add: readonly { readonly name: string; readonly value: string; readonly action: HeaderAppendAction }[];
}

const ACTIONS: ReadonlySet<string> = new Set<HeaderAppendAction>(['APPEND_IF_EXISTS_OR_ADD', 'ADD_IF_ABSENT', 'OVERWRITE_IF_EXISTS_OR_ADD', 'OVERWRITE_IF_EXISTS']);

/** NUL, CR and LF can never be part of a header (Envoy's HTTP_HEADER_NAME and HTTP_HEADER_VALUE rules). */
const FORBIDDEN_CHARACTER = /[\0\r\n]/;

/**
 * Validates one level's `*HeadersToAdd` and `*HeadersToRemove` as Envoy does: pseudo-headers and
 * Host can be neither added nor removed, `append` and `appendAction` do not go together, and an
 * empty value is skipped unless `keepEmptyValue`. Values are kept literally: Envoy's `%VARIABLE%`
 * substitutions (`%DOWNSTREAM_REMOTE_ADDRESS%`) are not expanded.
 */
export function parseHeaderLevel(toAdd: readonly HeaderValueOption[] | undefined, toRemove: readonly string[] | undefined, addPath: string, removePath: string, problems: Problems): HeaderLevel {
  const add: { name: string; value: string; action: HeaderAppendAction }[] = [];
  (toAdd ?? []).forEach((option, i) => {
    const at = `${addPath}[${i}]`;
    const key = option.header?.key ?? '';
    const value = option.header?.value ?? '';
    if (key === '') return problems.add(`${at}.header.key`, 'must not be empty');
    if (FORBIDDEN_CHARACTER.test(key)) return problems.add(`${at}.header.key`, 'must not contain NUL, CR or LF');
    if (!isModifiable(key)) return problems.add(`${at}.header.key`, `"${key}" cannot be changed: pseudo-headers (":...") and host are not headers a route may add`);
    if (FORBIDDEN_CHARACTER.test(value)) return problems.add(`${at}.header.value`, 'must not contain NUL, CR or LF');
    let action: HeaderAppendAction;
    if (option.append !== undefined) {
      if (option.appendAction !== undefined && option.appendAction !== 'APPEND_IF_EXISTS_OR_ADD') {
        return problems.add(at, 'sets both append and appendAction; use appendAction only (append is deprecated)');
      }
      action = option.append ? 'APPEND_IF_EXISTS_OR_ADD' : 'OVERWRITE_IF_EXISTS_OR_ADD';
    } else {
      action = option.appendAction ?? 'APPEND_IF_EXISTS_OR_ADD';
      if (!ACTIONS.has(action)) return problems.add(`${at}.appendAction`, `"${String(action)}" is not one of ${[...ACTIONS].join(', ')}`);
    }
    if (value === '' && option.keepEmptyValue !== true) return;
    add.push({ name: key.toLowerCase(), value, action });
  });
  const remove: string[] = [];
  (toRemove ?? []).forEach((name, i) => {
    const at = `${removePath}[${i}]`;
    if (name === '') return problems.add(at, 'must not be empty');
    if (!isModifiable(name)) return problems.add(at, `"${name}" cannot be removed: pseudo-headers (":...") and host are needed to forward the request`);
    remove.push(name.toLowerCase());
  });
  return { remove, add };
}

function isModifiable(name: string): boolean {
  return !name.startsWith(':') && name.toLowerCase() !== 'host';
}

/**
 * What the levels do for one header name, as a function of whether the header was there before:
 * `absent` is the resulting list of values when it was not (empty: still absent); `present` is
 * either the values it ends with, or the original values kept with more appended.
 */
interface NameOutcome {
  absent: string[];
  present: { readonly kind: 'values'; values: string[] } | { readonly kind: 'kept'; appended: string[] };
}

/**
 * Compiles levels applied one after another (Envoy applies the most specific first: weighted
 * cluster, route, virtual host, route configuration, later ones winning) into one mutation with
 * the same effect. Each name is followed through both cases (header present or absent beforehand)
 * and the result written back in `HeaderMutation`'s terms.
 */
export function composeHeaderLevels(levels: readonly HeaderLevel[]): HeaderMutation {
  if (levels.every((l) => l.remove.length === 0 && l.add.length === 0)) return NO_HEADER_MUTATION;
  const outcomes = new Map<string, NameOutcome>();
  const outcomeOf = (name: string): NameOutcome => {
    let outcome = outcomes.get(name);
    if (outcome === undefined) outcomes.set(name, (outcome = { absent: [], present: { kind: 'kept', appended: [] } }));
    return outcome;
  };
  for (const level of levels) {
    for (const name of level.remove) {
      const outcome = outcomeOf(name);
      outcome.absent = [];
      outcome.present = { kind: 'values', values: [] };
    }
    const names = new Set(level.add.map((a) => a.name));
    for (const name of names) applyLevel(outcomeOf(name), level.add.filter((a) => a.name === name));
  }

  const remove: string[] = [];
  const set: [string, string][] = [];
  const overwriteIfExists: [string, string][] = [];
  const addIfAbsent: [string, string][] = [];
  const append: [string, string][] = [];
  for (const [name, { absent, present }] of outcomes) {
    if (present.kind === 'kept') {
      // Only appends and adds-if-absent touched the name: the absent case is what add-if-absent added, then the appends.
      for (const value of withoutTail(absent, present.appended)) addIfAbsent.push([name, value]);
      for (const value of present.appended) append.push([name, value]);
    } else if (sameValues(absent, present.values)) {
      const [first, ...rest] = present.values;
      if (first === undefined) remove.push(name);
      else {
        set.push([name, first]);
        for (const value of rest) append.push([name, value]);
      }
    } else {
      // Diverged only through an overwrite-if-exists, after which both cases gained the same appends.
      const [first, ...rest] = present.values;
      if (first === undefined) throw new Error(`header ${name}: removed when present but not when absent`);
      overwriteIfExists.push([name, first]);
      for (const value of withoutTail(absent, rest)) addIfAbsent.push([name, value]);
      for (const value of rest) append.push([name, value]);
    }
  }
  return { remove, set, append, addIfAbsent, ...(overwriteIfExists.length > 0 ? { overwriteIfExists } : {}) };
}

/**
 * One level's entries for one name, in Envoy's order: every condition is judged against the
 * state after the level's removals; overwrites go first (the last one wins), then the adds.
 */
function applyLevel(outcome: NameOutcome, entries: readonly { readonly value: string; readonly action: HeaderAppendAction }[]): void {
  const absent = step(outcome.absent, entries);
  const present = outcome.present;
  if (present.kind === 'values') {
    outcome.present = { kind: 'values', values: step(present.values, entries) };
  } else {
    // The original values are there (at least one), so only the unconditional adds and the overwrites count.
    let overwrite: string | undefined;
    const added: string[] = [];
    for (const { value, action } of entries) {
      if (action === 'APPEND_IF_EXISTS_OR_ADD') added.push(value);
      else if (action === 'OVERWRITE_IF_EXISTS_OR_ADD' || action === 'OVERWRITE_IF_EXISTS') overwrite = value;
    }
    outcome.present = overwrite !== undefined ? { kind: 'values', values: [overwrite, ...added] } : { kind: 'kept', appended: [...present.appended, ...added] };
  }
  outcome.absent = absent;
}

function step(values: readonly string[], entries: readonly { readonly value: string; readonly action: HeaderAppendAction }[]): string[] {
  const there = values.length > 0;
  let overwrite: string | undefined;
  const added: string[] = [];
  for (const { value, action } of entries) {
    switch (action) {
      case 'APPEND_IF_EXISTS_OR_ADD': added.push(value); break;
      case 'ADD_IF_ABSENT': if (!there) added.push(value); break;
      case 'OVERWRITE_IF_EXISTS': if (there) overwrite = value; break;
      case 'OVERWRITE_IF_EXISTS_OR_ADD': overwrite = value; break;
    }
  }
  return overwrite !== undefined ? [overwrite, ...added] : [...values, ...added];
}

/**
 * `values` without the appended `tail`. When one level appends to a name before adding it if
 * absent, Envoy puts the appended value first; a mutation puts add-if-absent values first, so
 * then the same values come out in another order.
 */
function withoutTail(values: readonly string[], tail: readonly string[]): string[] {
  const start = values.length - tail.length;
  if (start >= 0 && tail.every((v, i) => values[start + i] === v)) return values.slice(0, start);
  const rest = [...values];
  for (const value of tail) {
    const at = rest.indexOf(value);
    if (at >= 0) rest.splice(at, 1);
  }
  return rest;
}

function sameValues(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Applies a mutation to request or response headers in place (see `HeaderMutation` for the order). */
export function applyHeaderMutation(headers: Headers, mutation: HeaderMutation): void {
  const overwriteIfExists = mutation.overwriteIfExists;
  if (mutation.remove.length === 0 && mutation.set.length === 0 && mutation.append.length === 0 && mutation.addIfAbsent.length === 0
    && (overwriteIfExists === undefined || overwriteIfExists.length === 0)) return;
  for (const name of mutation.remove) delete headers[name];
  // The conditions look at the headers after removal, before this mutation adds anything.
  const present = overwriteIfExists !== undefined ? overwriteIfExists.filter(([name]) => headers[name] !== undefined) : [];
  const absent = mutation.addIfAbsent.filter(([name]) => headers[name] === undefined);
  for (const [name, value] of mutation.set) headers[name] = value;
  for (const [name, value] of present) headers[name] = value;
  for (const [name, value] of absent) add(headers, name, value);
  for (const [name, value] of mutation.append) add(headers, name, value);
}

function add(headers: Headers, name: string, value: string): void {
  const existing = headers[name];
  if (existing === undefined) headers[name] = value;
  else headers[name] = Array.isArray(existing) ? [...existing, value] : [existing, value];
}
