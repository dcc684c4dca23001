import * as z from 'zod';
import { addIssue, ALWAYS, crossField, dns1123Label, hostName, isDns1123Label, isDns1123Subdomain, PortSelector } from '../../schema/common.ts';

/** Shared by several networking kinds. */

/** Where traffic goes: a host in the registry, optionally a subset of a DestinationRule and a port. */
export const Destination = z.strictObject({
  host: hostName,
  subset: dns1123Label.optional(),
  port: PortSelector.optional(),
});
export type Destination = z.infer<typeof Destination>;

/**
 * `exportTo`: `.` (this namespace), `*` (all, the default), `~` (none) or namespace names; `.` and
 * `*` cannot be mixed with other entries in a way that contradicts them.
 */
export const exportTo = z.array(z.string()).superRefine(crossField((entries, ctx) => {
  entries.forEach((entry, i) => {
    if (entry !== '.' && entry !== '*' && entry !== '~' && !isDns1123Label(entry)) {
      addIssue(ctx, [i], `"${entry}" is not ".", "*", "~" or a namespace name`);
    }
  });
  if (entries.includes('*') && entries.length > 1) addIssue(ctx, [], 'exportTo "*" already means every namespace; it cannot be combined with other entries');
  if (entries.includes('~') && entries.length > 1) addIssue(ctx, [], 'exportTo "~" means no namespace; it cannot be combined with other entries');
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
