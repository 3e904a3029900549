//! What a simulated day is judged by: each order's trace, the city sampled every minute,
//! and the figures made from them.

use std::collections::BTreeMap;
use std::fmt;

use crate::domain::order::{Order, Phase};
use crate::replay::kpi::Spread;

use super::engine::{Millis, Outcomes};

/// How an order ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Outcome {
    /// Still open when the run ended.
    #[default]
    Open,
    Delivered,
    /// The payment was declined.
    Rejected,
    /// Cancelled, with the reason's code.
    Cancelled(&'static str),
}

impl Outcome {
    pub fn of(order: &Order) -> Outcome {
        match &order.phase {
            Phase::Delivered { .. } => Outcome::Delivered,
            Phase::Rejected { .. } => Outcome::Rejected,
            Phase::Cancelled { reason, .. } => Outcome::Cancelled(reason.code()),
            _ => Outcome::Open,
        }
    }

    pub fn is_finished(&self) -> bool {
        *self != Outcome::Open
    }
}

/// When an order reached each step (simulated milliseconds).
#[derive(Clone, Debug, Default)]
pub struct Trace {
    pub placed: Millis,
    /// The store accepted: dispatch starts looking.
    pub accepted: Option<Millis>,
    /// The first rider took the job.
    pub assigned: Option<Millis>,
    pub ready: Option<Millis>,
    /// The rider reached the store.
    pub at_store: Option<Millis>,
    pub picked_up: Option<Millis>,
    pub delivered: Option<Millis>,
    pub offers: u32,
    pub declines: u32,
    pub lapsed: u32,
    pub escalated: bool,
    /// When the operator was alerted that the kitchen ran well past its promise.
    pub kitchen_late: Option<Millis>,
    pub outcome: Outcome,
}

impl Trace {
    /// Placement to the door, in minutes.
    pub fn click_to_door_min(&self) -> Option<f64> {
        self.delivered.map(|d| minutes(d - self.placed))
    }
}

fn minutes(ms: Millis) -> f64 {
    ms as f64 / 60_000.0
}

/// The city at one moment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub minute: f64,
    pub open_orders: usize,
    pub waiting_for_rider: usize,
    pub idle_riders: usize,
    pub riders_on_job: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Kpis {
    pub window_min: f64,
    pub ran_min: f64,
    pub riders: usize,
    pub placed: usize,
    pub delivered: usize,
    pub rejected: usize,
    pub open_at_end: usize,
    /// Cancelled orders by the reason's code.
    pub cancelled: BTreeMap<&'static str, usize>,
    /// Minutes from placement to the door.
    pub click_to_door: Spread,
    /// Minutes the food waited at the counter: ready to picked up.
    pub ready_to_pickup: Spread,
    /// Minutes a rider waited at the store for the food: arrival to pickup.
    pub rider_wait: Spread,
    /// Seconds from the store accepting to a rider taking the job.
    pub assignment_latency: Spread,
    /// Share of rider time on a job (from taking it to the door) inside the ordering window.
    pub utilisation: f64,
    pub offers: usize,
    pub declines: usize,
    pub lapsed: usize,
    pub escalated: usize,
    /// Orders whose kitchen ran well past its promise (an operator alert each).
    pub kitchens_late: usize,
    /// Commands the order state machine refused.
    pub refused: usize,
    /// Wall-clock microseconds of the dispatch ticks that had work.
    pub tick_micros: Spread,
    /// Simulated time over wall-clock time.
    pub speedup: f64,
}

impl Kpis {
    pub fn of(run: &Outcomes) -> Kpis {
        let traces = &run.traces;
        let count = |outcome: &Outcome| traces.iter().filter(|t| t.outcome == *outcome).count();
        let mut cancelled = BTreeMap::new();
        for trace in traces {
            if let Outcome::Cancelled(code) = trace.outcome {
                *cancelled.entry(code).or_insert(0) += 1;
            }
        }
        let spread = |f: &dyn Fn(&Trace) -> Option<f64>| Spread::of(traces.iter().filter_map(f).collect());
        let rider_time = run.riders as f64 * run.window_ms as f64;
        let wall = run.wall.as_secs_f64();
        Kpis {
            window_min: minutes(run.window_ms),
            ran_min: minutes(run.ran_ms),
            riders: run.riders,
            placed: traces.len(),
            delivered: count(&Outcome::Delivered),
            rejected: count(&Outcome::Rejected),
            open_at_end: count(&Outcome::Open),
            cancelled,
            click_to_door: spread(&|t| t.click_to_door_min()),
            ready_to_pickup: spread(&|t| Some(minutes(t.picked_up? - t.ready?))),
            rider_wait: spread(&|t| Some(minutes(t.picked_up? - t.at_store?))),
            assignment_latency: spread(&|t| Some((t.assigned? - t.accepted?) as f64 / 1000.0)),
            utilisation: if rider_time > 0.0 { run.rider_busy_ms as f64 / rider_time } else { 0.0 },
            offers: traces.iter().map(|t| t.offers as usize).sum(),
            declines: traces.iter().map(|t| t.declines as usize).sum(),
            lapsed: traces.iter().map(|t| t.lapsed as usize).sum(),
            escalated: traces.iter().filter(|t| t.escalated).count(),
            kitchens_late: traces.iter().filter(|t| t.kitchen_late.is_some()).count(),
            refused: run.refused,
            tick_micros: Spread::of(run.tick_micros.clone()),
            speedup: if wall > 0.0 { run.ran_ms as f64 / 1000.0 / wall } else { f64::INFINITY },
        }
    }

    pub fn cancelled_total(&self) -> usize {
        self.cancelled.values().sum()
    }

    /// The rows of the KPI table, as (figure, value), shared by the terminal and the report.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        let share = |n: usize| if self.placed == 0 { 0.0 } else { 100.0 * n as f64 / self.placed as f64 };
        let spread = |s: &Spread, unit: &str| format!("{:.1} / {:.1} / {:.1} {unit}", s.mean, s.p50, s.p90);
        let cancelled = if self.cancelled.is_empty() {
            "none".to_owned()
        } else {
            self.cancelled.iter().map(|(code, n)| format!("{code} {n}")).collect::<Vec<_>>().join(", ")
        };
        vec![
            ("simulated", format!("{:.0} min of orders, {:.0} min in all", self.window_min, self.ran_min)),
            ("orders placed", self.placed.to_string()),
            ("orders delivered", format!("{} ({:.1}%)", self.delivered, share(self.delivered))),
            ("click-to-door mean / p50 / p90", spread(&self.click_to_door, "min")),
            ("pickup wait: food ready to picked up, mean / p50 / p90", spread(&self.ready_to_pickup, "min")),
            ("rider wait at the store, mean / p50 / p90", spread(&self.rider_wait, "min")),
            (
                "assignment latency: store accepted to rider took it, mean / p50 / p90",
                spread(&self.assignment_latency, "s"),
            ),
            ("rider utilisation", format!("{:.1}% of {} riders", 100.0 * self.utilisation, self.riders)),
            ("offers made / declined / lapsed", format!("{} / {} / {}", self.offers, self.declines, self.lapsed)),
            ("cancelled by cause", format!("{} ({cancelled})", self.cancelled_total())),
            ("payment declined", self.rejected.to_string()),
            ("operator alerts (no rider in the widest radius)", self.escalated.to_string()),
            ("operator alerts (kitchen well past its promise)", self.kitchens_late.to_string()),
            ("still open at the end", self.open_at_end.to_string()),
            ("dispatch tick with work, mean / p50 / p90", spread(&self.tick_micros, "µs")),
            ("speed", format!("{:.0}x real time", self.speedup)),
        ]
    }
}

impl fmt::Display for Kpis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&table(self, None))
    }
}

/// A run's figures beside another's on the same day, each column under its name.
pub struct Compared<'a> {
    pub names: (String, String),
    pub baseline: &'a Kpis,
}

/// The KPI table for the terminal, with a baseline's column when there is one.
pub fn table(kpis: &Kpis, compared: Option<&Compared<'_>>) -> String {
    let rows = kpis.rows();
    let others = compared.map(|c| c.baseline.rows());
    let width = rows.iter().map(|(name, _)| name.chars().count()).max().unwrap_or(0);
    let mut column = rows.iter().map(|(_, value)| value.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    if let Some(Compared { names: (ours, theirs), .. }) = compared {
        column = column.max(ours.chars().count());
        out.push_str(&format!("{:<width$}  {ours:<column$}  {theirs}\n", ""));
    }
    for (i, (name, value)) in rows.iter().enumerate() {
        match others.as_ref().and_then(|o| o.get(i)) {
            Some((_, other)) => out.push_str(&format!("{name:<width$}  {value:<column$}  {other}\n")),
            None => out.push_str(&format!("{name:<width$}  {value}\n")),
        }
    }
    out
}
