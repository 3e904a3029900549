//! Histogram samples must not pile up in a server nobody scrapes: the recorder keeps each
//! sample raw until upkeep folds it into the buckets, so without upkeep every request's and
//! every append's timing would stay in memory for the life of the process.
//!
//! The bytes in use are counted by this test binary's allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

struct Counting;

static IN_USE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        IN_USE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const NAME: &str = "baedal_upkeep_probe_seconds";

#[test]
fn unscraped_histogram_samples_are_folded_into_buckets_and_freed() {
    baedal::telemetry::metrics();
    // The series exists before the baseline: only the samples should come and go.
    metrics::histogram!(NAME).record(0.001);
    let before = IN_USE.load(Ordering::Relaxed);
    for i in 0..500_000 {
        metrics::histogram!(NAME).record(f64::from(i % 1000) / 1e4);
    }
    let grown = IN_USE.load(Ordering::Relaxed) - before;
    assert!(grown > 2_000_000, "500k samples should take megabytes raw, took {grown} bytes");

    // Upkeep runs every few seconds; freed blocks are reclaimed as the recorder keeps being
    // used, so keep recording a trickle meanwhile.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut held = grown;
    while Instant::now() < deadline {
        for _ in 0..200 {
            metrics::histogram!(NAME).record(0.002);
        }
        std::thread::sleep(Duration::from_millis(50));
        held = IN_USE.load(Ordering::Relaxed) - before;
        if held < grown / 10 {
            return;
        }
    }
    panic!("{held} of {grown} bytes of histogram samples still held after 20 s without a scrape");
}
