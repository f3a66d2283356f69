/**
 * V8 settings of the daemon, set before any other module of it is evaluated (pprofcol.ts imports this
 * first).
 *
 * Allocation-site pretenuring off. V8 watches how many objects of each allocation site (an object or
 * array literal) survive a young-generation collection; past 85% it allocates that site's objects in
 * the old generation from then on, for good. The sites that make a scrape's points got pretenured
 * (most likely in a burst, such as every target's first scrape at start, when points do wait), so
 * every point of every scrape, dead within a second, became old-generation garbage that only a full
 * mark-sweep of the ~130 MiB heap (the encoders' series caches) frees. At 3,000 targets with
 * /debug/vars that was 6 full collections in 40 s against 1 with it off (bench/many-targets.ts,
 * PerformanceObserver 'gc'); what outlived a young collection fell from 92 to 25 MB in 40 s (a
 * sampling heap profile that drops what young collections free), the points' share from 24 MB to 0.3.
 * Side by side with the build before (MT_AB_DIST, 60 s): 0.405 against 0.511 ms of CPU per
 * target-scrape (x0.79), RSS 255 MiB against ~340. The cost is a few more young-generation copies of
 * objects that do live long. The flag is read when V8 digests the feedback, at each young collection,
 * so setting it here takes effect (the runs above set it the same way).
 */
import v8 from 'node:v8';

v8.setFlagsFromString('--no-allocation-site-pretenuring');
