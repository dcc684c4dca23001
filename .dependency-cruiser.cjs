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
      name: 'control-model-does-not-import-later-layers',
      severity: 'error',
      comment: 'Inside control: model -> sources -> snapshot -> generators -> ads -> debug, never back.',
      from: { path: '^src/control/model/' },
      to: { path: '^src/control/(sources|snapshot|generators|ads|debug)/' },
    },
    {
      name: 'control-sources-does-not-import-later-layers',
      severity: 'error',
      comment: 'Inside control: model -> sources -> snapshot -> generators -> ads -> debug, never back.',
      from: { path: '^src/control/sources/' },
      to: { path: '^src/control/(snapshot|generators|ads|debug)/' },
    },
    {
      name: 'control-snapshot-does-not-import-later-layers',
      severity: 'error',
      comment: 'Inside control: model -> sources -> snapshot -> generators -> ads -> debug, never back.',
      from: { path: '^src/control/snapshot/' },
      to: { path: '^src/control/(generators|ads|debug)/' },
    },
    {
      name: 'control-generators-does-not-import-later-layers',
      severity: 'error',
      comment: 'Inside control: model -> sources -> snapshot -> generators -> ads -> debug, never back.',
      from: { path: '^src/control/generators/' },
      to: { path: '^src/control/(ads|debug)/' },
    },
    {
      name: 'control-ads-does-not-import-later-layers',
      severity: 'error',
      comment: 'Inside control: model -> sources -> snapshot -> generators -> ads -> debug, never back.',
      from: { path: '^src/control/ads/' },
      to: { path: '^src/control/(debug)/' },
    },
    {
      name: 'control-ca-server-stands-alone',
      severity: 'error',
      comment: 'The CA service needs only src/ca, src/xds and src/core; main/ composes it with ADS.',
      from: { path: '^src/control/ca-server/', pathNot: '\\.test\\.ts$' },
      to: { path: '^src/control/(model|sources|snapshot|generators|ads|debug)/' },
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
