import * as z from 'zod';
import { addIssue, ALWAYS, crossField, hostName, isDns1123Label, isDns1123Subdomain, PortSelector } from '../../schema/common.ts';

/** Shared by several networking kinds. */

/** A DestinationRule subset's name: Istio's DNS-1123 label check, which also allows upper case. */
export const subsetName = z.string().check((ctx) => {
  if (!/^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/.test(ctx.value) || ctx.value.length > 63) {
    ctx.issues.push({ code: 'custom', message: `"${ctx.value}" is not a valid subset name (at most 63 letters, digits and '-', starting and ending with a letter or digit)`, input: ctx.value });
  }
});

/** Where traffic goes: a host in the registry, optionally a subset of a DestinationRule and a port. */
export const Destination = z.strictObject({
  host: hostName,
  subset: subsetName.optional(),
  port: PortSelector.optional(),
});
export type Destination = z.infer<typeof Destination>;

/**
 * `exportTo`: `.` (this namespace), `*` (all, the default) or namespace names. Istio refuses `~`
 * (none) for its configuration objects; only a Service's annotation may say it.
 */
export const exportTo = z.array(z.string()).superRefine(crossField((entries, ctx) => {
  entries.forEach((entry, i) => {
    if (entry === '~') addIssue(ctx, [i], 'exportTo "~" (no namespace) is not allowed for Istio configuration; remove the resource instead');
    else if (entry !== '.' && entry !== '*' && !isDns1123Label(entry)) addIssue(ctx, [i], `"${entry}" is not ".", "*" or a namespace name`);
  });
  if (entries.includes('*') && entries.length > 1) addIssue(ctx, [], 'exportTo "*" already means every namespace; it cannot be combined with other entries');
}), ALWAYS);

/** A gateway reference: `mesh`, `name` (same namespace) or `namespace/name`. */
export function gatewayReferenceProblem(value: string): string | undefined {
  if (value === 'mesh') return undefined;
  const parts = value.split('/');
  if (parts.length > 2) return `gateway "${value}" must be "mesh", "<name>" or "<namespace>/<name>"`;
  if (parts.length === 2 && !isDns1123Label(parts[0]!)) return `gateway "${value}": "${parts[0]}" is not a namespace name`;
  const name = parts[parts.length - 1]!;
  if (!isDns1123Subdomain(name)) return `gateway "${value}": "${name}" is not a valid resource name`;
  return undefined;
}

export const gatewayReferences = z.array(z.string()).superRefine(crossField((entries, ctx) => {
  entries.forEach((entry, i) => {
    const problem = gatewayReferenceProblem(entry);
    if (problem !== undefined) addIssue(ctx, [i], problem);
  });
}), ALWAYS);
