import * as z from 'zod';
import { addIssue, ALWAYS, crossField } from '../../schema/common.ts';
import { defineKind, kubernetesObject } from '../kind-definition.ts';

/** The API server refuses Secrets larger than this. */
const MAX_SECRET_BYTES = 1024 * 1024;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function secretKeyProblem(key: string): string | undefined {
  if (key.length > 253) return `key "${key.slice(0, 40)}..." is longer than 253 characters`;
  if (!/^[-._a-zA-Z0-9]+$/.test(key)) return `key "${key}" may contain only letters, digits, '-', '_' and '.'`;
  if (key === '.' || key === '..') return `key "${key}" is not allowed`;
  if (key.startsWith('..')) return `key "${key}" must not start with ".."`;
  return undefined;
}

/**
 * Secret values are never echoed in messages, so a wrong type is reported without the value. It
 * does not abort, so the Secret's own rules still run and report everything at once.
 */
const secretString = z.custom<string>((v) => typeof v === 'string', { message: 'must be a string (quote numbers and booleans)', abort: false });

/** `data` values, base64-encoded as Kubernetes stores them; Go's decoder skips line breaks, so they are allowed. */
const base64Value = secretString.check((ctx) => {
  if (typeof ctx.value === 'string' && !BASE64.test(ctx.value.replace(/[\r\n]/g, ''))) {
    ctx.issues.push({ code: 'custom', message: 'is not base64-encoded (values under data are base64, as `kubectl create secret` writes them; put plain text under stringData instead)', input: undefined });
  }
});

function secretMap<V extends z.ZodType<string>>(value: V) {
  return z.record(z.string(), value).superRefine(crossField((map, ctx) => {
    for (const key of Object.keys(map)) {
      const problem = secretKeyProblem(key);
      if (problem !== undefined) addIssue(ctx, [key], problem);
    }
  }), ALWAYS);
}

/** The keys each built-in type requires: all of them, or (`anyOf`) at least one. */
const REQUIRED_KEYS: Readonly<Record<string, { keys: readonly string[]; anyOf?: boolean }>> = {
  'kubernetes.io/tls': { keys: ['tls.crt', 'tls.key'] },
  'kubernetes.io/basic-auth': { keys: ['username', 'password'], anyOf: true },
  'kubernetes.io/ssh-auth': { keys: ['ssh-privatekey'] },
  'kubernetes.io/dockercfg': { keys: ['.dockercfg'] },
  'kubernetes.io/dockerconfigjson': { keys: ['.dockerconfigjson'] },
};

/** Docker registry credentials must be JSON documents. */
const JSON_KEYS: Readonly<Record<string, string>> = {
  'kubernetes.io/dockercfg': '.dockercfg',
  'kubernetes.io/dockerconfigjson': '.dockerconfigjson',
};

const SERVICE_ACCOUNT_NAME_ANNOTATION = 'kubernetes.io/service-account.name';

export const SecretKind = defineKind({
  kind: 'Secret',
  group: '',
  versions: ['v1'],
  namespaced: true,
  schema: kubernetesObject({
    type: z.string().optional(),
    data: secretMap(base64Value).optional(),
    stringData: secretMap(secretString).optional(),
    immutable: z.boolean().optional(),
  }).superRefine(crossField((secret, ctx) => {
    // The API server merges stringData into data before it validates, so the rules see both.
    // A value of the wrong type (already reported) still counts as present.
    const values = new Map<string, Buffer>();
    const decode = (value: unknown, encoding: BufferEncoding): Buffer => (typeof value === 'string' ? Buffer.from(value, encoding) : Buffer.alloc(0));
    for (const [key, value] of Object.entries(secret.data ?? {})) values.set(key, decode(value, 'base64'));
    for (const [key, value] of Object.entries(secret.stringData ?? {})) values.set(key, decode(value, 'utf8'));
    const type = secret.type ?? 'Opaque';
    const required = REQUIRED_KEYS[type];
    if (required !== undefined) {
      const missing = required.keys.filter((k) => !values.has(k));
      if (required.anyOf === true ? missing.length === required.keys.length : missing.length > 0) {
        const keys = required.keys.join(required.anyOf === true ? ' or ' : ' and ');
        addIssue(ctx, ['data'], `a ${type} Secret needs ${required.anyOf === true ? 'the key' : 'the keys'} ${keys} in data or stringData${required.anyOf === true ? '' : `; missing ${missing.join(', ')}`}`);
      }
    }
    const jsonKey = JSON_KEYS[type];
    const json = jsonKey !== undefined ? values.get(jsonKey) : undefined;
    if (jsonKey !== undefined && json !== undefined) {
      try {
        JSON.parse(json.toString('utf8'));
      } catch {
        addIssue(ctx, [secret.stringData?.[jsonKey] !== undefined ? 'stringData' : 'data', jsonKey], 'must hold a JSON document');
      }
    }
    if (type === 'kubernetes.io/service-account-token' && secret.metadata.annotations?.[SERVICE_ACCOUNT_NAME_ANNOTATION] === undefined) {
      addIssue(ctx, ['metadata', 'annotations'], `a kubernetes.io/service-account-token Secret needs the annotation ${SERVICE_ACCOUNT_NAME_ANNOTATION}`);
    }
    const size = [...values.values()].reduce((sum, v) => sum + v.length, 0);
    if (size > MAX_SECRET_BYTES) addIssue(ctx, ['data'], `the Secret holds ${size} bytes; the limit is 1 MiB`);
  }), ALWAYS),
});
export type Secret = z.infer<typeof SecretKind.schema>;
