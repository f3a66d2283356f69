/**
 * Metric families derived from profiles. Names, types and HELP strings of the go_* families are
 * client_golang v1.14's (the version Prometheus 2.42 and Debian ship), matched exactly so that
 * dashboards built on client_golang work unchanged. Do not reword them.
 */
import type { MetricFamily, MetricType } from '../../core/model/metrics.js';

function family(name: string, type: MetricType, help: string, unit = ''): MetricFamily {
  return Object.freeze({ name, type, help, unit });
}

export const GO_GOROUTINES = family('go_goroutines', 'gauge', 'Number of goroutines that currently exist.');
export const GO_THREADS = family('go_threads', 'gauge', 'Number of OS threads created.');
export const GO_GC_DURATION = family('go_gc_duration_seconds', 'summary', 'A summary of the pause duration of garbage collection cycles.', 'seconds');
export const GO_LAST_GC = family('go_memstats_last_gc_time_seconds', 'gauge', 'Number of seconds since 1970 of last garbage collection.', 'seconds');

export const PPROF_UP = family('pprof_up', 'gauge', 'Whether every configured profile of the target was fetched and parsed (1) or not (0).');
export const PPROF_SCRAPE_DURATION = family('pprof_scrape_duration_seconds', 'gauge', 'How long the scrape of the target\'s profiles took.', 'seconds');

/** runtime.MemStats field -> client_golang family; all plain copies of one field. */
export const MEMSTATS_FAMILIES: ReadonlyArray<{ field: string; family: MetricFamily }> = [
  { field: 'Alloc', family: family('go_memstats_alloc_bytes', 'gauge', 'Number of bytes allocated and still in use.', 'bytes') },
  { field: 'TotalAlloc', family: family('go_memstats_alloc_bytes_total', 'counter', 'Total number of bytes allocated, even if freed.', 'bytes') },
  { field: 'Sys', family: family('go_memstats_sys_bytes', 'gauge', 'Number of bytes obtained from system.', 'bytes') },
  { field: 'Mallocs', family: family('go_memstats_mallocs_total', 'counter', 'Total number of mallocs.') },
  { field: 'Frees', family: family('go_memstats_frees_total', 'counter', 'Total number of frees.') },
  { field: 'HeapAlloc', family: family('go_memstats_heap_alloc_bytes', 'gauge', 'Number of heap bytes allocated and still in use.', 'bytes') },
  { field: 'HeapSys', family: family('go_memstats_heap_sys_bytes', 'gauge', 'Number of heap bytes obtained from system.', 'bytes') },
  { field: 'HeapIdle', family: family('go_memstats_heap_idle_bytes', 'gauge', 'Number of heap bytes waiting to be used.', 'bytes') },
  { field: 'HeapInuse', family: family('go_memstats_heap_inuse_bytes', 'gauge', 'Number of heap bytes that are in use.', 'bytes') },
  { field: 'HeapReleased', family: family('go_memstats_heap_released_bytes', 'gauge', 'Number of heap bytes released to OS.', 'bytes') },
  { field: 'HeapObjects', family: family('go_memstats_heap_objects', 'gauge', 'Number of allocated objects.') },
  { field: 'StackInuse', family: family('go_memstats_stack_inuse_bytes', 'gauge', 'Number of bytes in use by the stack allocator.', 'bytes') },
  { field: 'StackSys', family: family('go_memstats_stack_sys_bytes', 'gauge', 'Number of bytes obtained from system for stack allocator.', 'bytes') },
  { field: 'MSpanInuse', family: family('go_memstats_mspan_inuse_bytes', 'gauge', 'Number of bytes in use by mspan structures.', 'bytes') },
  { field: 'MSpanSys', family: family('go_memstats_mspan_sys_bytes', 'gauge', 'Number of bytes used for mspan structures obtained from system.', 'bytes') },
  { field: 'MCacheInuse', family: family('go_memstats_mcache_inuse_bytes', 'gauge', 'Number of bytes in use by mcache structures.', 'bytes') },
  { field: 'MCacheSys', family: family('go_memstats_mcache_sys_bytes', 'gauge', 'Number of bytes used for mcache structures obtained from system.', 'bytes') },
  { field: 'BuckHashSys', family: family('go_memstats_buck_hash_sys_bytes', 'gauge', 'Number of bytes used by the profiling bucket hash table.', 'bytes') },
  { field: 'GCSys', family: family('go_memstats_gc_sys_bytes', 'gauge', 'Number of bytes used for garbage collection system metadata.', 'bytes') },
  { field: 'OtherSys', family: family('go_memstats_other_sys_bytes', 'gauge', 'Number of bytes used for other system allocations.', 'bytes') },
  { field: 'NextGC', family: family('go_memstats_next_gc_bytes', 'gauge', 'Number of heap bytes when next garbage collection will take place.', 'bytes') },
];

// go_pprof_*: values no client_golang metric has. A breakdown series carries `function` (or
// `state`); the series of the same family without that label is the target's total.
// `function="other"` sums what is outside the top N (Go function names are package-qualified,
// so no real function is called "other").
export const GO_PPROF_GOROUTINES = family(
  'go_pprof_goroutines',
  'gauge',
  'Goroutines by the top non-runtime function of their stack (goroutine profile); function="other" sums those outside the top N.',
);
export const GO_PPROF_GOROUTINES_BY_STATE = family('go_pprof_goroutines_by_state', 'gauge', 'Goroutines by wait state (chan receive, select, IO wait, running, ...), from goroutine?debug=2.');
export const GO_PPROF_GOROUTINE_WAIT_MAX = family(
  'go_pprof_goroutine_wait_max_seconds',
  'gauge',
  'Longest time a goroutine has been waiting, from goroutine?debug=2; Go reports waits in whole minutes from one minute up, so 0 means under a minute.',
  'seconds',
);
export const GO_PPROF_HEAP_INUSE_BYTES = family('go_pprof_heap_inuse_bytes', 'gauge', 'Heap bytes in use as of the last GC, total and by allocating function (heap profile, sampled and scaled by Go).', 'bytes');
export const GO_PPROF_HEAP_INUSE_OBJECTS = family('go_pprof_heap_inuse_objects', 'gauge', 'Heap objects in use as of the last GC, total and by allocating function (heap profile, sampled and scaled by Go).');
export const GO_PPROF_HEAP_ALLOCATED_BYTES = family(
  'go_pprof_heap_allocated_bytes_total',
  'counter',
  'Heap bytes allocated since the program started, total and by allocating function (heap profile, sampled and scaled by Go).',
  'bytes',
);
export const GO_PPROF_HEAP_ALLOCATED_OBJECTS = family(
  'go_pprof_heap_allocated_objects_total',
  'counter',
  'Heap objects allocated since the program started, total and by allocating function (heap profile, sampled and scaled by Go).',
);
export const GO_PPROF_MUTEX_CONTENTIONS = family('go_pprof_mutex_contentions_total', 'counter', 'Contended mutex unlocks recorded by the mutex profile since the program started, total and by function (scaled by the profile fraction).');
export const GO_PPROF_MUTEX_DELAY = family('go_pprof_mutex_delay_seconds_total', 'counter', 'Time goroutines waited for mutexes held by the function, recorded by the mutex profile, total and by function.', 'seconds');
export const GO_PPROF_BLOCK_CONTENTIONS = family('go_pprof_block_contentions_total', 'counter', 'Blocking events (channels, select, locks, ...) recorded by the block profile since the program started, total and by function.');
export const GO_PPROF_BLOCK_DELAY = family('go_pprof_block_delay_seconds_total', 'counter', 'Time goroutines spent blocked, recorded by the block profile, total and by function.', 'seconds');
export const GO_PPROF_CPU_SECONDS = family(
  'go_pprof_cpu_seconds_total',
  'counter',
  'CPU seconds sampled by the CPU profile during pprofcol\'s profiling windows only (no extrapolation to the time between windows), accumulated by pprofcol since it started, total and by function.',
  'seconds',
);
export const GO_PPROF_CPU_UTILIZATION = family(
  'go_pprof_cpu_utilization_ratio',
  'gauge',
  'CPU seconds per second (cores busy) over the last CPU profile window, total and by function.',
  'ratio',
);
