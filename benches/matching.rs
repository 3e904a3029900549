//! Matcher benchmarks. Every figure is printed beside its baseline, measured in the same
//! run on the same input, as a ratio: absolute times drift on shared machines, ratios
//! much less.
//!
//! - k nearest free riders (k = 8, within 3 km) among 10k and 100k riders spread over a
//!   20 km x 20 km city: the rstar index vs a linear scan, and vs Redis GEOSEARCH on the
//!   local Redis holding the same points (one query per round trip, and pipelined).
//! - location ingest: position updates applied to the index at 100k riders, vs Redis GEOADD
//!   (pipelined).
//! - batch assignment: 1,000 open jobs against 10,000 riders on a dense city, the exact
//!   solver vs greedy nearest-first: time, and total pickup ETA.
//!
//! `cargo bench --bench matching` (Redis at 127.0.0.1:6379, or REDIS_URL).

use std::hint::black_box;
use std::time::{Duration, Instant};

use baedal::domain::{GeoPoint, OrderId, RiderId};
use baedal::matching::batch::{candidates, Job};
use baedal::matching::{BatchSettings, RiderIndex, SpeedModel};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const K: usize = 8;
const RADIUS_M: f64 = 3000.0;

fn centre() -> GeoPoint {
    GeoPoint::new(37.5665, 126.978).unwrap()
}

fn city(rng: &mut SmallRng, n: usize, half_side_m: f64) -> Vec<(RiderId, GeoPoint)> {
    (0..n)
        .map(|_| {
            let p =
                centre().offset_m(rng.gen_range(-half_side_m..half_side_m), rng.gen_range(-half_side_m..half_side_m));
            (RiderId::random(), p)
        })
        .collect()
}

/// Median over `samples` runs of `f`, each doing `ops` operations: seconds per operation.
fn per_op(samples: usize, ops: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    let mut times: Vec<f64> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() / ops as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn linear_k_nearest(riders: &[(RiderId, GeoPoint)], q: &GeoPoint) -> Vec<(RiderId, f64)> {
    let mut within: Vec<(RiderId, f64)> =
        riders.iter().map(|(id, p)| (*id, p.distance_m(q))).filter(|(_, d)| *d <= RADIUS_M).collect();
    let k = K.min(within.len());
    if k > 0 && k < within.len() {
        within.select_nth_unstable_by(k - 1, |a, b| a.1.total_cmp(&b.1));
        within.truncate(k);
    }
    within.sort_by(|a, b| a.1.total_cmp(&b.1));
    within
}

fn redis() -> Option<redis::Connection> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    match redis::Client::open(url.as_str()).and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2))) {
        Ok(conn) => Some(conn),
        Err(e) => {
            println!("  (Redis not reachable at {url}: {e}; its rows are skipped)");
            None
        }
    }
}

fn geoadd(conn: &mut redis::Connection, key: &str, riders: &[(RiderId, GeoPoint)]) {
    for chunk in riders.chunks(1000) {
        let mut cmd = redis::cmd("GEOADD");
        cmd.arg(key);
        for (id, p) in chunk {
            cmd.arg(p.lon()).arg(p.lat()).arg(id.to_string());
        }
        let _: i64 = cmd.query(conn).expect("GEOADD");
    }
}

fn geosearch(key: &str, q: &GeoPoint) -> redis::Cmd {
    let mut cmd = redis::cmd("GEOSEARCH");
    cmd.arg(key)
        .arg("FROMLONLAT")
        .arg(q.lon())
        .arg(q.lat())
        .arg("BYRADIUS")
        .arg(RADIUS_M)
        .arg("m")
        .arg("ASC")
        .arg("COUNT")
        .arg(K);
    cmd
}

fn k_nearest(rng: &mut SmallRng, n: usize, conn: &mut Option<redis::Connection>) {
    let riders = city(rng, n, 10_000.0);
    let index = RiderIndex::bulk(riders.iter().copied());
    let queries: Vec<GeoPoint> = (0..2000)
        .map(|_| centre().offset_m(rng.gen_range(-10_000.0..10_000.0), rng.gen_range(-10_000.0..10_000.0)))
        .collect();

    // The three must agree before they are timed.
    for q in queries.iter().take(50) {
        let a: Vec<RiderId> = index.k_nearest(q, K, RADIUS_M, |_| true).into_iter().map(|(r, _)| r).collect();
        let b: Vec<RiderId> = linear_k_nearest(&riders, q).into_iter().map(|(r, _)| r).collect();
        let overlap = a.iter().filter(|r| b.contains(r)).count();
        assert!(overlap + 1 >= a.len().min(b.len()), "rstar and the scan disagree");
    }

    let rstar = per_op(7, queries.len(), || {
        for q in &queries {
            black_box(index.k_nearest(q, K, RADIUS_M, |_| true));
        }
    });
    let scan_queries = &queries[..if n > 50_000 { 100 } else { 400 }];
    let scan = per_op(5, scan_queries.len(), || {
        for q in scan_queries {
            black_box(linear_k_nearest(&riders, q));
        }
    });
    println!("k-nearest (k={K}, r={RADIUS_M} m) among {n} riders on 20 km x 20 km");
    println!("  rstar index        {:>12.0} queries/s", 1.0 / rstar);
    println!("  linear scan        {:>12.0} queries/s   rstar is {:>8.1}x", 1.0 / scan, scan / rstar);
    if let Some(conn) = conn.as_mut() {
        let key = format!("bench:riders:{n}");
        let _: () = redis::cmd("DEL").arg(&key).query(conn).expect("DEL");
        geoadd(conn, &key, &riders);
        let redis_queries = &queries[..1000];
        let single = per_op(5, redis_queries.len(), || {
            for q in redis_queries {
                let found: Vec<String> = geosearch(&key, q).query(conn).expect("GEOSEARCH");
                black_box(found);
            }
        });
        let pipelined = per_op(5, redis_queries.len(), || {
            for chunk in redis_queries.chunks(100) {
                let mut pipe = redis::pipe();
                for q in chunk {
                    pipe.add_command(geosearch(&key, q));
                }
                let found: Vec<Vec<String>> = pipe.query(conn).expect("GEOSEARCH pipeline");
                black_box(found);
            }
        });
        println!(
            "  Redis GEOSEARCH    {:>12.0} queries/s   rstar is {:>8.1}x   (one query per round trip)",
            1.0 / single,
            single / rstar
        );
        println!(
            "  Redis GEOSEARCH    {:>12.0} queries/s   rstar is {:>8.1}x   (pipelined, 100 per round trip)",
            1.0 / pipelined,
            pipelined / rstar
        );
        let _: () = redis::cmd("DEL").arg(&key).query(conn).expect("DEL");
    }
}

fn ingest(rng: &mut SmallRng, conn: &mut Option<redis::Connection>) {
    let n = 100_000;
    let riders = city(rng, n, 10_000.0);
    let mut index = RiderIndex::bulk(riders.iter().copied());
    // Each update moves a random rider a few tens of metres, as a 2-4 s ping would.
    let updates: Vec<(RiderId, GeoPoint)> = (0..200_000)
        .map(|_| {
            let (id, p) = riders[rng.gen_range(0..n)];
            (id, p.offset_m(rng.gen_range(-40.0..40.0), rng.gen_range(-40.0..40.0)))
        })
        .collect();
    let index_rate = 1.0
        / per_op(5, updates.len(), || {
            for (id, p) in &updates {
                index.upsert(*id, p);
            }
        });
    println!("location ingest at {n} riders");
    println!("  rstar index        {:>12.0} updates/s", index_rate);
    if let Some(conn) = conn.as_mut() {
        let key = "bench:ingest";
        let _: () = redis::cmd("DEL").arg(key).query(conn).expect("DEL");
        geoadd(conn, key, &riders);
        let sample = &updates[..50_000];
        let redis_rate = 1.0 / per_op(3, sample.len(), || geoadd(conn, key, sample));
        println!(
            "  Redis GEOADD       {:>12.0} updates/s   index is {:>8.1}x   (pipelined, 1000 per command)",
            redis_rate,
            index_rate / redis_rate
        );
        let _: () = redis::cmd("DEL").arg(key).query(conn).expect("DEL");
    }
}

/// What a dispatcher without batching does: each job in turn takes the nearest free rider
/// in its radius (no candidate limit). Returns (jobs served, total pickup ETA in seconds).
fn greedy_nearest(jobs: &[Job], riders: &[(RiderId, GeoPoint)], speed: &SpeedModel) -> (usize, f64) {
    let mut index = RiderIndex::bulk(riders.iter().copied());
    let mut served = 0;
    let mut eta = 0.0;
    for job in jobs {
        if let Some(&(rider, distance)) = index.k_nearest(&job.pickup, 1, job.radius_m, |_| true).first() {
            index.remove(rider);
            served += 1;
            eta += speed.travel_secs(distance);
        }
    }
    (served, eta)
}

fn peak(rng: &mut SmallRng, k: usize, centre_riders: usize, riders_total: usize, label: &str) {
    let mut riders = city(rng, centre_riders, 3_000.0);
    riders.extend(city(rng, riders_total - centre_riders, 10_000.0));
    let index = RiderIndex::bulk(riders.iter().copied());
    let jobs: Vec<Job> = (0..1000)
        .map(|_| Job {
            order: OrderId::random(),
            pickup: centre().offset_m(rng.gen_range(-3000.0..3000.0), rng.gen_range(-3000.0..3000.0)),
            excluded: Default::default(),
            radius_m: RADIUS_M,
            waited_secs: 0.0,
        })
        .collect();
    let settings = BatchSettings { k, speed: SpeedModel::default(), age_weight: 1.0 };
    let graph = candidates(&jobs, &index, &settings);
    let best = graph.solve();
    let tick = per_op(7, 1, || {
        let graph = candidates(&jobs, &index, &settings);
        black_box(graph.solve());
    });
    let greedy_time = per_op(7, 1, || {
        black_box(greedy_nearest(&jobs, &riders, &settings.speed));
    });
    let best_eta = graph.total_eta_secs(&best);
    let (greedy_served, greedy_eta) = greedy_nearest(&jobs, &riders, &settings.speed);
    println!("batch assignment, {label}: 1000 jobs x {riders_total} riders ({centre_riders} working the 6 km x 6 km centre), k={k}");
    println!(
        "  batch tick         {:>10.2} ms   (candidate search + exact solve; greedy nearest-first {:.2} ms)",
        tick * 1e3,
        greedy_time * 1e3
    );
    println!("  jobs served        {:>10}      greedy {}", best.assigned(), greedy_served);
    println!(
        "  total pickup ETA   {:>10.0} s    greedy {:.0} s: {:.1}% lower ({:.0} s vs {:.0} s per job)",
        best_eta,
        greedy_eta,
        100.0 * (greedy_eta - best_eta) / greedy_eta,
        best_eta / best.assigned().max(1) as f64,
        greedy_eta / greedy_served.max(1) as f64
    );
}

fn main() {
    let mut rng = SmallRng::seed_from_u64(7);
    let mut conn = redis();
    for n in [10_000, 100_000] {
        k_nearest(&mut rng, n, &mut conn);
    }
    ingest(&mut rng, &mut conn);
    for (k, centre, label) in
        [(8, 1_500, "dense centre at peak"), (16, 1_500, "dense centre at peak"), (8, 4_000, "well supplied")]
    {
        peak(&mut rng, k, centre, 10_000, label);
    }
}
