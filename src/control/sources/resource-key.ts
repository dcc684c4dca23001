import { Messages, resourceRef, type AnyResource, type Diagnostic } from '../../config/index.ts';

/** What makes a resource one resource: its kind, namespace and name. */
export function resourceKey(resource: { readonly kind: string; readonly namespace: string; readonly name: string }): string {
  return `${resource.kind}/${resource.namespace}/${resource.name}`;
}

/** WFT0115 for `resource`, which has the key of `kept` and is dropped in its favour (the same text as `weft analyze`). */
export function duplicateResource(resource: AnyResource, kept: AnyResource): Diagnostic {
  const name = resource.namespace === '' ? resource.name : `${resource.namespace}/${resource.name}`;
  return {
    code: Messages.DuplicateResource.code,
    level: Messages.DuplicateResource.level,
    message: `${resource.kind} ${name} is defined twice; the definition at ${kept.origin.file}:${kept.origin.line} is kept`,
    origin: resource.origin,
    resource: resourceRef(resource),
  };
}
