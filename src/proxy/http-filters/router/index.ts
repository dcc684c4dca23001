export { RouterFilterFactory, type RouterConfig, type RouterFilterOptions } from './router-filter.ts';
export type { ConnectionPools } from './forwarded-request.ts';
