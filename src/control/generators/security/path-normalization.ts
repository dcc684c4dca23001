import type { HttpConnectionManager } from '../../../xds/envoy/index.ts';
import type { PathNormalization } from '../../model/mesh-config.ts';

/** The HTTP connection manager settings for a mesh's path normalization. */
export interface PathNormalizationOptions {
  readonly normalizePath: boolean;
  readonly mergeSlashes: boolean;
  readonly pathWithEscapedSlashesAction: Extract<HttpConnectionManager['pathWithEscapedSlashesAction'], 'KEEP_UNCHANGED' | 'UNESCAPE_AND_FORWARD'>;
}

/** Istio's mapping (pilot/pkg/networking/core/listener_builder.go): each mode adds to the one before. */
export function pathNormalizationOptions(mode: PathNormalization): PathNormalizationOptions {
  switch (mode) {
    case 'NONE': return { normalizePath: false, mergeSlashes: false, pathWithEscapedSlashesAction: 'KEEP_UNCHANGED' };
    case 'BASE': return { normalizePath: true, mergeSlashes: false, pathWithEscapedSlashesAction: 'KEEP_UNCHANGED' };
    case 'MERGE_SLASHES': return { normalizePath: true, mergeSlashes: true, pathWithEscapedSlashesAction: 'KEEP_UNCHANGED' };
    case 'DECODE_AND_MERGE_SLASHES': return { normalizePath: true, mergeSlashes: true, pathWithEscapedSlashesAction: 'UNESCAPE_AND_FORWARD' };
  }
}
