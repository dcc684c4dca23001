import type * as z from 'zod';
import { closestMatch } from '../core/index.ts';
import type { Diagnostic, ResourceRef } from './diagnostic.ts';
import { formatPath } from './diagnostic.ts';
import { readDocuments, type ConfigDocument } from './input/config-document.ts';
import type { SourceFile } from './input/source-file.ts';
import type { KindDefinition } from './kinds/kind-definition.ts';
import type { KindRegistry } from './kinds/registry.ts';
import { findRemovedApiVersion } from './kinds/removed-api-versions.ts';
import { Messages } from './messages.ts';
import type { AnyResource } from './resource.ts';

export interface ParseOptions {
  readonly kinds: KindRegistry;
  /** The namespace of resources that name none (as `kubectl apply` without `-n`). */
  readonly defaultNamespace?: string;
}

export interface ParsedConfig {
  readonly resources: AnyResource[];
  readonly diagnostics: Diagnostic[];
}

const ISTIO_GROUP_SUFFIX = '.istio.io';

/**
 * Reads, validates and collects every resource of the given files. Every problem is reported,
 * never only the first; a resource with any error is left out, the others are kept.
 */
export function parseSources(sources: readonly SourceFile[], options: ParseOptions): ParsedConfig {
  const resources: AnyResource[] = [];
  const diagnostics: Diagnostic[] = [];
  const seen = new Map<string, AnyResource>();
  for (const source of sources) {
    const read = readDocuments(source);
    diagnostics.push(...read.diagnostics);
    for (const document of read.documents) {
      const result = parseDocument(document, options);
      diagnostics.push(...result.diagnostics);
      const resource = result.resource;
      if (resource === undefined) continue;
      const key = `${resource.kind}/${resource.namespace}/${resource.name}`;
      const first = seen.get(key);
      if (first !== undefined) {
        diagnostics.push({
          code: Messages.DuplicateResource.code,
          level: Messages.DuplicateResource.level,
          message: `${resource.kind} ${resource.namespace === '' ? '' : `${resource.namespace}/`}${resource.name} is defined twice; the definition at ${first.origin.file}:${first.origin.line} is kept`,
          origin: resource.origin,
          resource: { kind: resource.kind, namespace: resource.namespace, name: resource.name },
        });
        continue;
      }
      seen.set(key, resource);
      resources.push(resource);
    }
  }
  return { resources, diagnostics };
}

/** Validates one document against the schema of its kind. */
export function parseDocument(document: ConfigDocument, options: ParseOptions): { resource?: AnyResource; diagnostics: Diagnostic[] } {
  const value = document.value;
  const fail = (message: string, path: PropertyKey[], code: string = Messages.SchemaValidationError.code, resource?: ResourceRef): { diagnostics: Diagnostic[] } => ({
    diagnostics: [{ code, level: 'Error', message, origin: document.locate(path, 'key'), path: formatPath(path), ...(resource !== undefined ? { resource } : {}) }],
  });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { diagnostics: [{ code: Messages.SchemaValidationError.code, level: 'Error', message: `expected a resource (a mapping with apiVersion, kind and metadata), got ${describe(value)}`, origin: document.origin }] };
  }
  const object = value as Record<string, unknown>;
  const apiVersion = object['apiVersion'];
  const kindName = object['kind'];
  const metadata = object['metadata'];
  const rawName = typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>)['name'] : undefined;
  const rawNamespace = typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>)['namespace'] : undefined;
  const name = typeof rawName === 'string' ? rawName : '';
  if (typeof kindName !== 'string' || kindName === '') return fail('required field is missing (every resource names its kind, e.g. kind: VirtualService)', ['kind'], Messages.UnknownKind.code);
  if (typeof apiVersion !== 'string' || apiVersion === '') return fail(`required field is missing${servedHint(options.kinds.get(kindName))}`, ['apiVersion'], Messages.UnknownKind.code);

  const definition = options.kinds.get(kindName);
  const slash = apiVersion.lastIndexOf('/');
  const group = slash >= 0 ? apiVersion.slice(0, slash) : '';
  const version = slash >= 0 ? apiVersion.slice(slash + 1) : apiVersion;
  const namespace = definition !== undefined && !definition.namespaced ? '' : typeof rawNamespace === 'string' ? rawNamespace : (options.defaultNamespace ?? 'default');
  const ref: ResourceRef = { kind: kindName, namespace, name: name === '' ? '<unnamed>' : name };

  const removed = findRemovedApiVersion(apiVersion, kindName);
  if (removed !== undefined) {
    const hint = definition !== undefined ? removedVersionHint(definition, object) : '';
    return fail(
      `"${apiVersion}" of ${kindName} was removed in ${removed.removedIn}; use "${removed.replacement}" instead${hint}`,
      ['apiVersion'],
      Messages.RemovedApiVersion.code,
      ref,
    );
  }
  if (definition === undefined) {
    const suggestion = closestMatch(kindName, options.kinds.keys());
    if (suggestion !== undefined) return fail(`unknown kind "${kindName}" (did you mean "${suggestion}"?)`, ['kind'], Messages.UnknownKind.code, ref);
    if (group.endsWith(ISTIO_GROUP_SUFFIX)) return fail(`unknown kind "${kindName}" in ${group}`, ['kind'], Messages.UnknownKind.code, ref);
    return { diagnostics: [] };
  }
  if (group !== definition.group || !definition.versions.includes(version)) {
    const served = definition.versions.map((v) => (definition.group === '' ? v : `${definition.group}/${v}`)).join(', ');
    const groupHint = group !== definition.group ? `${kindName} belongs to ${definition.group === '' ? 'the core group' : `the group ${definition.group}`}` : `${kindName} is not served in version ${version}`;
    return fail(`"${apiVersion}" is not valid for ${kindName}: ${groupHint}; use ${served}`, ['apiVersion'], Messages.UnknownKind.code, ref);
  }

  const parsed = definition.schema.safeParse(value);
  if (!parsed.success) {
    return { diagnostics: parsed.error.issues.flatMap((issue) => issueDiagnostics(issue, document, definition.schema, ref)) };
  }
  const resource = {
    kind: definition.kind,
    apiVersion,
    name,
    namespace,
    object: parsed.data,
    origin: document.origin,
    locate: (path: readonly PropertyKey[]) => document.locate(path),
  } as AnyResource;
  return { resource, diagnostics: [] };
}

function servedHint(definition: KindDefinition | undefined): string {
  if (definition === undefined) return '';
  const versions = definition.versions.map((v) => (definition.group === '' ? v : `${definition.group}/${v}`));
  return ` (${definition.kind} is served as ${versions.join(', ')})`;
}

/** What else the replacing version demands, from the replacement's own schema. */
function removedVersionHint(definition: KindDefinition, object: Record<string, unknown>): string {
  const upgraded = definition.schema.safeParse({ ...object, apiVersion: definition.group === '' ? definition.versions[0] : `${definition.group}/${definition.versions[0]}` });
  if (upgraded.success) return '';
  const missing = upgraded.error.issues
    .filter((i) => i.code === 'invalid_type' && valueAt(object, i.path) === undefined)
    .map((i) => formatPath(i.path));
  if (missing.length === 0) return '';
  let hint = `; note that ${definition.group}/${definition.versions[0]} requires ${missing.join(', ')}, which this ${definition.kind} does not set`;
  if (missing.includes('spec.selector')) {
    const templateLabels = valueAt(object, ['spec', 'template', 'metadata', 'labels']);
    if (templateLabels !== null && typeof templateLabels === 'object') {
      const pairs = Object.entries(templateLabels as Record<string, unknown>).map(([k, v]) => `${k}: ${String(v)}`).join(', ');
      hint += ` (add spec.selector.matchLabels matching spec.template.metadata.labels, e.g. {${pairs}})`;
    }
  }
  return hint;
}

function issueDiagnostics(issue: z.core.$ZodIssue, document: ConfigDocument, schema: z.ZodType, resource: ResourceRef): Diagnostic[] {
  const path = issue.path as PropertyKey[];
  const code = (issue.code === 'custom' && typeof issue.params?.['code'] === 'string' ? issue.params['code'] : undefined) ?? Messages.SchemaValidationError.code;
  const make = (message: string, at: PropertyKey[], target: 'key' | 'value' = 'value'): Diagnostic => ({
    code,
    level: 'Error',
    message,
    origin: document.locate(at, target),
    path: formatPath(at),
    resource,
  });
  const actual = valueAt(document.value, path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeys(schema, path);
      return issue.keys.map((key) => {
        const suggestion = closestMatch(key, known);
        const hint = suggestion !== undefined ? ` (did you mean "${suggestion}"?)` : known.length > 0 ? `; expected one of: ${known.join(', ')}` : '';
        return make(`unknown field "${key}"${hint}`, [...path, key], 'key');
      });
    }
    case 'invalid_type': {
      if (actual === undefined) return [make('required field is missing', path, 'key')];
      if (actual === null) return [make(`must not be null (expected ${typeName(issue.expected)})`, path)];
      return [make(`expected ${typeName(issue.expected)}, got ${describe(actual)}`, path)];
    }
    case 'too_big':
      return [make(boundMessage('at most', issue.origin, issue.maximum, actual), path)];
    case 'too_small':
      return [make(boundMessage('at least', issue.origin, issue.minimum, actual), path)];
    case 'invalid_value': {
      const values = issue.values.map((v) => String(v));
      const suggestion = typeof actual === 'string' ? closestMatch(actual, values) : undefined;
      const hint = suggestion !== undefined ? ` (did you mean "${suggestion}"?)` : '';
      return [make(`must be one of ${values.join(', ')}, got ${describe(actual)}${hint}`, path)];
    }
    case 'invalid_union': {
      const inner = issue.errors.flat();
      if (inner.length > 0 && inner.every((i) => i.code === 'invalid_type')) {
        const expected = [...new Set(inner.map((i) => (i.code === 'invalid_type' ? typeName(i.expected) : '')))].join(' or ');
        return [make(`expected ${expected}, got ${describe(actual)}`, path)];
      }
      return [make(issue.message, path)];
    }
    default:
      return [make(issue.message, path)];
  }
}

function boundMessage(relation: 'at least' | 'at most', origin: string, bound: number | bigint, actual: unknown): string {
  if (origin === 'array') return `must have ${relation} ${bound} item${bound === 1 ? '' : 's'}, got ${Array.isArray(actual) ? actual.length : 0}`;
  if (origin === 'string') return `must be ${relation} ${bound} characters long, got ${describe(actual)}`;
  return `must be ${relation} ${bound}, got ${describe(actual)}`;
}

function typeName(expected: string): string {
  switch (expected) {
    case 'int':
      return 'an integer';
    case 'object':
      return 'a mapping';
    case 'array':
      return 'a list';
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'true or false';
    case 'record':
      return 'a mapping';
    default:
      return expected;
  }
}

export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `string "${value.length > 60 ? `${value.slice(0, 57)}...` : value}"`;
  if (typeof value === 'number') return Number.isInteger(value) ? `integer ${value}` : `number ${value}`;
  return `${typeof value} ${String(value)}`;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node: unknown = root;
  for (const segment of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[segment as string];
  }
  return node;
}

/** The field names a schema accepts at `path`, for "did you mean" hints. */
export function knownKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let nodes: z.core.$ZodType[] = [schema as unknown as z.core.$ZodType];
  for (const segment of path) nodes = nodes.flatMap((n) => unwrap(n).flatMap((u) => child(u, segment)));
  const keys = new Set<string>();
  for (const node of nodes.flatMap(unwrap)) {
    const def = node._zod.def as { type: string; shape?: Record<string, unknown> };
    if (def.type === 'object' && def.shape !== undefined) for (const key of Object.keys(def.shape)) keys.add(key);
  }
  return [...keys];
}

function unwrap(node: z.core.$ZodType): z.core.$ZodType[] {
  const def = node._zod.def as unknown as Record<string, unknown> & { type: string };
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'nonoptional':
    case 'readonly':
    case 'catch':
      return unwrap(def['innerType'] as z.core.$ZodType);
    case 'pipe':
      return unwrap(def['in'] as z.core.$ZodType);
    case 'lazy':
      return unwrap((def['getter'] as () => z.core.$ZodType)());
    case 'union':
      return (def['options'] as z.core.$ZodType[]).flatMap(unwrap);
    case 'intersection':
      return [...unwrap(def['left'] as z.core.$ZodType), ...unwrap(def['right'] as z.core.$ZodType)];
    default:
      return [node];
  }
}

function child(node: z.core.$ZodType, segment: PropertyKey): z.core.$ZodType[] {
  const def = node._zod.def as unknown as Record<string, unknown> & { type: string };
  if (def.type === 'object') {
    const shape = def['shape'] as Record<string, z.core.$ZodType>;
    const field = shape[String(segment)];
    return field !== undefined ? [field] : [];
  }
  if (def.type === 'array') return [def['element'] as z.core.$ZodType];
  if (def.type === 'record') return [def['valueType'] as z.core.$ZodType];
  return [];
}
