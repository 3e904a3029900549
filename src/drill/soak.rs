//! The soak: the websocket load mix ([`crate::sim::load`]) for a long while against one
//! server, with the server's resident memory and open descriptors (its sockets) sampled
//! every minute. A leak shows as a trend: the least-squares slope over the samples after
//! the warm-up must stay under a small bound.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::sim::load::{self, LoadPlan, LoadReport};

/// One minute's reading of the server process.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub minute: f64,
    pub rss_mib: f64,
    pub open_fds: usize,
}

pub struct SoakReport {
    pub samples: Vec<Sample>,
    pub load: LoadReport,
    /// Least-squares slope of resident memory over the samples after the warm-up, MiB/min.
    pub rss_slope_mib_per_min: f64,
    pub fd_slope_per_min: f64,
}

/// Memory may wander by allocator noise, not climb: under 1 MiB a minute (30 MiB over the
/// standard half hour) after warming up.
const RSS_SLOPE_BOUND: f64 = 1.0;
/// Connections are held steady by the load: a descriptor leak of even one per minute fails.
const FD_SLOPE_BOUND: f64 = 1.0;
/// Samples before this minute are warm-up (connections opening, caches filling).
const WARMUP_MINUTES: f64 = 3.0;

impl SoakReport {
    pub fn passed(&self) -> bool {
        self.rss_slope_mib_per_min < RSS_SLOPE_BOUND && self.fd_slope_per_min < FD_SLOPE_BOUND
    }
}

impl std::fmt::Display for SoakReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "minute   rss MiB   open fds")?;
        for s in &self.samples {
            writeln!(f, "{:>6.1}  {:>8.1}  {:>9}", s.minute, s.rss_mib, s.open_fds)?;
        }
        writeln!(f, "{}", self.load)?;
        writeln!(
            f,
            "trend after {WARMUP_MINUTES} min: rss {:+.2} MiB/min (bound {RSS_SLOPE_BOUND}), fds {:+.2}/min (bound {FD_SLOPE_BOUND})",
            self.rss_slope_mib_per_min, self.fd_slope_per_min
        )?;
        write!(f, "result: {}", if self.passed() { "PASS" } else { "FAIL" })
    }
}

/// Run `plan` against the server with process id `pid`, sampling every `every`.
pub async fn run(pid: u32, plan: LoadPlan, every: Duration) -> anyhow::Result<SoakReport> {
    let started = Instant::now();
    // Shared, not returned: the sampler is aborted when the load ends, and an aborted task
    // returns nothing.
    let taken = Arc::new(Mutex::new(Vec::new()));
    let into = taken.clone();
    let sampler = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let (Some(rss_kib), Some(open_fds)) = (rss_kib(pid), open_fds(pid)) else { return };
            let sample =
                Sample { minute: started.elapsed().as_secs_f64() / 60.0, rss_mib: rss_kib as f64 / 1024.0, open_fds };
            println!("minute {:>5.1}: rss {:>7.1} MiB, {:>6} open fds", sample.minute, sample.rss_mib, sample.open_fds);
            if let Ok(mut samples) = into.lock() {
                samples.push(sample);
            }
        }
    });
    let report = load::run(plan).await;
    sampler.abort();
    let samples = std::mem::take(&mut *taken.lock().map_err(|_| anyhow::anyhow!("sample lock poisoned"))?);
    let report = report?;
    let steady: Vec<&Sample> = samples.iter().filter(|s| s.minute >= WARMUP_MINUTES).collect();
    let rss_slope = slope(steady.iter().map(|s| (s.minute, s.rss_mib)));
    let fd_slope = slope(steady.iter().map(|s| (s.minute, s.open_fds as f64)));
    Ok(SoakReport { samples, load: report, rss_slope_mib_per_min: rss_slope, fd_slope_per_min: fd_slope })
}

/// Least-squares slope of y over x (0 for fewer than two points).
pub fn slope(points: impl Iterator<Item = (f64, f64)>) -> f64 {
    let points: Vec<(f64, f64)> = points.collect();
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx == 0.0 {
        0.0
    } else {
        sxy / sxx
    }
}

/// Resident memory of process `pid` in KiB (Linux).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Open descriptors of process `pid` (its sockets included).
pub fn open_fds(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

#[cfg(test)]
mod tests {
    use super::slope;

    #[test]
    fn slope_of_a_line_and_of_noise() {
        assert!((slope((0..10).map(|x| (x as f64, 3.0 * x as f64 + 1.0))) - 3.0).abs() < 1e-9);
        assert_eq!(slope([(1.0, 5.0)].into_iter()), 0.0);
        let flat = [(0.0, 10.0), (1.0, 11.0), (2.0, 9.0), (3.0, 10.0)];
        assert!(slope(flat.into_iter()).abs() < 0.5);
    }
}
