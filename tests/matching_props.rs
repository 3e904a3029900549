//! Property tests of the batch assignment: one rider per job at most, only candidates, as
//! many jobs served as possible, never costlier than greedy, and optimal (checked against
//! brute force on small inputs).

use std::collections::{BTreeSet, HashSet};

use baedal::domain::{GeoPoint, OrderId, RiderId};
use baedal::matching::assignment::{greedy, solve, Assignment, Edge};
use baedal::matching::{plan, BatchSettings, Job, RiderIndex, SpeedModel};
use proptest::prelude::*;

fn instance(max_jobs: usize, max_riders: usize) -> impl Strategy<Value = (Vec<Vec<Edge>>, usize)> {
    (1..=max_riders).prop_flat_map(move |riders| {
        let edges =
            prop::collection::vec((0..riders, 0i64..1000).prop_map(|(rider, cost)| Edge { rider, cost }), 0..=riders);
        // One edge per rider per job, as the candidate search produces.
        let job = edges.prop_map(|mut e| {
            let mut seen = HashSet::new();
            e.retain(|edge| seen.insert(edge.rider));
            e
        });
        (prop::collection::vec(job, 0..=max_jobs), Just(riders))
    })
}

fn check_valid(jobs: &[Vec<Edge>], result: &Assignment) -> Result<(), TestCaseError> {
    let mut used = HashSet::new();
    let mut cost = 0;
    for (row, col) in result.rider_of.iter().enumerate() {
        if let Some(col) = col {
            prop_assert!(used.insert(*col), "rider {} assigned twice", col);
            let edge = jobs[row].iter().find(|e| e.rider == *col);
            prop_assert!(edge.is_some(), "job {} got a rider that is not its candidate", row);
            cost += edge.unwrap().cost;
        }
    }
    prop_assert_eq!(cost, result.cost);
    Ok(())
}

/// The best (most jobs served, then cheapest) by trying everything.
fn brute_force(jobs: &[Vec<Edge>], riders: usize) -> (usize, i64) {
    fn go(jobs: &[Vec<Edge>], row: usize, used: &mut Vec<bool>, served: usize, cost: i64, best: &mut (usize, i64)) {
        if row == jobs.len() {
            if served > best.0 || (served == best.0 && cost < best.1) {
                *best = (served, cost);
            }
            return;
        }
        go(jobs, row + 1, used, served, cost, best);
        for edge in &jobs[row] {
            if !used[edge.rider] {
                used[edge.rider] = true;
                go(jobs, row + 1, used, served + 1, cost + edge.cost, best);
                used[edge.rider] = false;
            }
        }
    }
    let mut best = (0, 0);
    go(jobs, 0, &mut vec![false; riders], 0, 0, &mut best);
    best
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn the_batch_is_valid_and_never_worse_than_greedy((jobs, riders) in instance(40, 30)) {
        let best = solve(&jobs, riders);
        let baseline = greedy(&jobs, riders);
        check_valid(&jobs, &best)?;
        check_valid(&jobs, &baseline)?;
        prop_assert!(best.assigned() >= baseline.assigned(), "serves fewer jobs than greedy");
        if best.assigned() == baseline.assigned() {
            prop_assert!(best.cost <= baseline.cost, "costs {} > greedy's {}", best.cost, baseline.cost);
        }
    }

    #[test]
    fn the_batch_is_optimal_on_small_inputs((jobs, riders) in instance(6, 6)) {
        let best = solve(&jobs, riders);
        check_valid(&jobs, &best)?;
        prop_assert_eq!((best.assigned(), best.cost), brute_force(&jobs, riders));
    }

    #[test]
    fn only_free_eligible_riders_in_range_are_offered(
        riders in prop::collection::vec((-3000.0f64..3000.0, -3000.0f64..3000.0, prop::bool::ANY), 0..60),
        jobs in prop::collection::vec((-3000.0f64..3000.0, -3000.0f64..3000.0, 100.0f64..3000.0, 0usize..4), 0..30),
    ) {
        let centre = GeoPoint::new(37.5665, 126.978).unwrap();
        let ids: Vec<RiderId> = (0..riders.len()).map(|_| RiderId::random()).collect();
        // Only riders flagged free are in the index: the others are busy or offline.
        let free: Vec<(RiderId, GeoPoint)> = riders
            .iter()
            .zip(&ids)
            .filter(|((_, _, free), _)| *free)
            .map(|((n, e, _), id)| (*id, centre.offset_m(*n, *e)))
            .collect();
        let index = RiderIndex::bulk(free.iter().copied());
        let jobs: Vec<Job> = jobs
            .iter()
            .map(|(n, e, radius, exclude)| Job {
                order: OrderId::random(),
                pickup: centre.offset_m(*n, *e),
                excluded: ids.iter().take(*exclude).copied().collect::<BTreeSet<_>>(),
                radius_m: *radius,
                waited_secs: 0.0,
            })
            .collect();
        let settings = BatchSettings { k: 4, speed: SpeedModel::default(), age_weight: 1.0 };
        let pairings = plan(&jobs, &index, &settings);
        let mut riders_used = HashSet::new();
        let mut orders_used = HashSet::new();
        for pairing in &pairings {
            prop_assert!(riders_used.insert(pairing.rider), "a rider offered two jobs");
            prop_assert!(orders_used.insert(pairing.order), "a job offered twice");
            let job = jobs.iter().find(|j| j.order == pairing.order).unwrap();
            let (_, at) = free.iter().find(|(id, _)| *id == pairing.rider).expect("only free riders");
            prop_assert!(!job.excluded.contains(&pairing.rider), "an excluded rider");
            prop_assert!(at.distance_m(&job.pickup) <= job.radius_m * 1.01 + 1.0, "a rider out of range");
        }
    }
}

#[test]
fn scarce_riders_go_to_the_longest_waiting_job() {
    let centre = GeoPoint::new(37.5665, 126.978).unwrap();
    let rider = RiderId::random();
    let index = RiderIndex::bulk([(rider, centre)]);
    let job = |metres: f64, waited_secs: f64| Job {
        order: OrderId::random(),
        pickup: centre.offset_m(metres, 0.0),
        excluded: BTreeSet::new(),
        radius_m: 5000.0,
        waited_secs,
    };
    // The near job is new; the far one has waited ten minutes.
    let jobs = vec![job(100.0, 0.0), job(2000.0, 600.0)];
    let settings = BatchSettings { k: 4, speed: SpeedModel::default(), age_weight: 1.0 };
    let pairings = plan(&jobs, &index, &settings);
    assert_eq!(pairings.len(), 1);
    assert_eq!(pairings[0].order, jobs[1].order);
}
