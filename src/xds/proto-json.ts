import protobuf from 'protobufjs';
import { envoyProtos } from './envoy-protos.ts';
import { TYPE_URL_PREFIX, typeNameOf } from './type-urls.ts';

/**
 * Converts between Envoy's JSON form of a message (proto3 JSON: `"timeout": "5s"`, wrappers as
 * plain values, `Any` as `{"@type": ..., ...}`) and protobuf bytes. Generators write the JSON
 * form, which is what Envoy's docs and config_dump show; the wire carries bytes.
 *
 * The conversion is strict: an unknown field, a wrong type or a second member of a oneof throws,
 * naming the field, because such a resource is a bug in whoever built it.
 */
export type ProtoJson = { readonly [key: string]: unknown };

export class ProtoJsonError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.path = path;
  }
}

/** A field's proto3 JSON name: protobufjs keeps `consecutive_5xx` where JSON writes `consecutive5xx`. */
function jsonName(field: protobuf.Field): string {
  return field.name.replace(/_([a-z0-9])/g, (_match, c: string) => c.toUpperCase());
}

const fieldsByJsonName = new WeakMap<protobuf.Type, Map<string, protobuf.Field>>();

function fieldForKey(type: protobuf.Type, key: string): protobuf.Field | undefined {
  let map = fieldsByJsonName.get(type);
  if (map === undefined) {
    map = new Map();
    for (const field of type.fieldsArray) {
      map.set(jsonName(field), field);
      map.set(field.name, field);
    }
    fieldsByJsonName.set(type, map);
  }
  return map.get(key);
}

const WRAPPERS = new Set(['DoubleValue', 'FloatValue', 'Int64Value', 'UInt64Value', 'Int32Value', 'UInt32Value', 'BoolValue', 'StringValue', 'BytesValue'].map((n) => `.google.protobuf.${n}`));

/** Encodes the JSON form of a message of type `typeName` (`envoy.config.cluster.v3.Cluster`). */
export function encodeMessage(typeName: string, json: object): Uint8Array {
  const type = envoyProtos().lookupType(typeName);
  const object = fromJson(type, json, typeName.slice(typeName.lastIndexOf('.') + 1));
  return type.encode(type.fromObject(object as Record<string, unknown>)).finish();
}

/** Decodes bytes of type `typeName` into the JSON form. */
export function decodeMessage(typeName: string, bytes: Uint8Array): ProtoJson {
  const type = envoyProtos().lookupType(typeName);
  return toJson(type, type.decode(bytes)) as ProtoJson;
}

/** Encodes a resource for an ADS response, as `google.protobuf.Any`. */
export function packAny(typeUrl: string, json: object): { type_url: string; value: Uint8Array } {
  return { type_url: typeUrl, value: encodeMessage(typeNameOf(typeUrl), json) };
}

/** Checks that the JSON form is a valid message of the type, throwing a ProtoJsonError if not. */
export function assertValidMessage(typeName: string, json: object): void {
  const type = envoyProtos().lookupType(typeName);
  fromJson(type, json, typeName.slice(typeName.lastIndexOf('.') + 1));
}

function fromJson(type: protobuf.Type, json: unknown, path: string): unknown {
  const name = type.fullName;
  if (name === '.google.protobuf.Any') return anyFromJson(json, path);
  if (name === '.google.protobuf.Duration') return durationFromJson(json, path);
  if (name === '.google.protobuf.Timestamp') return timestampFromJson(json, path);
  if (name === '.google.protobuf.Struct') return structFromJson(json, path);
  if (name === '.google.protobuf.Value') return valueFromJson(json, path);
  if (name === '.google.protobuf.ListValue') {
    if (!Array.isArray(json)) throw new ProtoJsonError(path, 'expected a list');
    return { values: json.map((v, i) => valueFromJson(v, `${path}[${i}]`)) };
  }
  if (WRAPPERS.has(name)) {
    const inner = type.fields['value']!;
    return { value: scalarFromJson(inner, json, path) };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ProtoJsonError(path, `expected an object for ${type.name}`);
  const out: Record<string, unknown> = {};
  const oneofSeen = new Map<string, string>();
  for (const [key, value] of Object.entries(json)) {
    const field = fieldForKey(type, key);
    if (field === undefined) throw new ProtoJsonError(`${path}.${key}`, `unknown field of ${type.name}`);
    if (value === null || value === undefined) continue;
    field.resolve();
    if (field.partOf !== null && field.partOf !== undefined && field.partOf.oneof.length > 1) {
      const other = oneofSeen.get(field.partOf.name);
      if (other !== undefined) throw new ProtoJsonError(`${path}.${key}`, `only one of ${field.partOf.oneof.join(', ')} may be set (${other} is set too)`);
      oneofSeen.set(field.partOf.name, key);
    }
    out[field.name] = fieldFromJson(field, value, `${path}.${key}`);
  }
  return out;
}

function fieldFromJson(field: protobuf.Field, value: unknown, path: string): unknown {
  if (field.map) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ProtoJsonError(path, 'expected an object (a map)');
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = singleFromJson(field, v, `${path}["${k}"]`);
    return out;
  }
  if (field.repeated) {
    if (!Array.isArray(value)) throw new ProtoJsonError(path, 'expected a list');
    return value.map((v, i) => singleFromJson(field, v, `${path}[${i}]`));
  }
  return singleFromJson(field, value, path);
}

function singleFromJson(field: protobuf.Field, value: unknown, path: string): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return fromJson(resolved, value, path);
  if (resolved instanceof protobuf.Enum) {
    if (typeof value === 'string') {
      if (!(value in resolved.values)) throw new ProtoJsonError(path, `"${value}" is not a value of ${resolved.name} (${Object.keys(resolved.values).join(', ')})`);
      return resolved.values[value];
    }
    if (typeof value === 'number' && Number.isInteger(value)) return value;
    throw new ProtoJsonError(path, `expected a ${resolved.name} name`);
  }
  return scalarFromJson(field, value, path);
}

function scalarFromJson(field: protobuf.Field, value: unknown, path: string): unknown {
  switch (field.type) {
    case 'string':
      if (typeof value !== 'string') throw new ProtoJsonError(path, 'expected a string');
      return value;
    case 'bool':
      if (typeof value !== 'boolean') throw new ProtoJsonError(path, 'expected true or false');
      return value;
    case 'bytes':
      if (typeof value === 'string') return Buffer.from(value, 'base64');
      if (value instanceof Uint8Array) return value;
      throw new ProtoJsonError(path, 'expected base64 bytes');
    case 'double':
    case 'float':
      if (typeof value !== 'number') throw new ProtoJsonError(path, 'expected a number');
      return value;
    default: {
      const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n)) throw new ProtoJsonError(path, `expected an integer (${field.type})`);
      if (field.type.startsWith('uint') || field.type.startsWith('fixed')) {
        if (n < 0) throw new ProtoJsonError(path, `expected a non-negative integer (${field.type})`);
      }
      return n;
    }
  }
}

function anyFromJson(json: unknown, path: string): unknown {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ProtoJsonError(path, 'expected an object with "@type"');
  const { '@type': typeUrl, ...rest } = json as Record<string, unknown>;
  if (typeof typeUrl !== 'string') throw new ProtoJsonError(path, 'an Any needs "@type"');
  const inner = envoyProtos().lookupType(typeNameOf(typeUrl));
  const special = inner.fullName.startsWith('.google.protobuf.') && inner.fullName !== '.google.protobuf.Empty';
  const object = fromJson(inner, special ? rest['value'] : rest, `${path}(${inner.name})`);
  // protobufjs defines Any from its built-in JSON, where the field keeps its proto name `type_url`.
  return { type_url: typeUrl.includes('/') ? typeUrl : `${TYPE_URL_PREFIX}${typeUrl}`, value: inner.encode(inner.fromObject(object as Record<string, unknown>)).finish() };
}

const DURATION = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;

function durationFromJson(json: unknown, path: string): unknown {
  if (typeof json !== 'string') throw new ProtoJsonError(path, 'expected a duration string such as "1.5s"');
  const m = DURATION.exec(json);
  if (m === null) throw new ProtoJsonError(path, `"${json}" is not a proto3 duration (seconds with an "s" suffix, e.g. "0.250s")`);
  const sign = m[1] === '-' ? -1 : 1;
  return { seconds: sign * Number(m[2]), nanos: sign * Number((m[3] ?? '').padEnd(9, '0')) };
}

function timestampFromJson(json: unknown, path: string): unknown {
  const ms = typeof json === 'string' ? Date.parse(json) : NaN;
  if (Number.isNaN(ms)) throw new ProtoJsonError(path, 'expected an RFC 3339 timestamp');
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

function structFromJson(json: unknown, path: string): unknown {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ProtoJsonError(path, 'expected an object (a Struct)');
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) fields[k] = valueFromJson(v, `${path}.${k}`);
  return { fields };
}

function valueFromJson(json: unknown, path: string): unknown {
  if (json === null) return { nullValue: 0 };
  if (typeof json === 'number') return { numberValue: json };
  if (typeof json === 'string') return { stringValue: json };
  if (typeof json === 'boolean') return { boolValue: json };
  if (Array.isArray(json)) return { listValue: { values: json.map((v, i) => valueFromJson(v, `${path}[${i}]`)) } };
  if (typeof json === 'object') return { structValue: structFromJson(json, path) };
  throw new ProtoJsonError(path, 'not a JSON value');
}

/** Converts a decoded message (or its plain-object form) to Envoy's JSON form. */
export function toJson(type: protobuf.Type, message: unknown): unknown {
  const name = type.fullName;
  const m = message as Record<string, unknown>;
  if (name === '.google.protobuf.Any') {
    const typeUrl = String(m['type_url'] ?? m['typeUrl'] ?? '');
    const inner = envoyProtos().lookupType(typeNameOf(typeUrl));
    const decoded = toJson(inner, inner.decode(m['value'] as Uint8Array));
    const special = inner.fullName.startsWith('.google.protobuf.') && inner.fullName !== '.google.protobuf.Empty';
    return special ? { '@type': typeUrl, value: decoded } : { '@type': typeUrl, ...(decoded as object) };
  }
  if (name === '.google.protobuf.Duration') {
    const seconds = longToNumber(m['seconds'] ?? 0);
    const nanos = Number(m['nanos'] ?? 0);
    const total = seconds + nanos / 1e9;
    return `${Number(total.toFixed(9))}s`;
  }
  if (name === '.google.protobuf.Timestamp') return new Date(longToNumber(m['seconds'] ?? 0) * 1000 + Number(m['nanos'] ?? 0) / 1e6).toISOString();
  if (name === '.google.protobuf.Struct') return structToJson(m);
  if (name === '.google.protobuf.Value') return valueToJson(m);
  if (name === '.google.protobuf.ListValue') return ((m['values'] as unknown[]) ?? []).map((v) => valueToJson(v as Record<string, unknown>));
  if (WRAPPERS.has(name)) return scalarToJson(type.fields['value']!, m['value']);
  const out: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    const value = m[field.name];
    if (value === undefined || value === null) continue;
    if (!Object.prototype.hasOwnProperty.call(m, field.name)) continue;
    field.resolve();
    if (field.map) {
      const entries = Object.entries(value as Record<string, unknown>);
      if (entries.length === 0) continue;
      out[jsonName(field)] = Object.fromEntries(entries.map(([k, v]) => [k, singleToJson(field, v)]));
    } else if (field.repeated) {
      if ((value as unknown[]).length === 0) continue;
      out[jsonName(field)] = (value as unknown[]).map((v) => singleToJson(field, v));
    } else {
      out[jsonName(field)] = singleToJson(field, value);
    }
  }
  return out;
}

function singleToJson(field: protobuf.Field, value: unknown): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return toJson(resolved, value);
  if (resolved instanceof protobuf.Enum) return typeof value === 'number' ? (resolved.valuesById[value] ?? value) : value;
  return scalarToJson(field, value);
}

function scalarToJson(field: protobuf.Field, value: unknown): unknown {
  if (field.type === 'bytes') return Buffer.from(value as Uint8Array).toString('base64');
  if (['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64'].includes(field.type)) return longToNumber(value);
  return value;
}

function longToNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return Number(value);
  if (value !== null && typeof value === 'object' && 'toNumber' in value) return (value as { toNumber(): number }).toNumber();
  return Number(value);
}

function structToJson(m: Record<string, unknown>): Record<string, unknown> {
  const fields = (m['fields'] ?? {}) as Record<string, Record<string, unknown>>;
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, valueToJson(v)]));
}

function valueToJson(v: Record<string, unknown>): unknown {
  if ('structValue' in v && v['structValue'] != null) return structToJson(v['structValue'] as Record<string, unknown>);
  if ('listValue' in v && v['listValue'] != null) return (((v['listValue'] as Record<string, unknown>)['values'] as unknown[]) ?? []).map((x) => valueToJson(x as Record<string, unknown>));
  if ('stringValue' in v && v['stringValue'] != null) return v['stringValue'];
  if ('numberValue' in v && v['numberValue'] != null) return v['numberValue'];
  if ('boolValue' in v && v['boolValue'] != null) return v['boolValue'];
  return null;
}
