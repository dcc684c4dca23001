import { isDeepStrictEqual } from 'node:util';
import { formatDiagnostic, type AnyResource, type Diagnostic } from '../../config/index.ts';
import { resourceKey } from './resource-key.ts';

/**
 * True when two configurations would make the same mesh and show the same findings. Where a
 * resource was written (its origin) is not compared: moving a resource down a file changes
 * nothing a proxy receives, and any finding whose line moved still counts as a change.
 */
export function sameConfig(
  a: { readonly resources: readonly AnyResource[]; readonly diagnostics: readonly Diagnostic[] },
  b: { readonly resources: readonly AnyResource[]; readonly diagnostics: readonly Diagnostic[] },
): boolean {
  return a.resources.length === b.resources.length &&
    a.resources.every((r, i) => sameResource(r, b.resources[i]!)) &&
    a.diagnostics.length === b.diagnostics.length &&
    a.diagnostics.every((d, i) => formatDiagnostic(d) === formatDiagnostic(b.diagnostics[i]!));
}

/** The same resource with the same content (its origin aside). */
export function sameResource(a: AnyResource, b: AnyResource): boolean {
  return a === b || (resourceKey(a) === resourceKey(b) && a.apiVersion === b.apiVersion && isDeepStrictEqual(a.object, b.object));
}
