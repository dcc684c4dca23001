import type { Diagnostic } from '../diagnostic.ts';
import type { MessageType } from '../messages.ts';
import { resourceRef, type AnyResource } from '../resource.ts';
import type { AnalysisContext } from './analysis-context.ts';

/**
 * One cross-resource check, like an istioctl analyzer. It reads the indexed input and returns its
 * findings; it never changes the input and never reads anything else, so analyzers can run in any order.
 */
export interface Analyzer {
  readonly name: string;
  /** Every message type this analyzer can report. */
  readonly messages: readonly MessageType[];
  analyze(context: AnalysisContext): Diagnostic[];
}

/**
 * A finding about `resource`, placed at the field `at` (a path below the object's root, such as
 * `['spec', 'http', 0, 'route', 1]`) or at the resource itself. Analyzer findings carry no `path`:
 * they are about how resources relate, and the line is what the reader needs.
 */
export function finding(type: MessageType, resource: AnyResource, message: string, at: readonly PropertyKey[] = []): Diagnostic {
  return {
    code: type.code,
    level: type.level,
    message,
    resource: resourceRef(resource),
    origin: at.length === 0 ? resource.origin : resource.locate(at),
  };
}
