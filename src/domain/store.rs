//! The store aggregate: a restaurant's profile, menu and opening state, and the rules for
//! quoting an order against it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{CustomerId, ItemId, StoreId, ZoneId};
use super::money::{Currency, Money};
use super::order::{OrderLine, OrderTerms};
use super::position::GeoPoint;

/// Most lines one order may hold, and most of one item.
pub const MAX_ORDER_LINES: usize = 50;
pub const MAX_QUANTITY: u32 = 99;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MenuItem {
    pub id: ItemId,
    pub name: String,
    pub price: Money,
    pub available: bool,
}

/// What a store is registered with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoreProfile {
    pub name: String,
    pub zone: ZoneId,
    pub location: GeoPoint,
    pub delivery_radius_m: u32,
    /// Seconds the store has to accept a new order before it is auto-rejected.
    pub accept_deadline_secs: u32,
    pub currency: Currency,
    pub menu: Vec<MenuItem>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Store {
    pub id: StoreId,
    pub name: String,
    pub zone: ZoneId,
    pub location: GeoPoint,
    pub delivery_radius_m: u32,
    pub accept_deadline_secs: u32,
    pub currency: Currency,
    pub menu: BTreeMap<ItemId, MenuItem>,
    pub open: bool,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StoreCommand {
    Register(StoreProfile),
    Open,
    Close,
    SetAvailability { item: ItemId, available: bool },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StoreEvent {
    Registered { profile: StoreProfile, at: DateTime<Utc> },
    Opened { at: DateTime<Utc> },
    Closed { at: DateTime<Utc> },
    AvailabilitySet { item: ItemId, available: bool, at: DateTime<Utc> },
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum StoreError {
    #[error("the store already exists")]
    AlreadyRegistered,
    #[error("the store does not exist")]
    NotRegistered,
    #[error("the store is already {0}")]
    Unchanged(&'static str),
    #[error("item {0} is not on the menu")]
    UnknownItem(ItemId),
    #[error("{field}: {message}")]
    InvalidProfile { field: &'static str, message: String },
}

/// Why a store cannot take an order as asked.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum QuoteError {
    #[error("the store is closed")]
    StoreClosed,
    #[error("an order needs between 1 and {MAX_ORDER_LINES} items")]
    NoItems,
    #[error("item {0} is not on the menu")]
    UnknownItem(ItemId),
    #[error("item {0} is not available right now")]
    Unavailable(ItemId),
    /// The quantity of line `line` (counting from 0, as the request lists them).
    #[error("quantity must be between 1 and {MAX_QUANTITY}")]
    BadQuantity { line: usize },
    #[error("the delivery point is {distance_m:.0} m from the store; it delivers within {radius_m} m")]
    OutOfRange { distance_m: f64, radius_m: u32 },
    #[error("the order total is too large")]
    Overflow,
}

/// A priced order the store can take.
#[derive(Clone, Debug, PartialEq)]
pub struct Quote {
    pub lines: Vec<OrderLine>,
    pub total: Money,
}

impl Quote {
    /// The terms of the order this quote becomes when `customer` places it with `store`.
    pub fn into_terms(self, store: &Store, customer: CustomerId, dropoff: GeoPoint, fingerprint: String) -> OrderTerms {
        OrderTerms {
            customer_id: customer,
            store_id: store.id,
            zone: store.zone.clone(),
            lines: self.lines,
            total: self.total,
            pickup: store.location,
            dropoff,
            store_accept_secs: store.accept_deadline_secs,
            request_fingerprint: fingerprint,
        }
    }
}

impl StoreProfile {
    pub fn validate(&self) -> Result<(), StoreError> {
        let invalid = |field, message: &str| StoreError::InvalidProfile { field, message: message.to_owned() };
        if self.name.trim().is_empty() || self.name.chars().count() > 200 || self.name.chars().any(char::is_control) {
            return Err(invalid("name", "must be 1-200 characters, without control characters"));
        }
        if !(100..=50_000).contains(&self.delivery_radius_m) {
            return Err(invalid("delivery_radius_m", "must be between 100 and 50000"));
        }
        if !(1..=3600).contains(&self.accept_deadline_secs) {
            return Err(invalid("accept_deadline_secs", "must be between 1 and 3600"));
        }
        if self.menu.is_empty() || self.menu.len() > 500 {
            return Err(invalid("menu", "must list between 1 and 500 items"));
        }
        for item in &self.menu {
            if item.price.currency != self.currency {
                return Err(invalid("menu", "every price must be in the store's currency"));
            }
            if item.name.trim().is_empty() || item.name.chars().count() > 200 || item.name.chars().any(char::is_control)
            {
                return Err(invalid("menu", "every item needs a name of 1-200 characters, without control characters"));
            }
        }
        Ok(())
    }
}

impl Store {
    pub fn decide(
        store: Option<&Store>,
        command: StoreCommand,
        now: DateTime<Utc>,
    ) -> Result<Vec<StoreEvent>, StoreError> {
        let at = now;
        let store = match (store, command) {
            (None, StoreCommand::Register(profile)) => {
                profile.validate()?;
                return Ok(vec![StoreEvent::Registered { profile, at }]);
            }
            (Some(_), StoreCommand::Register(_)) => return Err(StoreError::AlreadyRegistered),
            (None, _) => return Err(StoreError::NotRegistered),
            (Some(store), command) => (store, command),
        };
        match store {
            (store, StoreCommand::Open) if store.open => Err(StoreError::Unchanged("open")),
            (_, StoreCommand::Open) => Ok(vec![StoreEvent::Opened { at }]),
            (store, StoreCommand::Close) if !store.open => Err(StoreError::Unchanged("closed")),
            (_, StoreCommand::Close) => Ok(vec![StoreEvent::Closed { at }]),
            (store, StoreCommand::SetAvailability { item, available }) => match store.menu.get(&item) {
                None => Err(StoreError::UnknownItem(item)),
                Some(current) if current.available == available => Ok(vec![]),
                Some(_) => Ok(vec![StoreEvent::AvailabilitySet { item, available, at }]),
            },
            (_, StoreCommand::Register(_)) => Err(StoreError::AlreadyRegistered),
        }
    }

    pub fn apply(store: Option<Store>, id: StoreId, event: &StoreEvent) -> Option<Store> {
        match (store, event) {
            (None, StoreEvent::Registered { profile, at }) => Some(Store {
                id,
                name: profile.name.clone(),
                zone: profile.zone.clone(),
                location: profile.location,
                delivery_radius_m: profile.delivery_radius_m,
                accept_deadline_secs: profile.accept_deadline_secs,
                currency: profile.currency,
                menu: profile.menu.iter().map(|item| (item.id, item.clone())).collect(),
                open: true,
                updated_at: *at,
            }),
            (None, _) => None,
            (Some(store), StoreEvent::Registered { .. }) => Some(store),
            (Some(mut store), StoreEvent::Opened { at }) => {
                store.open = true;
                store.updated_at = *at;
                Some(store)
            }
            (Some(mut store), StoreEvent::Closed { at }) => {
                store.open = false;
                store.updated_at = *at;
                Some(store)
            }
            (Some(mut store), StoreEvent::AvailabilitySet { item, available, at }) => {
                if let Some(entry) = store.menu.get_mut(item) {
                    entry.available = *available;
                }
                store.updated_at = *at;
                Some(store)
            }
        }
    }

    /// Whether the store delivers to `point`.
    pub fn delivers_to(&self, point: &GeoPoint) -> bool {
        self.location.distance_m(point) <= f64::from(self.delivery_radius_m)
    }

    /// Price an order for delivery to `dropoff`, or say why the store cannot take it.
    pub fn quote(&self, items: &[(ItemId, u32)], dropoff: &GeoPoint) -> Result<Quote, QuoteError> {
        if !self.open {
            return Err(QuoteError::StoreClosed);
        }
        if items.is_empty() || items.len() > MAX_ORDER_LINES {
            return Err(QuoteError::NoItems);
        }
        let distance_m = self.location.distance_m(dropoff);
        if distance_m > f64::from(self.delivery_radius_m) {
            return Err(QuoteError::OutOfRange { distance_m, radius_m: self.delivery_radius_m });
        }
        let mut lines = Vec::with_capacity(items.len());
        let mut total = Money::zero(self.currency);
        for (line, (item_id, quantity)) in items.iter().enumerate() {
            let item = self.menu.get(item_id).ok_or(QuoteError::UnknownItem(*item_id))?;
            if !item.available {
                return Err(QuoteError::Unavailable(*item_id));
            }
            if *quantity == 0 || *quantity > MAX_QUANTITY {
                return Err(QuoteError::BadQuantity { line });
            }
            let line_total = item.price.times(*quantity).map_err(|_| QuoteError::Overflow)?;
            total = total.checked_add(line_total).map_err(|_| QuoteError::Overflow)?;
            lines.push(OrderLine {
                item_id: *item_id,
                name: item.name.clone(),
                quantity: *quantity,
                unit_price: item.price,
            });
        }
        Ok(Quote { lines, total })
    }
}

impl super::Aggregate for Store {
    type Id = StoreId;
    type Event = StoreEvent;
    const KIND: &'static str = "store";

    fn apply(state: Option<Self>, id: StoreId, event: &StoreEvent) -> Option<Self> {
        Store::apply(state, id, event)
    }

    fn event_name(event: &StoreEvent) -> &'static str {
        match event {
            StoreEvent::Registered { .. } => "registered",
            StoreEvent::Opened { .. } => "opened",
            StoreEvent::Closed { .. } => "closed",
            StoreEvent::AvailabilitySet { .. } => "availability_set",
        }
    }

    fn zone(&self) -> &ZoneId {
        &self.zone
    }

    fn is_closed(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        let krw = Currency::parse("KRW").unwrap();
        let profile = StoreProfile {
            name: "Kimbap Heaven".into(),
            zone: ZoneId::default(),
            location: GeoPoint::new(37.5665, 126.978).unwrap(),
            delivery_radius_m: 3000,
            accept_deadline_secs: 60,
            currency: krw,
            menu: vec![MenuItem {
                id: ItemId::named("kimbap"),
                name: "Kimbap".into(),
                price: Money::new(3500, krw).unwrap(),
                available: true,
            }],
        };
        let id = StoreId::random();
        let events = Store::decide(None, StoreCommand::Register(profile), Utc::now()).unwrap();
        events.iter().fold(None, |s, e| Store::apply(s, id, e)).unwrap()
    }

    #[test]
    fn quotes_price_lines_and_refuse_what_the_store_cannot_do() {
        let mut store = store();
        let near = store.location.offset_m(500.0, 0.0);
        let kimbap = ItemId::named("kimbap");
        let quote = store.quote(&[(kimbap, 3)], &near).unwrap();
        assert_eq!(quote.total.amount, 10_500);
        assert!(matches!(
            store.quote(&[(kimbap, 1)], &store.location.offset_m(5000.0, 0.0)),
            Err(QuoteError::OutOfRange { .. })
        ));
        assert!(matches!(store.quote(&[(ItemId::random(), 1)], &near), Err(QuoteError::UnknownItem(_))));
        assert_eq!(store.quote(&[], &near), Err(QuoteError::NoItems));
        assert_eq!(store.quote(&[(kimbap, 0)], &near), Err(QuoteError::BadQuantity { line: 0 }));
        store.open = false;
        assert_eq!(store.quote(&[(kimbap, 1)], &near), Err(QuoteError::StoreClosed));
    }

    #[test]
    fn opening_twice_is_refused() {
        let store = store();
        assert_eq!(Store::decide(Some(&store), StoreCommand::Open, Utc::now()), Err(StoreError::Unchanged("open")));
    }
}
