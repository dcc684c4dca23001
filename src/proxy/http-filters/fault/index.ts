export { FaultFilterFactory, type FaultFilterOptions } from './fault-filter.ts';
export { FaultSettings, FAULT_HEADERS, parseFaultSettings } from './fault-settings.ts';
