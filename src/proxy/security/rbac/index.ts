export { compileRbac, parseRbac, RbacEngine, type RbacAction, type RbacDecision } from './rbac-engine.ts';
export { parseRbacRuleSets, stringField, type RbacRuleSets } from './rbac-filter-config.ts';
export { rbacConnection, type RbacConnection, type RbacInput, type RbacMetadata, type RbacRequest } from './rbac-input.ts';
export { joinStatPrefix, RbacStats } from './rbac-stats.ts';
export { enumValue, isObject } from './raw-json.ts';
