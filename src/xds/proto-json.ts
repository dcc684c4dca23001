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
 *
 * Encoding writes the bytes straight from the JSON form, checking as it goes, with a plan per
 * message type computed once (fields by JSON name, tags, wire types, oneofs). The checks cost
 * little next to the writing, so every encode stays strict; the path of a failure is assembled
 * only while its error unwinds.
 */
export type ProtoJson = { readonly [key: string]: unknown };

export class ProtoJsonError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.path = path;
  }
}

/** A failure deep in a message, whose path grows (from the inside out) as it unwinds. */
class Failure {
  path: string;
  readonly message: string;
  constructor(message: string, path = '') {
    this.message = message;
    this.path = path;
  }
}

function within(error: unknown, segment: string): unknown {
  if (error instanceof Failure) error.path = segment + error.path;
  return error;
}

/** A field's proto3 JSON name: protobufjs keeps `consecutive_5xx` where JSON writes `consecutive5xx`. */
function jsonName(field: protobuf.Field): string {
  return field.name.replace(/_([a-z0-9])/g, (_match, c: string) => c.toUpperCase());
}

type Special = 'any' | 'duration' | 'timestamp' | 'struct' | 'value' | 'list' | 'wrapper';

const SPECIAL: Readonly<Record<string, Special>> = {
  '.google.protobuf.Any': 'any',
  '.google.protobuf.Duration': 'duration',
  '.google.protobuf.Timestamp': 'timestamp',
  '.google.protobuf.Struct': 'struct',
  '.google.protobuf.Value': 'value',
  '.google.protobuf.ListValue': 'list',
  ...Object.fromEntries(['DoubleValue', 'FloatValue', 'Int64Value', 'UInt64Value', 'Int32Value', 'UInt32Value', 'BoolValue', 'StringValue', 'BytesValue'].map((n) => [`.google.protobuf.${n}`, 'wrapper' as const])),
};

/** How to write one field: computed once per field. */
interface FieldPlan {
  readonly field: protobuf.Field;
  readonly key: string;
  readonly id: number;
  readonly map: boolean;
  readonly repeated: boolean;
  readonly packed: boolean;
  /** The field's tag for a single value (or a packed list, or a map entry). */
  readonly tag: number;
  /** The scalar type as protobufjs's Writer names it (`int32` for enums); undefined for messages. */
  readonly scalar: string | undefined;
  readonly enumType: protobuf.Enum | undefined;
  readonly messageType: protobuf.Type | undefined;
  /** The plan of `messageType`, looked up on first use (types refer to each other in cycles). */
  messagePlan: TypePlan | undefined;
  /** The bit of a oneof with several members that the field belongs to, else 0. */
  readonly oneofBit: number;
  readonly keyType: string;
  readonly keyTag: number;
  readonly valueTag: number;
}

/** How to write one message type: computed once per type. */
interface TypePlan {
  readonly type: protobuf.Type;
  readonly name: string;
  readonly fullName: string;
  readonly special: Special | undefined;
  /** Fields by JSON name and by proto name. */
  readonly fields: ReadonlyMap<string, FieldPlan>;
  /** For a wrapper, its `value` field. */
  readonly wrapped: FieldPlan | undefined;
}

const WIRE_MESSAGE = 2;

function fieldPlan(field: protobuf.Field, oneofBits: ReadonlyMap<protobuf.OneOf, number>): FieldPlan {
  field.resolve();
  const resolved = field.resolvedType;
  const enumType = resolved instanceof protobuf.Enum ? resolved : undefined;
  const messageType = resolved instanceof protobuf.Type ? resolved : undefined;
  const scalar = messageType !== undefined ? undefined : enumType !== undefined ? 'int32' : field.type;
  const wire = scalar === undefined ? WIRE_MESSAGE : (protobuf.types.basic as Record<string, number>)[scalar]!;
  const packed = field.repeated && !field.map && scalar !== undefined && field.packed && (protobuf.types.packed as Record<string, number | undefined>)[scalar] !== undefined;
  const keyType = field.map ? (field as unknown as protobuf.MapField).keyType : '';
  return {
    field,
    key: jsonName(field),
    id: field.id,
    map: field.map,
    repeated: field.repeated,
    packed,
    tag: ((field.id << 3) | (field.map || packed ? WIRE_MESSAGE : wire)) >>> 0,
    scalar,
    enumType,
    messageType,
    messagePlan: undefined,
    oneofBit: field.partOf == null ? 0 : (oneofBits.get(field.partOf) ?? 0),
    keyType,
    keyTag: field.map ? (8 | (protobuf.types.mapKey as Record<string, number>)[keyType]!) : 0,
    valueTag: 16 | wire,
  };
}

const plans = new Map<protobuf.Type, TypePlan>();
const plansByName = new Map<string, TypePlan>();

function planOf(type: protobuf.Type): TypePlan {
  let plan = plans.get(type);
  if (plan !== undefined) return plan;
  const fullName = type.fullName;
  // A proto3 `optional` is a oneof of one member, which never conflicts.
  const oneofs = type.oneofsArray.filter((o) => o.oneof.length > 1);
  if (oneofs.length > 30) throw new Error(`${fullName} has more oneofs than a plan can track`);
  const oneofBits = new Map(oneofs.map((o, i) => [o, 1 << i]));
  const fields = new Map<string, FieldPlan>();
  for (const field of type.fieldsArray) {
    const planned = fieldPlan(field, oneofBits);
    fields.set(planned.key, planned);
    fields.set(field.name, planned);
  }
  const special = SPECIAL[fullName];
  plan = { type, name: type.name, fullName, special, fields, wrapped: special === 'wrapper' ? fields.get('value') : undefined };
  plans.set(type, plan);
  return plan;
}

function planNamed(typeName: string): TypePlan {
  let plan = plansByName.get(typeName);
  if (plan === undefined) {
    plan = planOf(envoyProtos().lookupType(typeName));
    plansByName.set(typeName, plan);
  }
  return plan;
}

/**
 * A protobuf writer into one growing buffer, reused by every encode. A length-delimited field
 * reserves one byte for its length and moves its content when the length needs more.
 */
class ByteWriter {
  buf: Buffer = Buffer.allocUnsafeSlow(1 << 16);
  view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  pos = 0;
  /** Where each open length-delimited field starts (its reserved length byte). */
  readonly #forks: number[] = [];

  reset(): void {
    this.pos = 0;
    this.#forks.length = 0;
  }

  #ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + extra) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  /** Copies out what was written. */
  finish(): Uint8Array {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  uint32(value: number): void {
    this.#ensure(5);
    let v = value >>> 0;
    const buf = this.buf;
    let pos = this.pos;
    while (v > 127) {
      buf[pos++] = (v & 127) | 128;
      v >>>= 7;
    }
    buf[pos++] = v;
    this.pos = pos;
  }

  /** A varint of 64 bits given as two halves. */
  #varint64(lo: number, hi: number): void {
    this.#ensure(10);
    const buf = this.buf;
    let pos = this.pos;
    while (hi !== 0) {
      buf[pos++] = (lo & 127) | 128;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    while (lo > 127) {
      buf[pos++] = (lo & 127) | 128;
      lo >>>= 7;
    }
    buf[pos++] = lo;
    this.pos = pos;
  }

  int32(value: number): void {
    if (value >= 0) this.uint32(value);
    else this.#varint64(value >>> 0, 0xffffffff);
  }

  int64(value: number): void {
    if (value >= 0 && value <= 0xffffffff) this.uint32(value);
    else {
      const bits = protobuf.util.LongBits.fromNumber(value);
      this.#varint64(bits.lo >>> 0, bits.hi >>> 0);
    }
  }

  sint32(value: number): void {
    this.uint32(((value << 1) ^ (value >> 31)) >>> 0);
  }

  sint64(value: number): void {
    const bits = protobuf.util.LongBits.fromNumber(value).zzEncode();
    this.#varint64(bits.lo >>> 0, bits.hi >>> 0);
  }

  fixed32(value: number): void {
    this.#ensure(4);
    this.view.setUint32(this.pos, value >>> 0, true);
    this.pos += 4;
  }

  fixed64(value: number): void {
    const bits = protobuf.util.LongBits.fromNumber(value);
    this.#ensure(8);
    this.view.setUint32(this.pos, bits.lo >>> 0, true);
    this.view.setUint32(this.pos + 4, bits.hi >>> 0, true);
    this.pos += 8;
  }

  double(value: number): void {
    this.#ensure(8);
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
  }

  float(value: number): void {
    this.#ensure(4);
    this.view.setFloat32(this.pos, value, true);
    this.pos += 4;
  }

  bool(value: boolean): void {
    this.#ensure(1);
    this.buf[this.pos++] = value ? 1 : 0;
  }

  bytes(value: Uint8Array): void {
    this.uint32(value.length);
    this.#ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }

  string(value: string): void {
    const length = value.length;
    // ASCII, the usual case, is one byte a character and needs no encoder.
    if (length < 128) {
      this.#ensure(1 + length * 3);
      const buf = this.buf;
      const start = this.pos;
      let pos = start + 1;
      for (let i = 0; i < length; i++) {
        const c = value.charCodeAt(i);
        if (c > 127) {
          this.pos = start;
          this.#utf8(value);
          return;
        }
        buf[pos++] = c;
      }
      buf[start] = length;
      this.pos = pos;
      return;
    }
    this.#utf8(value);
  }

  #utf8(value: string): void {
    const size = Buffer.byteLength(value, 'utf8');
    this.uint32(size);
    this.#ensure(size);
    this.buf.write(value, this.pos, 'utf8');
    this.pos += size;
  }

  /** Opens a length-delimited field; its tag is already written. */
  fork(): void {
    this.#ensure(1);
    this.#forks.push(this.pos);
    this.pos += 1;
  }

  /** Closes the field fork() opened, writing its length in front of it. */
  ldelim(): void {
    const start = this.#forks.pop()!;
    const length = this.pos - start - 1;
    if (length < 128) {
      this.buf[start] = length;
      return;
    }
    const size = length < 1 << 14 ? 2 : length < 1 << 21 ? 3 : length < 1 << 28 ? 4 : 5;
    this.#ensure(size - 1);
    this.buf.copyWithin(start + size, start + 1, this.pos);
    this.pos += size - 1;
    const end = this.pos;
    this.pos = start;
    this.uint32(length);
    this.pos = end;
  }
}

const writer = new ByteWriter();

/** Encodes the JSON form of a message of type `typeName` (`envoy.config.cluster.v3.Cluster`). */
export function encodeMessage(typeName: string, json: object): Uint8Array {
  const plan = planNamed(typeName);
  writer.reset();
  try {
    writeMessage(plan, json, writer);
  } catch (error) {
    if (error instanceof Failure) throw new ProtoJsonError(`${plan.name}${error.path}`, error.message);
    throw error;
  }
  return writer.finish();
}

/** Decodes bytes of type `typeName` into the JSON form. */
export function decodeMessage(typeName: string, bytes: Uint8Array): ProtoJson {
  const type = planNamed(typeName).type;
  return toJson(type, type.decode(bytes)) as ProtoJson;
}

/** Encodes a resource for an ADS response, as `google.protobuf.Any`. */
export function packAny(typeUrl: string, json: object): { type_url: string; value: Uint8Array } {
  return { type_url: typeUrl, value: encodeMessage(typeNameOf(typeUrl), json) };
}

/** Checks that the JSON form is a valid message of the type, throwing a ProtoJsonError if not. */
export function assertValidMessage(typeName: string, json: object): void {
  encodeMessage(typeName, json);
}

function isObject(json: unknown): json is Record<string, unknown> {
  return typeof json === 'object' && json !== null && !Array.isArray(json);
}

function writeMessage(plan: TypePlan, json: unknown, w: ByteWriter): void {
  switch (plan.special) {
    case undefined:
      if (!isObject(json)) throw new Failure(`expected an object for ${plan.name}`);
      writeFields(plan, json, w, false);
      return;
    case 'any':
      writeAny(json, w);
      return;
    case 'duration':
      writeDuration(json, w);
      return;
    case 'timestamp':
      writeTimestamp(json, w);
      return;
    case 'struct':
      writeStruct(json, w);
      return;
    case 'value':
      writeValue(json, w);
      return;
    case 'list':
      writeList(json, w);
      return;
    case 'wrapper': {
      const field = plan.wrapped!;
      w.uint32(field.tag);
      writeScalar(field, json, w);
      return;
    }
  }
}

/** The fields of the messages being written, from the outermost in; each message uses the part above its caller's. */
const pendingFields: FieldPlan[] = [];
const pendingValues: unknown[] = [];

/** Writes the fields of `json` in field-number order, so that equal messages give equal bytes. */
function writeFields(plan: TypePlan, json: Record<string, unknown>, w: ByteWriter, skipType: boolean): void {
  const base = pendingFields.length;
  let oneofs = 0;
  let ordered = true;
  let lastId = 0;
  try {
    for (const key in json) {
      if (skipType && key === '@type') continue;
      const field = plan.fields.get(key);
      if (field === undefined) throw new Failure(`unknown field of ${plan.name}`, `.${key}`);
      const value = json[key];
      if (value === null || value === undefined) continue;
      if (field.oneofBit !== 0) {
        if ((oneofs & field.oneofBit) !== 0) throw oneofConflict(plan, json, key, field);
        oneofs |= field.oneofBit;
      }
      if (field.id < lastId) ordered = false;
      lastId = field.id;
      pendingFields.push(field);
      pendingValues.push(value);
    }
    const end = pendingFields.length;
    if (!ordered) sortPending(base, end);
    for (let i = base; i < end; i++) writeField(pendingFields[i]!, pendingValues[i], w);
  } finally {
    pendingFields.length = base;
    pendingValues.length = base;
  }
}

/** Insertion sort by field number: a message has a handful of fields. */
function sortPending(from: number, to: number): void {
  for (let i = from + 1; i < to; i++) {
    const field = pendingFields[i]!;
    const value = pendingValues[i];
    let j = i - 1;
    while (j >= from && pendingFields[j]!.id > field.id) {
      pendingFields[j + 1] = pendingFields[j]!;
      pendingValues[j + 1] = pendingValues[j];
      j--;
    }
    pendingFields[j + 1] = field;
    pendingValues[j + 1] = value;
  }
}

function oneofConflict(plan: TypePlan, json: Record<string, unknown>, key: string, field: FieldPlan): Failure {
  const other = Object.keys(json).find((k) => k !== key && json[k] != null && plan.fields.get(k)?.oneofBit === field.oneofBit);
  return new Failure(`only one of ${field.field.partOf!.oneof.join(', ')} may be set (${other} is set too)`, `.${key}`);
}

function writeField(field: FieldPlan, value: unknown, w: ByteWriter): void {
  let at = '';
  try {
    if (field.map) {
      if (!isObject(value)) throw new Failure('expected an object (a map)');
      for (const k of Object.keys(value)) {
        at = `["${k}"]`;
        w.uint32(field.tag);
        w.fork();
        w.uint32(field.keyTag);
        writeMapKey(field.keyType, k, w);
        writeSingle(field, field.valueTag, value[k], w);
        w.ldelim();
      }
    } else if (field.repeated) {
      if (!Array.isArray(value)) throw new Failure('expected a list');
      if (value.length === 0) return;
      if (field.packed) {
        w.uint32(field.tag);
        w.fork();
        for (let i = 0; i < value.length; i++) {
          at = `[${i}]`;
          writeScalar(field, value[i], w);
        }
        w.ldelim();
      } else {
        for (let i = 0; i < value.length; i++) {
          at = `[${i}]`;
          writeSingle(field, field.tag, value[i], w);
        }
      }
    } else {
      writeSingle(field, field.tag, value, w);
    }
  } catch (error) {
    throw within(error, `.${field.key}${at}`);
  }
}

function writeSingle(field: FieldPlan, tag: number, value: unknown, w: ByteWriter): void {
  w.uint32(tag);
  if (field.messageType === undefined) {
    writeScalar(field, value, w);
    return;
  }
  w.fork();
  writeMessage((field.messagePlan ??= planOf(field.messageType)), value, w);
  w.ldelim();
}

function writeMapKey(keyType: string, key: string, w: ByteWriter): void {
  if (keyType === 'string') {
    w.string(key);
    return;
  }
  if (keyType === 'bool') {
    w.bool(key === 'true');
    return;
  }
  if (!/^-?\d+$/.test(key)) throw new Failure(`expected an integer map key (${keyType})`);
  writeInteger(keyType, Number(key), w);
}

function writeScalar(field: FieldPlan, value: unknown, w: ByteWriter): void {
  const enumType = field.enumType;
  if (enumType !== undefined) {
    if (typeof value === 'string') {
      const number = enumType.values[value];
      if (number === undefined) throw new Failure(`"${value}" is not a value of ${enumType.name} (${Object.keys(enumType.values).join(', ')})`);
      w.int32(number);
      return;
    }
    if (typeof value === 'number' && Number.isInteger(value)) {
      w.int32(value);
      return;
    }
    throw new Failure(`expected a ${enumType.name} name`);
  }
  const type = field.scalar!;
  switch (type) {
    case 'string':
      if (typeof value !== 'string') throw new Failure('expected a string');
      w.string(value);
      return;
    case 'bool':
      if (typeof value !== 'boolean') throw new Failure('expected true or false');
      w.bool(value);
      return;
    case 'bytes':
      if (typeof value === 'string') w.bytes(Buffer.from(value, 'base64'));
      else if (value instanceof Uint8Array) w.bytes(value);
      else throw new Failure('expected base64 bytes');
      return;
    case 'double':
      if (typeof value !== 'number') throw new Failure('expected a number');
      w.double(value);
      return;
    case 'float':
      if (typeof value !== 'number') throw new Failure('expected a number');
      w.float(value);
      return;
    default: {
      const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n)) throw new Failure(`expected an integer (${type})`);
      if (n < 0 && (type.startsWith('uint') || type.startsWith('fixed'))) throw new Failure(`expected a non-negative integer (${type})`);
      writeInteger(type, n, w);
    }
  }
}

function writeInteger(type: string, n: number, w: ByteWriter): void {
  switch (type) {
    case 'int32': w.int32(n); return;
    case 'uint32': w.uint32(n); return;
    case 'sint32': w.sint32(n); return;
    case 'fixed32': w.fixed32(n); return;
    case 'sfixed32': w.fixed32(n); return;
    case 'int64': w.int64(n); return;
    case 'uint64': w.int64(n); return;
    case 'sint64': w.sint64(n); return;
    case 'fixed64': w.fixed64(n); return;
    case 'sfixed64': w.fixed64(n); return;
    default: throw new Failure(`cannot write a ${type}`);
  }
}

function writeAny(json: unknown, w: ByteWriter): void {
  if (!isObject(json)) throw new Failure('expected an object with "@type"');
  const typeUrl = json['@type'];
  if (typeof typeUrl !== 'string') throw new Failure('an Any needs "@type"');
  let inner: TypePlan;
  try {
    inner = planNamed(typeNameOf(typeUrl));
  } catch {
    throw new Failure(`"${typeUrl}" names no known message type`);
  }
  // Any: type_url = 1, value = 2 (the inner message's bytes, written in place).
  w.uint32(10);
  w.string(typeUrl.includes('/') ? typeUrl : `${TYPE_URL_PREFIX}${typeUrl}`);
  w.uint32(18);
  w.fork();
  try {
    if (inner.special !== undefined) writeMessage(inner, json['value'], w);
    else writeFields(inner, json, w, true);
  } catch (error) {
    throw within(error, `(${inner.name})`);
  }
  w.ldelim();
}

const DURATION = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;

/** Duration and Timestamp: seconds = 1 (int64), nanos = 2 (int32); zeros are left out, as proto3 does. */
function writeSecondsAndNanos(seconds: number, nanos: number, w: ByteWriter): void {
  if (seconds !== 0) {
    w.uint32(8);
    w.int64(seconds);
  }
  if (nanos !== 0) {
    w.uint32(16);
    w.int32(nanos);
  }
}

function writeDuration(json: unknown, w: ByteWriter): void {
  if (typeof json !== 'string') throw new Failure('expected a duration string such as "1.5s"');
  const m = DURATION.exec(json);
  if (m === null) throw new Failure(`"${json}" is not a proto3 duration (seconds with an "s" suffix, e.g. "0.250s")`);
  const sign = m[1] === '-' ? -1 : 1;
  writeSecondsAndNanos(sign * Number(m[2]), sign * Number((m[3] ?? '').padEnd(9, '0')), w);
}

function writeTimestamp(json: unknown, w: ByteWriter): void {
  const ms = typeof json === 'string' ? Date.parse(json) : NaN;
  if (Number.isNaN(ms)) throw new Failure('expected an RFC 3339 timestamp');
  writeSecondsAndNanos(Math.floor(ms / 1000), (((ms % 1000) + 1000) % 1000) * 1e6, w);
}

/** Struct: fields = 1, a map<string, Value>. */
function writeStruct(json: unknown, w: ByteWriter): void {
  if (!isObject(json)) throw new Failure('expected an object (a Struct)');
  for (const k of Object.keys(json)) {
    w.uint32(10);
    w.fork();
    w.uint32(10);
    w.string(k);
    w.uint32(18);
    w.fork();
    try {
      writeValue(json[k], w);
    } catch (error) {
      throw within(error, `.${k}`);
    }
    w.ldelim();
    w.ldelim();
  }
}

/** ListValue: values = 1. */
function writeList(json: unknown, w: ByteWriter): void {
  if (!Array.isArray(json)) throw new Failure('expected a list');
  for (let i = 0; i < json.length; i++) {
    w.uint32(10);
    w.fork();
    try {
      writeValue(json[i], w);
    } catch (error) {
      throw within(error, `[${i}]`);
    }
    w.ldelim();
  }
}

/** Value: null_value = 1, number_value = 2, string_value = 3, bool_value = 4, struct_value = 5, list_value = 6. */
function writeValue(json: unknown, w: ByteWriter): void {
  if (json === null) {
    w.uint32(8);
    w.int32(0);
  } else if (typeof json === 'number') {
    w.uint32(17);
    w.double(json);
  } else if (typeof json === 'string') {
    w.uint32(26);
    w.string(json);
  } else if (typeof json === 'boolean') {
    w.uint32(32);
    w.bool(json);
  } else if (Array.isArray(json)) {
    w.uint32(50);
    w.fork();
    writeList(json, w);
    w.ldelim();
  } else if (typeof json === 'object') {
    w.uint32(42);
    w.fork();
    writeStruct(json, w);
    w.ldelim();
  } else throw new Failure('not a JSON value');
}

/** Converts a decoded message (or its plain-object form) to Envoy's JSON form. */
export function toJson(type: protobuf.Type, message: unknown): unknown {
  const plan = planOf(type);
  const m = message as Record<string, unknown>;
  switch (plan.special) {
    case 'any': {
      const typeUrl = String(m['type_url'] ?? m['typeUrl'] ?? '');
      const inner = planNamed(typeNameOf(typeUrl));
      const decoded = toJson(inner.type, inner.type.decode(m['value'] as Uint8Array));
      return inner.special !== undefined ? { '@type': typeUrl, value: decoded } : { '@type': typeUrl, ...(decoded as object) };
    }
    case 'duration': {
      const seconds = longToNumber(m['seconds'] ?? 0);
      const nanos = Number(m['nanos'] ?? 0);
      const total = seconds + nanos / 1e9;
      return `${Number(total.toFixed(9))}s`;
    }
    case 'timestamp':
      return new Date(longToNumber(m['seconds'] ?? 0) * 1000 + Number(m['nanos'] ?? 0) / 1e6).toISOString();
    case 'struct':
      return structToJson(m);
    case 'value':
      return valueToJson(m);
    case 'list':
      return ((m['values'] as unknown[]) ?? []).map((v) => valueToJson(v as Record<string, unknown>));
    case 'wrapper':
      return scalarToJson(plan.wrapped!.field, m['value']);
    case undefined:
      break;
  }
  const out: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    const value = m[field.name];
    if (value === undefined || value === null) continue;
    if (!Object.prototype.hasOwnProperty.call(m, field.name)) continue;
    const key = plan.fields.get(field.name)!.key;
    if (field.map) {
      const entries = Object.entries(value as Record<string, unknown>);
      if (entries.length === 0) continue;
      out[key] = Object.fromEntries(entries.map(([k, v]) => [k, singleToJson(field, v)]));
    } else if (field.repeated) {
      if ((value as unknown[]).length === 0) continue;
      out[key] = (value as unknown[]).map((v) => singleToJson(field, v));
    } else {
      out[key] = singleToJson(field, value);
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

const LONG_TYPES: ReadonlySet<string> = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

function scalarToJson(field: protobuf.Field, value: unknown): unknown {
  if (field.type === 'bytes') return Buffer.from(value as Uint8Array).toString('base64');
  if (LONG_TYPES.has(field.type)) return longToNumber(value);
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
