import * as z from 'zod';
import { RE2JS } from 're2js';
import { parseDuration, type Milliseconds } from '../../core/index.ts';

/**
 * Building blocks shared by every kind's schema. Each carries Istio's own validation rule, and
 * its error text says what is expected, because users read these messages.
 */

type RefineContext = z.core.$RefinementCtx<unknown>;

/** Adds a finding at `path` below the value being refined; `code` overrides the schema-error code. */
export function addIssue(ctx: RefineContext, path: readonly PropertyKey[], message: string, code?: string): void {
  ctx.addIssue({ code: 'custom', message, path: [...path], input: undefined, ...(code !== undefined ? { params: { code } } : {}) });
}

/**
 * Cross-field rules run even when a field inside already failed, so a user sees every problem at
 * once: `schema.superRefine(crossField(crossField((value, ctx) => ...), ALWAYS), ALWAYS)`. A rule that trips over such
 * a malformed value (a TypeError) is skipped, because that value's own error is already reported.
 */
export const ALWAYS = { when: (): boolean => true };

export function crossField<T>(rule: (value: T, ctx: RefineContext) => void): (value: T, ctx: RefineContext) => void {
  return (value, ctx) => {
    if (typeof value !== 'object' || value === null) return;
    try {
      rule(value, ctx);
    } catch (e) {
      if (!(e instanceof TypeError) || ctx.issues.length === 0) throw e;
    }
  };
}

/** A duration written as Istio writes it (`1.5s`, `100ms`), at least 1 ms unless said otherwise. */
export function duration(options: { min?: Milliseconds; max?: Milliseconds } = {}): z.ZodType<string> {
  const min = options.min ?? 1;
  return z.custom<string>().check((ctx) => {
    const value: unknown = ctx.value;
    if (value === undefined) {
      ctx.issues.push({ code: 'invalid_type', expected: 'string', input: value });
      return;
    }
    if (typeof value !== 'string') {
      ctx.issues.push({ code: 'custom', message: `expected a duration such as "10s" or "100ms", got ${typeof value === 'number' ? `the number ${value} (add a unit)` : JSON.stringify(value) ?? 'nothing'}`, input: value });
      return;
    }
    const parsed = parseDuration(value);
    if (!parsed.ok) {
      ctx.issues.push({ code: 'custom', message: parsed.error, input: value });
    } else if (parsed.value < min) {
      ctx.issues.push({ code: 'custom', message: `duration must be at least ${min === 1 ? '1ms' : `${min}ms`}, got "${value}"`, input: value });
    } else if (options.max !== undefined && parsed.value > options.max) {
      ctx.issues.push({ code: 'custom', message: `duration must be at most ${options.max}ms, got "${value}"`, input: value });
    }
  });
}

export const portNumber = z.number().int().min(1).max(65535);
export const uint32 = z.number().int().min(0).max(4294967295);
export const int32 = z.number().int().min(-2147483648).max(2147483647);

/** Istio's Percent: a double 0..100. */
export const percent = z.strictObject({ value: z.number().min(0).max(100) });

/** A regular expression in RE2 syntax, which Envoy uses: look-arounds and back-references are refused. */
export const re2Regex = z.string().check((ctx) => {
  try {
    RE2JS.compile(ctx.value);
  } catch (e) {
    ctx.issues.push({ code: 'custom', message: `invalid RE2 regular expression "${ctx.value}": ${(e as Error).message.replace(/^error parsing regexp: /, '')}`, input: ctx.value });
  }
});

/** Istio's StringMatch: exactly one of exact, prefix, regex (an empty match tests presence where Istio allows it). */
export const StringMatch = z
  .strictObject({ exact: z.string().optional(), prefix: z.string().optional(), regex: re2Regex.optional() })
  .superRefine(crossField((m, ctx) => {
    const set = (['exact', 'prefix', 'regex'] as const).filter((k) => m[k] !== undefined);
    if (set.length > 1) addIssue(ctx, [], `only one of exact, prefix or regex may be set, got ${set.join(' and ')}`);
  }), ALWAYS);
export type StringMatch = z.infer<typeof StringMatch>;

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isDns1123Label(value: string): boolean {
  return value.length <= 63 && DNS1123_LABEL.test(value);
}

export function isDns1123Subdomain(value: string): boolean {
  return value.length <= 253 && DNS1123_SUBDOMAIN.test(value);
}

export const dns1123Label = z.string().check((ctx) => {
  if (!isDns1123Label(ctx.value)) {
    ctx.issues.push({ code: 'custom', message: `"${ctx.value}" is not a DNS-1123 label (at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit)`, input: ctx.value });
  }
});

export const dns1123Subdomain = z.string().check((ctx) => {
  if (!isDns1123Subdomain(ctx.value)) {
    ctx.issues.push({ code: 'custom', message: `"${ctx.value}" is not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', at most 253 characters, starting and ending with a letter or digit)`, input: ctx.value });
  }
});

const HOST_LABEL = /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const WILDCARD_LABEL = /^(\*|(\*|\*-)?[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)$/;

/**
 * Why `host` is not a valid host name, or undefined when it is. Istio's rule: labels of letters,
 * digits and '-', a wildcard only in the first label (`*`, `*.example.com`, `*foo.example.com`),
 * at most 255 characters.
 */
export function hostNameProblem(host: string, options: { wildcard: boolean } = { wildcard: true }): string | undefined {
  if (host.length === 0) return 'host must not be empty';
  if (host.length > 255) return `host "${host}" is longer than 255 characters`;
  const trimmed = host.endsWith('.') ? host.slice(0, -1) : host;
  const labels = trimmed.split('.');
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    if (label.length > 63) return `host "${host}": label "${label}" is longer than 63 characters`;
    if (label.includes('*')) {
      if (!options.wildcard) return `host "${host}": wildcards are not allowed here`;
      if (i !== 0 || !WILDCARD_LABEL.test(label)) return `host "${host}": a wildcard '*' is allowed only at the start of the first label (e.g. "*.example.com")`;
    } else if (!HOST_LABEL.test(label)) {
      return `host "${host}" is not a valid DNS name (label "${label}" must be letters, digits and '-', starting and ending with a letter or digit)`;
    }
  }
  return undefined;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIPv4(value: string): boolean {
  return IPV4.test(value);
}

export function isIP(value: string): boolean {
  if (isIPv4(value)) return true;
  return value.includes(':') && /^[0-9a-fA-F:.]+$/.test(value) && (value.match(/::/g) ?? []).length <= 1;
}

/** An IP address or CIDR block (`10.0.0.0/8`, `::1/128`). */
export function cidrProblem(value: string): string | undefined {
  const [ip, bits, extra] = value.split('/');
  if (extra !== undefined || ip === undefined || !isIP(ip)) return `"${value}" is not an IP address or CIDR block`;
  if (bits === undefined) return undefined;
  const max = isIPv4(ip) ? 32 : 128;
  if (!/^\d+$/.test(bits) || Number(bits) > max) return `"${value}": prefix length must be 0..${max}`;
  return undefined;
}

export const cidr = z.string().check((ctx) => {
  const problem = cidrProblem(ctx.value);
  if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
});

export const ipAddress = z.string().check((ctx) => {
  if (!isIP(ctx.value)) ctx.issues.push({ code: 'custom', message: `"${ctx.value}" is not an IP address`, input: ctx.value });
});

/** A host name as VirtualService, DestinationRule and ServiceEntry write it (wildcards allowed). */
export const hostName = z.string().check((ctx) => {
  const problem = hostNameProblem(ctx.value);
  if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
});

/** Kubernetes label keys: an optional DNS subdomain prefix and a name of at most 63 characters. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && !isDns1123Subdomain(prefix)) return `label key "${key}": prefix "${prefix}" is not a DNS-1123 subdomain`;
  if (name.length === 0 || name.length > 63 || !/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(name)) {
    return `label key "${key}" is not valid (at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit)`;
  }
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(value)) {
    return `label value "${value}" is not valid (at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit)`;
  }
  return undefined;
}

/** A map of Kubernetes labels; YAML numbers and booleans are refused, as Kubernetes refuses them. */
export const labels = z.record(z.string(), z.string()).superRefine(crossField((map, ctx) => {
  for (const [key, value] of Object.entries(map)) {
    const problem = labelKeyProblem(key) ?? (typeof value === 'string' ? labelValueProblem(value) : undefined);
    if (problem !== undefined) addIssue(ctx, [key], problem);
  }
}), ALWAYS);

export const WorkloadSelector = z.strictObject({ matchLabels: labels.optional() });
export type WorkloadSelector = z.infer<typeof WorkloadSelector>;

/** Istio's PolicyTargetReference (targetRef / targetRefs of security and telemetry kinds). */
export const PolicyTargetReference = z.strictObject({
  group: z.string().optional(),
  kind: z.string(),
  name: z.string(),
  namespace: z.string().optional(),
});

export const PortSelector = z.strictObject({ number: portNumber });
