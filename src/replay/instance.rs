//! A Meal Delivery Routing Problem instance as published (tab-separated text files, planar
//! metres, minutes from the start of the day), parsed into checked types.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::dispatch::bundle::{Parcel, Travel};
use crate::dispatch::Places;
use crate::matching::PlanarPoint;

/// Minutes from the start of the instance's day.
pub type Minute = i64;

#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} line {line}: {message}")]
    Format { path: PathBuf, line: usize, message: String },
}

/// The rules of the day: speed, service times, targets and pay.
#[derive(Clone, Debug, PartialEq)]
pub struct Parameters {
    pub meters_per_minute: f64,
    pub pickup_service: Minute,
    pub dropoff_service: Minute,
    pub target_click_to_door: Minute,
    pub max_click_to_door: Minute,
    pub pay_per_order: f64,
    pub guaranteed_pay_per_hour: f64,
}

#[cfg(test)]
impl Parameters {
    /// Round rules for unit tests: 100 m a minute, 4-minute services, 40/90-minute targets.
    pub(crate) fn for_tests() -> Parameters {
        Parameters {
            meters_per_minute: 100.0,
            pickup_service: 4,
            dropoff_service: 4,
            target_click_to_door: 40,
            max_click_to_door: 90,
            pay_per_order: 10.0,
            guaranteed_pay_per_hour: 15.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Restaurant {
    pub id: String,
    pub at: PlanarPoint,
}

#[derive(Clone, Debug, PartialEq)]
pub struct InstanceOrder {
    pub id: String,
    /// The drop-off point.
    pub at: PlanarPoint,
    pub placed: Minute,
    /// Index into [`Instance::restaurants`].
    pub restaurant: usize,
    pub ready: Minute,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Courier {
    pub id: String,
    /// Where the courier appears.
    pub at: PlanarPoint,
    pub on: Minute,
    pub off: Minute,
}

#[derive(Clone, Debug)]
pub struct Instance {
    pub name: String,
    pub parameters: Parameters,
    pub restaurants: Vec<Restaurant>,
    pub orders: Vec<InstanceOrder>,
    pub couriers: Vec<Courier>,
}

impl Instance {
    /// Read the instance in `dir` (its name is the folder's name).
    pub fn load(dir: &Path) -> Result<Instance, InstanceError> {
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let parameters = Table::read(&dir.join("instance_parameters.txt"))?;
        let row = parameters.rows.first().ok_or_else(|| parameters.error(1, "no parameter row".into()))?;
        let parameters = Parameters {
            meters_per_minute: parameters.number(row, 0)?,
            pickup_service: parameters.minute(row, 1)?,
            dropoff_service: parameters.minute(row, 2)?,
            target_click_to_door: parameters.minute(row, 3)?,
            max_click_to_door: parameters.minute(row, 4)?,
            pay_per_order: parameters.number(row, 5)?,
            guaranteed_pay_per_hour: parameters.number(row, 6)?,
        };
        if parameters.meters_per_minute <= 0.0 {
            return Err(InstanceError::Format {
                path: dir.join("instance_parameters.txt"),
                line: 2,
                message: "meters_per_minute must be positive".into(),
            });
        }

        let table = Table::read(&dir.join("restaurants.txt"))?;
        let mut restaurants = Vec::with_capacity(table.rows.len());
        for row in &table.rows {
            restaurants.push(Restaurant { id: table.text(row, 0)?, at: table.point(row, 1)? });
        }
        let by_id: HashMap<&str, usize> = restaurants.iter().enumerate().map(|(i, r)| (r.id.as_str(), i)).collect();

        let table = Table::read(&dir.join("orders.txt"))?;
        let mut orders = Vec::with_capacity(table.rows.len());
        for row in &table.rows {
            let restaurant_id = table.text(row, 4)?;
            let restaurant = *by_id
                .get(restaurant_id.as_str())
                .ok_or_else(|| table.error(row.line, format!("unknown restaurant {restaurant_id}")))?;
            let order = InstanceOrder {
                id: table.text(row, 0)?,
                at: table.point(row, 1)?,
                placed: table.minute(row, 3)?,
                restaurant,
                ready: table.minute(row, 5)?,
            };
            if order.ready < order.placed {
                return Err(table.error(row.line, "ready before placement".into()));
            }
            orders.push(order);
        }

        let table = Table::read(&dir.join("couriers.txt"))?;
        let mut couriers = Vec::with_capacity(table.rows.len());
        for row in &table.rows {
            let courier = Courier {
                id: table.text(row, 0)?,
                at: table.point(row, 1)?,
                on: table.minute(row, 3)?,
                off: table.minute(row, 4)?,
            };
            if courier.off < courier.on {
                return Err(table.error(row.line, "shift ends before it starts".into()));
            }
            couriers.push(courier);
        }
        Ok(Instance { name, parameters, restaurants, orders, couriers })
    }

    /// Minutes to travel between two points: the instance's rule, rounded up.
    pub fn travel(&self, from: PlanarPoint, to: PlanarPoint) -> Minute {
        travel_minutes(from, to, self.parameters.meters_per_minute)
    }

    /// Where an order is picked up.
    pub fn pickup_of(&self, order: usize) -> PlanarPoint {
        self.restaurants[self.orders[order].restaurant].at
    }

    /// Where an order is picked up and where it goes.
    pub fn places_of(&self, order: usize) -> Places<PlanarPoint> {
        let spec = &self.orders[order];
        let placed_at = chrono::DateTime::UNIX_EPOCH + chrono::Duration::minutes(spec.placed);
        Places { pickup: self.restaurants[spec.restaurant].at, dropoff: spec.at, placed_at }
    }

    /// An order as bundling sees it.
    pub fn parcel_of(&self, order: usize) -> Parcel<PlanarPoint> {
        let spec = &self.orders[order];
        Parcel { pickup: self.pickup_of(order), dropoff: spec.at, placed: spec.placed, ready: spec.ready }
    }
}

/// The instance's travel rule: straight lines at the day's speed, rounded up to minutes.
impl Travel<PlanarPoint> for Parameters {
    fn travel(&self, from: PlanarPoint, to: PlanarPoint) -> Minute {
        travel_minutes(from, to, self.meters_per_minute)
    }

    fn pickup_service(&self) -> Minute {
        self.pickup_service
    }

    fn dropoff_service(&self) -> Minute {
        self.dropoff_service
    }
}

/// ceil(euclidean metres / metres per minute).
pub fn travel_minutes(from: PlanarPoint, to: PlanarPoint, meters_per_minute: f64) -> Minute {
    let metres = (from.x - to.x).hypot(from.y - to.y);
    (metres / meters_per_minute).ceil() as Minute
}

struct Row {
    line: usize,
    fields: Vec<String>,
}

/// A whitespace-separated file with one header line.
pub(crate) struct Table {
    path: PathBuf,
    rows: Vec<Row>,
}

impl Table {
    pub(crate) fn read(path: &Path) -> Result<Table, InstanceError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| InstanceError::Read { path: path.to_owned(), source })?;
        let rows = text
            .lines()
            .enumerate()
            .skip(1)
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| Row { line: i + 1, fields: l.split_whitespace().map(str::to_owned).collect() })
            .collect();
        Ok(Table { path: path.to_owned(), rows })
    }

    fn error(&self, line: usize, message: String) -> InstanceError {
        InstanceError::Format { path: self.path.clone(), line, message }
    }

    fn field<'a>(&self, row: &'a Row, column: usize) -> Result<&'a str, InstanceError> {
        row.fields.get(column).map(String::as_str).ok_or_else(|| self.error(row.line, format!("no column {column}")))
    }

    fn text(&self, row: &Row, column: usize) -> Result<String, InstanceError> {
        self.field(row, column).map(str::to_owned)
    }

    fn number(&self, row: &Row, column: usize) -> Result<f64, InstanceError> {
        let raw = self.field(row, column)?;
        raw.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| self.error(row.line, format!("column {column}: {raw:?} is not a number")))
    }

    fn minute(&self, row: &Row, column: usize) -> Result<Minute, InstanceError> {
        let raw = self.field(row, column)?;
        raw.parse::<Minute>()
            .map_err(|_| self.error(row.line, format!("column {column}: {raw:?} is not whole minutes")))
    }

    fn point(&self, row: &Row, column: usize) -> Result<PlanarPoint, InstanceError> {
        Ok(PlanarPoint::new(self.number(row, column)?, self.number(row, column + 1)?))
    }

    /// The rows, each as its fields with the line number (for the solution reader).
    pub(crate) fn records(&self) -> impl Iterator<Item = (usize, &[String])> {
        self.rows.iter().map(|r| (r.line, r.fields.as_slice()))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn travel_rounds_up() {
        let (a, b) = (PlanarPoint::new(0.0, 0.0), PlanarPoint::new(321.0, 0.0));
        assert_eq!(travel_minutes(a, b, 320.0), 2);
        assert_eq!(travel_minutes(a, PlanarPoint::new(320.0, 0.0), 320.0), 1);
        assert_eq!(travel_minutes(a, a, 320.0), 0);
    }
}
