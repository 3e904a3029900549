//! The domain core: identifiers, money, positions and the three aggregates (order, store,
//! rider) as pure state machines. Nothing here does I/O or knows about actors or databases.

pub mod ids;
pub mod money;
pub mod order;
pub mod position;
pub mod rider;
pub mod store;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use ids::{CustomerId, IdempotencyKey, InvalidValue, ItemId, OrderId, RiderId, StoreId, ZoneId};
pub use money::{Currency, Money};
pub use position::GeoPoint;

/// An event-sourced state: built by folding its events, one stream per instance.
pub trait Aggregate: Clone + Serialize + DeserializeOwned + Send + Unpin + 'static {
    type Id: Copy + Into<uuid::Uuid> + Send + std::fmt::Display + 'static;
    type Event: Clone + Serialize + DeserializeOwned + Send + 'static;
    /// The stream kind, as stored.
    const KIND: &'static str;

    fn apply(state: Option<Self>, id: Self::Id, event: &Self::Event) -> Option<Self>;
    fn event_name(event: &Self::Event) -> &'static str;
    fn zone(&self) -> &ZoneId;
    /// A closed stream is finished: it is not loaded again at start-up.
    fn is_closed(&self) -> bool;
}

macro_rules! into_uuid {
    ($($id:ty),*) => {$(
        impl From<$id> for uuid::Uuid {
            fn from(id: $id) -> uuid::Uuid {
                id.as_uuid()
            }
        }
    )*};
}
into_uuid!(OrderId, StoreId, RiderId);
