/**
 * Istio's `exportTo`: which namespaces see a resource. `*` is every namespace (the default when
 * nothing is written), `.` the resource's own, `~` none (only a Service's annotation may say it),
 * anything else a namespace by name.
 */

const PUBLIC = '*';

/** `exportTo` as written, with `.` replaced by `ownNamespace`, `~` dropped and duplicates removed; `['*']` when empty. */
export function normalizeExportTo(entries: readonly string[] | undefined, ownNamespace: string): readonly string[] {
  if (entries === undefined || entries.length === 0) return [PUBLIC];
  if (entries.includes(PUBLIC)) return [PUBLIC];
  const out = new Set<string>();
  for (const entry of entries) {
    if (entry === '~') continue;
    out.add(entry === '.' ? ownNamespace : entry);
  }
  return [...out];
}

/** The annotation `networking.istio.io/exportTo` of a Service: comma-separated entries. */
export function exportToAnnotation(value: string | undefined, ownNamespace: string): readonly string[] {
  if (value === undefined) return [PUBLIC];
  const entries = value.split(',').map((e) => e.trim()).filter((e) => e !== '');
  if (entries.includes('~')) return [];
  return normalizeExportTo(entries, ownNamespace);
}

/** Whether a normalized `exportTo` lets `namespace` see the resource. */
export function isExportedTo(exportTo: readonly string[], namespace: string): boolean {
  return exportTo.includes(PUBLIC) || exportTo.includes(namespace);
}

export function isPublic(exportTo: readonly string[]): boolean {
  return exportTo.includes(PUBLIC);
}
