//! One dispatch tick's decision: which free rider is offered which waiting job.
//!
//! For each job, the k nearest eligible riders inside the job's search radius are its
//! candidates, priced by pickup ETA. Jobs that share a pickup point (orders of one store)
//! would all see the same k riders, so such a group looks k deep per job in it. The assignment over that candidate graph is solved
//! exactly ([`assignment::solve`]): as many jobs as possible, then the least total pickup
//! time. Waiting time lowers a job's costs, so when riders are scarce the oldest jobs are
//! served first and no far job starves behind a stream of near ones.

use std::collections::{BTreeSet, HashMap};

use crate::domain::{GeoPoint, OrderId, RiderId};

use super::assignment::{self, Assignment, Edge};
use super::eta::SpeedModel;
use super::index::RiderIndex;
use super::space::Position;

/// A job waiting for a rider.
#[derive(Clone, Debug)]
pub struct Job<P: Position = GeoPoint> {
    pub order: OrderId,
    pub pickup: P,
    pub excluded: BTreeSet<RiderId>,
    /// How far to look for riders now (it widens as the job waits).
    pub radius_m: f64,
    pub waited_secs: f64,
}

/// A decided offer.
#[derive(Clone, Debug, PartialEq)]
pub struct Pairing {
    pub order: OrderId,
    pub rider: RiderId,
    pub pickup_eta_secs: f64,
}

#[derive(Clone, Copy, Debug)]
pub struct BatchSettings {
    /// Candidates per job.
    pub k: usize,
    pub speed: SpeedModel,
    /// Seconds of pickup ETA one second of waiting is worth.
    pub age_weight: f64,
}

/// The candidate graph of a tick: jobs, the riders that appear in it, and the edges.
pub struct Candidates {
    pub riders: Vec<RiderId>,
    pub edges: Vec<Vec<Edge>>,
    /// ETA of each edge, parallel to `edges`.
    etas: Vec<Vec<f64>>,
}

/// Costs are integer deciseconds.
const SCALE: f64 = 10.0;

/// How many times k a group of jobs at one pickup point may look.
const MAX_GROUP_DEPTH: usize = 16;

pub fn candidates<P: Position>(jobs: &[Job<P>], index: &RiderIndex<P>, settings: &BatchSettings) -> Candidates {
    let oldest = jobs.iter().map(|j| j.waited_secs).fold(0.0, f64::max);
    let mut column: HashMap<RiderId, usize> = HashMap::new();
    let mut riders = Vec::new();
    let mut edges = Vec::with_capacity(jobs.len());
    let mut etas = Vec::with_capacity(jobs.len());
    let mut sharing: HashMap<(u64, u64), usize> = HashMap::new();
    for job in jobs {
        *sharing.entry(job.pickup.key()).or_default() += 1;
    }
    for job in jobs {
        let bonus = (oldest - job.waited_secs).max(0.0) * settings.age_weight;
        let group = sharing.get(&job.pickup.key()).copied().unwrap_or(1);
        let k = settings.k * group.min(MAX_GROUP_DEPTH);
        let near = index.k_nearest(&job.pickup, k, job.radius_m, |r| !job.excluded.contains(&r));
        let mut job_edges = Vec::with_capacity(near.len());
        let mut job_etas = Vec::with_capacity(near.len());
        for (rider, distance_m) in near {
            let col = *column.entry(rider).or_insert_with(|| {
                riders.push(rider);
                riders.len() - 1
            });
            let eta = settings.speed.travel_secs(distance_m);
            job_edges.push(Edge { rider: col, cost: ((eta + bonus) * SCALE).round() as i64 });
            job_etas.push(eta);
        }
        edges.push(job_edges);
        etas.push(job_etas);
    }
    Candidates { riders, edges, etas }
}

impl Candidates {
    pub fn solve(&self) -> Assignment {
        assignment::solve(&self.edges, self.riders.len())
    }

    pub fn greedy(&self) -> Assignment {
        assignment::greedy(&self.edges, self.riders.len())
    }

    /// Each assigned (job row, rider column, ETA) of an assignment.
    fn assigned<'a>(&'a self, assignment: &'a Assignment) -> impl Iterator<Item = (usize, usize, f64)> + 'a {
        assignment.rider_of.iter().enumerate().filter_map(|(row, col)| {
            let col = (*col)?;
            let edge = self.edges[row].iter().position(|e| e.rider == col)?;
            Some((row, col, self.etas[row][edge]))
        })
    }

    /// The pairings an assignment stands for.
    pub fn pairings<P: Position>(&self, jobs: &[Job<P>], assignment: &Assignment) -> Vec<Pairing> {
        self.assigned(assignment)
            .map(|(row, col, eta)| Pairing { order: jobs[row].order, rider: self.riders[col], pickup_eta_secs: eta })
            .collect()
    }

    /// What job `row` weighed: each candidate rider with its pickup ETA and its cost (both
    /// in seconds), and the job the assignment gave that rider, if any.
    pub fn considered<'a>(
        &'a self,
        row: usize,
        assignment: &'a Assignment,
    ) -> impl Iterator<Item = (RiderId, f64, f64, Option<usize>)> + 'a {
        self.edges[row].iter().zip(&self.etas[row]).map(move |(edge, eta)| {
            let taker = assignment.rider_of.iter().position(|col| *col == Some(edge.rider));
            (self.riders[edge.rider], *eta, edge.cost as f64 / SCALE, taker)
        })
    }

    /// Total pickup ETA of an assignment, in seconds.
    pub fn total_eta_secs(&self, assignment: &Assignment) -> f64 {
        self.assigned(assignment).map(|(_, _, eta)| eta).sum()
    }
}

/// Decide a tick: the optimal pairings of `jobs` with the free riders of `index`.
pub fn plan<P: Position>(jobs: &[Job<P>], index: &RiderIndex<P>, settings: &BatchSettings) -> Vec<Pairing> {
    let candidates = candidates(jobs, index, settings);
    let assignment = candidates.solve();
    candidates.pairings(jobs, &assignment)
}
