export type { Counter, Gauge, Histogram, StatsScope } from './stats.ts';
export type { AccessLogEntry, AccessLogSink } from './access-log.ts';
export { CounterStat, DEFAULT_HISTOGRAM_BUCKETS, GaugeStat, HistogramStat, StatsStore, type StatTag } from './stats-store.ts';
export { formatPrometheus, formatStatsJson, formatStatsText, prometheusName, type StatsQuery } from './stats-format.ts';
export { accessLogFormatter, formatAccessLogJson, formatAccessLogText, formatResponseFlags, type AccessLogEncoding, type AccessLogFormatter } from './access-log-formatter.ts';
export { BufferedAccessLogSink, openAccessLogFile, type AccessLogOutput, type BufferedAccessLogSinkOptions } from './buffered-access-log-sink.ts';
