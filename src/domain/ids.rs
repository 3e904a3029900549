//! Identifiers. Each kind of id is its own type so an order id can never be passed where a
//! rider id is expected; all are UUIDs on the wire.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random id.
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }

            /// A stable id derived from a name, for seeded data that must keep its id
            /// across restarts.
            pub fn named(name: &str) -> Self {
                Self(Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{}:{name}", stringify!($name)).as_bytes()))
            }

            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// An order, from placement to its terminal state.
    OrderId
);
uuid_id!(
    /// A store (restaurant) that cooks orders.
    StoreId
);
uuid_id!(
    /// A rider who carries orders from stores to customers.
    RiderId
);
uuid_id!(
    /// A customer account.
    CustomerId
);
uuid_id!(
    /// An item on a store's menu.
    ItemId
);

impl OrderId {
    /// The order id an idempotency key stands for. Deriving the id from (customer, key)
    /// means a replayed request targets the very same event stream, so the store's
    /// (stream_id, seq) uniqueness makes a second order impossible, even under races.
    pub fn for_idempotency_key(customer: CustomerId, key: &IdempotencyKey) -> Self {
        let name = format!("order:{customer}:{}", key.as_str());
        Self(Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes()))
    }
}

/// A zone is the unit of dispatch and, later, of sharding. Every event and actor carries one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ZoneId(String);

impl ZoneId {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidValue::new("zone must be 1-64 characters of a-z, 0-9, '-' or '_'"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ZoneId {
    fn default() -> Self {
        Self("default".to_owned())
    }
}

impl fmt::Display for ZoneId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A client-chosen key that makes order placement safe to retry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.len() > 128 || !trimmed.chars().all(|c| c.is_ascii_graphic()) {
            return Err(InvalidValue::new("Idempotency-Key must be 1-128 printable ASCII characters"));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A value that failed its parse, with a message fit for the client.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidValue {
    pub message: String,
}

impl InvalidValue {
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_map_to_stable_order_ids_per_customer() {
        let key = IdempotencyKey::parse("abc-1").unwrap();
        let alice = CustomerId::named("alice");
        let bob = CustomerId::named("bob");
        assert_eq!(OrderId::for_idempotency_key(alice, &key), OrderId::for_idempotency_key(alice, &key));
        assert_ne!(OrderId::for_idempotency_key(alice, &key), OrderId::for_idempotency_key(bob, &key));
    }

    #[test]
    fn bad_keys_and_zones_are_refused() {
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse(&"x".repeat(129)).is_err());
        assert!(ZoneId::parse("Seoul Central").is_err());
        assert!(ZoneId::parse("seoul-central").is_ok());
    }
}
