/** The quantile label values client_golang writes for go_gc_duration_seconds. */
export const GC_DURATION_QUANTILE_LABELS = ['0', '0.25', '0.5', '0.75', '1'] as const;
