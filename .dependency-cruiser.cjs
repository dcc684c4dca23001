/**
 * Keeps the one-way imports of ARCHITECTURE.md true. A module may import only the modules listed
 * for it; `main/` composes everything.
 */
const allowed = {
  core: ['core'],
  config: ['config', 'core'],
  xds: ['xds', 'core'],
  ca: ['ca', 'core'],
  control: ['control', 'config', 'xds', 'ca', 'core'],
  proxy: ['proxy', 'xds', 'core'],
  inject: ['inject', 'config', 'core'],
  local: ['local', 'config', 'core'],
  cli: ['cli', 'config', 'core'],
  dashboard: ['dashboard', 'config', 'core'],
};

const layerRules = Object.entries(allowed).map(([from, to]) => ({
  name: `${from}-imports-only-${to.join('-')}`,
  severity: 'error',
  comment: `src/${from} may import only ${to.map((m) => `src/${m}`).join(', ')} (ARCHITECTURE.md)`,
  from: { path: `^src/${from}/` },
  to: { path: '^src/', pathNot: `^src/(${to.join('|')})/` },
}));

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'control-flows-sources-snapshot-generators-ads',
      severity: 'error',
      comment: 'Inside control: sources -> snapshot -> generators -> ads, never back.',
      from: { path: '^src/control/(sources|snapshot|generators)/' },
      to: { path: '^src/control/ads/' },
    },
    {
      name: 'control-snapshot-not-back-to-generators',
      severity: 'error',
      from: { path: '^src/control/(sources|snapshot)/' },
      to: { path: '^src/control/generators/' },
    },
    {
      name: 'control-sources-not-back-to-snapshot',
      severity: 'error',
      from: { path: '^src/control/sources/' },
      to: { path: '^src/control/snapshot/' },
    },
    {
      name: 'http-filters-do-not-import-each-other',
      severity: 'error',
      comment: 'A proxy HTTP filter imports http, route and upstream, never another filter.',
      from: { path: '^src/proxy/http-filters/([^/]+)/' },
      to: { path: '^src/proxy/http-filters/', pathNot: ['^src/proxy/http-filters/$1/', '^src/proxy/http-filters/[^/]+\\.ts$'] },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
  },
};
