//! A day's dispatch outcome in the published evaluator's three files, written and read back.
//! Reading is strict and by id, so the feasibility check judges exactly what was written.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::matching::PlanarPoint;

use super::instance::{Instance, InstanceError, Minute, Table};

pub const ASSIGNMENTS_FILE: &str = "solution_info_assignments.txt";
pub const ORDERS_FILE: &str = "solution_info_orders.txt";
pub const COURIERS_FILE: &str = "solution_info_couriers.txt";

/// A point a courier moves between.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Place {
    /// Where the courier appeared.
    Start,
    Restaurant(usize),
    /// An order's drop-off point.
    Dropoff(usize),
}

impl Place {
    /// Where this place is for `courier` (its start point is its own).
    pub fn point(self, instance: &Instance, courier: usize) -> PlanarPoint {
        match self {
            Place::Start => instance.couriers[courier].at,
            Place::Restaurant(r) => instance.restaurants[r].at,
            Place::Dropoff(o) => instance.orders[o].at,
        }
    }
}

/// One bundle handed to one courier.
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    pub assigned_at: Minute,
    pub pickup_at: Minute,
    pub courier: usize,
    /// Orders in drop-off sequence.
    pub orders: Vec<usize>,
}

/// A delivered order.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    pub order: usize,
    pub pickup_at: Minute,
    pub dropoff_at: Minute,
    pub courier: usize,
}

/// A courier leaving one place for another.
#[derive(Clone, Debug, PartialEq)]
pub struct Move {
    pub courier: usize,
    pub departs_at: Minute,
    pub from: Place,
    pub to: Place,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Solution {
    pub assignments: Vec<Assignment>,
    pub deliveries: Vec<Delivery>,
    pub moves: Vec<Move>,
}

#[derive(Debug, thiserror::Error)]
pub enum SolutionError {
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Read(#[from] InstanceError),
    #[error("{path} line {line}: {message}")]
    Format { path: PathBuf, line: usize, message: String },
}

impl Solution {
    fn place_name(instance: &Instance, place: Place) -> &str {
        match place {
            Place::Start => "0",
            Place::Restaurant(r) => &instance.restaurants[r].id,
            Place::Dropoff(o) => &instance.orders[o].id,
        }
    }

    /// Write the three files into `dir` (created if missing).
    pub fn write(&self, instance: &Instance, dir: &Path) -> Result<(), SolutionError> {
        let io = |path: PathBuf| move |source: std::io::Error| SolutionError::Write { path, source };
        std::fs::create_dir_all(dir).map_err(io(dir.to_owned()))?;

        let mut text = String::from("assignment_time pickup_time courier orders\n");
        for a in &self.assignments {
            let _ = write!(text, "{} {} {}", a.assigned_at, a.pickup_at, instance.couriers[a.courier].id);
            for order in &a.orders {
                let _ = write!(text, " {}", instance.orders[*order].id);
            }
            text.push('\n');
        }
        let path = dir.join(ASSIGNMENTS_FILE);
        std::fs::write(&path, text).map_err(io(path.clone()))?;

        let mut text =
            String::from("order placement_time restaurant x y ready_time pickup_time dropoff_time courier\n");
        let mut deliveries: Vec<&Delivery> = self.deliveries.iter().collect();
        deliveries.sort_by_key(|d| d.order);
        for d in deliveries {
            let order = &instance.orders[d.order];
            let _ = writeln!(
                text,
                "{} {} {} {} {} {} {} {} {}",
                order.id,
                order.placed,
                instance.restaurants[order.restaurant].id,
                order.at.x,
                order.at.y,
                order.ready,
                d.pickup_at,
                d.dropoff_at,
                instance.couriers[d.courier].id
            );
        }
        let path = dir.join(ORDERS_FILE);
        std::fs::write(&path, text).map_err(io(path.clone()))?;

        let mut text = String::from("courier departure_time origin destination\n");
        let mut moves: Vec<&Move> = self.moves.iter().collect();
        // Grouped by courier, in time order (stable: equal times keep their sequence).
        moves.sort_by_key(|m| (m.courier, m.departs_at));
        for m in moves {
            let _ = writeln!(
                text,
                "{} {} {} {}",
                instance.couriers[m.courier].id,
                m.departs_at,
                Self::place_name(instance, m.from),
                Self::place_name(instance, m.to)
            );
        }
        let path = dir.join(COURIERS_FILE);
        std::fs::write(&path, text).map_err(io(path.clone()))?;
        Ok(())
    }

    /// Read the three files from `dir`, resolving ids against `instance`.
    pub fn read(instance: &Instance, dir: &Path) -> Result<Solution, SolutionError> {
        let ids = Ids::new(instance);
        let mut solution = Solution::default();

        let table = Table::read(&dir.join(ASSIGNMENTS_FILE))?;
        for (line, fields) in table.records() {
            let bad = |message: String| SolutionError::Format { path: table.path().to_owned(), line, message };
            if fields.len() < 4 {
                return Err(bad("expected assignment_time pickup_time courier order...".into()));
            }
            solution.assignments.push(Assignment {
                assigned_at: minute(&fields[0]).ok_or_else(|| bad("bad assignment_time".into()))?,
                pickup_at: minute(&fields[1]).ok_or_else(|| bad("bad pickup_time".into()))?,
                courier: ids.courier(&fields[2]).ok_or_else(|| bad(format!("unknown courier {}", fields[2])))?,
                orders: fields[3..]
                    .iter()
                    .map(|o| ids.order(o).ok_or_else(|| bad(format!("unknown order {o}"))))
                    .collect::<Result<_, _>>()?,
            });
        }

        let table = Table::read(&dir.join(ORDERS_FILE))?;
        for (line, fields) in table.records() {
            let bad = |message: String| SolutionError::Format { path: table.path().to_owned(), line, message };
            if fields.len() != 9 {
                return Err(bad("expected 9 columns".into()));
            }
            solution.deliveries.push(Delivery {
                order: ids.order(&fields[0]).ok_or_else(|| bad(format!("unknown order {}", fields[0])))?,
                pickup_at: minute(&fields[6]).ok_or_else(|| bad("bad pickup_time".into()))?,
                dropoff_at: minute(&fields[7]).ok_or_else(|| bad("bad dropoff_time".into()))?,
                courier: ids.courier(&fields[8]).ok_or_else(|| bad(format!("unknown courier {}", fields[8])))?,
            });
        }

        let table = Table::read(&dir.join(COURIERS_FILE))?;
        for (line, fields) in table.records() {
            let bad = |message: String| SolutionError::Format { path: table.path().to_owned(), line, message };
            if fields.len() != 4 {
                return Err(bad("expected 4 columns".into()));
            }
            let courier = ids.courier(&fields[0]).ok_or_else(|| bad(format!("unknown courier {}", fields[0])))?;
            let place = |raw: &str| ids.place(courier, raw).ok_or_else(|| bad(format!("unknown place {raw}")));
            solution.moves.push(Move {
                courier,
                departs_at: minute(&fields[1]).ok_or_else(|| bad("bad departure_time".into()))?,
                from: place(&fields[2])?,
                to: place(&fields[3])?,
            });
        }
        Ok(solution)
    }
}

fn minute(raw: &str) -> Option<Minute> {
    raw.parse().ok()
}

/// Instance ids to indices.
struct Ids<'a> {
    instance: &'a Instance,
    orders: HashMap<&'a str, usize>,
    restaurants: HashMap<&'a str, usize>,
    couriers: HashMap<&'a str, usize>,
}

impl<'a> Ids<'a> {
    fn new(instance: &'a Instance) -> Self {
        Ids {
            instance,
            orders: instance.orders.iter().enumerate().map(|(i, o)| (o.id.as_str(), i)).collect(),
            restaurants: instance.restaurants.iter().enumerate().map(|(i, r)| (r.id.as_str(), i)).collect(),
            couriers: instance.couriers.iter().enumerate().map(|(i, c)| (c.id.as_str(), i)).collect(),
        }
    }

    fn order(&self, raw: &str) -> Option<usize> {
        self.orders.get(raw).copied()
    }

    fn courier(&self, raw: &str) -> Option<usize> {
        self.couriers.get(raw).copied()
    }

    /// `0` or the courier's own id is its start point.
    fn place(&self, courier: usize, raw: &str) -> Option<Place> {
        if raw == "0" || raw == self.instance.couriers[courier].id {
            return Some(Place::Start);
        }
        if let Some(r) = self.restaurants.get(raw) {
            return Some(Place::Restaurant(*r));
        }
        self.order(raw).map(Place::Dropoff)
    }
}
