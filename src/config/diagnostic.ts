/** Where a piece of configuration was written: 1-based line and column. */
export interface SourcePosition {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** Names a resource the way users and istioctl write it: `VirtualService default/reviews`. */
export interface ResourceRef {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

export type Level = 'Error' | 'Warning' | 'Info';

export const LEVEL_RANK: Readonly<Record<Level, number>> = { Info: 0, Warning: 1, Error: 2 };

/**
 * One finding about the configuration: a schema error or an analyzer's message. Every finding
 * carries a stable code (documented in docs/analysis.md) so that scripts can rely on it.
 */
export interface Diagnostic {
  readonly code: string;
  readonly level: Level;
  readonly message: string;
  readonly origin?: SourcePosition;
  readonly resource?: ResourceRef;
  /** The field the finding is about, as `spec.http[0].route[1].weight`. */
  readonly path?: string;
}

export function formatResourceRef(ref: ResourceRef): string {
  return ref.namespace === '' ? `${ref.kind} ${ref.name}` : `${ref.kind} ${ref.namespace}/${ref.name}`;
}

/** Joins a field path for display: `spec.http[0].match[0].headers["end-user"].exact`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else {
      const key = String(segment);
      if (/^[A-Za-z_$][\w$]*$/.test(key)) out += out === '' ? key : `.${key}`;
      else out += `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

/**
 * The one-line text form, Istio's analyzer shape with Weft's codes:
 * `Error [WFT0101] (VirtualService default/reviews reviews.yaml:12) Referenced host not found: "reviews"`.
 * A finding about a field, or about the text itself (broken YAML), also names its column.
 */
export function formatDiagnostic(d: Diagnostic): string {
  const where: string[] = [];
  if (d.resource !== undefined) where.push(formatResourceRef(d.resource));
  if (d.origin !== undefined) {
    const withColumn = d.path !== undefined || d.resource === undefined;
    where.push(withColumn ? `${d.origin.file}:${d.origin.line}:${d.origin.column}` : `${d.origin.file}:${d.origin.line}`);
  }
  const scope = where.length > 0 ? ` (${where.join(' ')})` : '';
  const field = d.path !== undefined && d.path !== '' ? `${d.path}: ` : '';
  return `${d.level} [${d.code}]${scope} ${field}${d.message}`;
}
