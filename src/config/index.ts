export * from './diagnostic.ts';
export type { SourceFile } from './input/source-file.ts';
export { readSources } from './input/read-sources.ts';
export { readDocuments, type ConfigDocument } from './input/config-document.ts';
export { parseSources, parseDocument, type ParsedConfig, type ParseOptions } from './parse-resources.ts';
export { builtinKinds, type KindName, type KindObjects, type KindRegistry } from './kinds/registry.ts';
export type { KindDefinition } from './kinds/kind-definition.ts';
export { Messages, type MessageType, type MessageName } from './messages.ts';
export { ofKind, resourceRef, type AnyResource, type Resource } from './resource.ts';
