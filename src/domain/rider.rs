//! The rider aggregate: who a rider is and whether they are on duty.
//!
//! A rider's current offer or job is not stored here: the order that holds the rider is the
//! single source of that fact, and the rider actor keeps a view of it in memory (rebuilt by
//! the orders on recovery). Location pings are not events either; they live in the matcher's
//! index and are written behind in batches.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{OrderId, RiderId, ZoneId};
use super::position::GeoPoint;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rider {
    pub id: RiderId,
    pub name: String,
    pub zone: ZoneId,
    pub online: bool,
    /// Where the rider said they were when they last came online; pings keep the live
    /// position in memory.
    pub online_at: Option<GeoPoint>,
    /// Why the platform, not the rider, took the rider off duty; cleared on going online.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_reason: Option<OfflineReason>,
    /// When the rider said its shift ends, on going online: no trip it could not finish by
    /// then is offered to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shift_ends_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// The longest shift a rider may announce on going online.
pub const MAX_SHIFT_HOURS: i64 = 24;

/// Why a rider was taken off duty by the platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfflineReason {
    /// Offers went unanswered several times in a row: the app is probably in a pocket, and
    /// orders should not keep waiting out a deadline for it.
    UnansweredOffers,
}

/// What the rider is doing right now, as told by the orders.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Duty {
    Idle,
    Offered { order: OrderId, deadline: DateTime<Utc> },
    EnRouteToStore { order: OrderId },
    Delivering { order: OrderId },
}

impl Duty {
    pub fn order(&self) -> Option<OrderId> {
        match self {
            Duty::Idle => None,
            Duty::Offered { order, .. } | Duty::EnRouteToStore { order } | Duty::Delivering { order } => Some(*order),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum RiderCommand {
    Register {
        name: String,
        zone: ZoneId,
    },
    GoOnline {
        position: GeoPoint,
        /// When the rider's shift ends, if it says.
        shift_ends_at: Option<DateTime<Utc>>,
    },
    GoOffline,
    /// Offers went unanswered `lapsed` times in a row (the rider actor counts them).
    SetOfflineUnanswered {
        lapsed: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RiderEvent {
    Registered {
        name: String,
        zone: ZoneId,
        at: DateTime<Utc>,
    },
    WentOnline {
        position: GeoPoint,
        at: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shift_ends_at: Option<DateTime<Utc>>,
    },
    WentOffline {
        at: DateTime<Utc>,
        /// Set when the platform took the rider off duty; absent when the rider chose to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<OfflineReason>,
    },
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RiderError {
    #[error("the rider already exists")]
    AlreadyRegistered,
    #[error("the rider does not exist")]
    NotRegistered,
    #[error("the rider is already {0}")]
    Unchanged(&'static str),
    #[error("name must be 1-200 characters")]
    InvalidName,
    #[error("the rider is offline")]
    Offline,
    #[error("the rider is carrying order {0}: deliver it before going offline")]
    CarryingOrder(OrderId),
    #[error("shift_ends_at must be in the future and at most {MAX_SHIFT_HOURS} hours away")]
    InvalidShiftEnd,
}

impl Rider {
    pub fn decide(
        rider: Option<&Rider>,
        duty: &Duty,
        command: RiderCommand,
        now: DateTime<Utc>,
    ) -> Result<Vec<RiderEvent>, RiderError> {
        let at = now;
        match (rider, command) {
            (None, RiderCommand::Register { name, zone }) => {
                let name = name.trim().to_owned();
                if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
                    return Err(RiderError::InvalidName);
                }
                Ok(vec![RiderEvent::Registered { name, zone, at }])
            }
            (Some(_), RiderCommand::Register { .. }) => Err(RiderError::AlreadyRegistered),
            (None, _) => Err(RiderError::NotRegistered),
            (Some(rider), RiderCommand::GoOnline { .. }) if rider.online => Err(RiderError::Unchanged("online")),
            (Some(_), RiderCommand::GoOnline { shift_ends_at: Some(end), .. })
                if end <= now || end > now + chrono::Duration::hours(MAX_SHIFT_HOURS) =>
            {
                Err(RiderError::InvalidShiftEnd)
            }
            (Some(_), RiderCommand::GoOnline { position, shift_ends_at }) => {
                Ok(vec![RiderEvent::WentOnline { position, at, shift_ends_at }])
            }
            (Some(rider), RiderCommand::GoOffline) if !rider.online => Err(RiderError::Unchanged("offline")),
            (Some(_), RiderCommand::GoOffline) => match duty {
                // Food on board stays with the rider: going offline would strand it.
                Duty::Delivering { order } => Err(RiderError::CarryingOrder(*order)),
                _ => Ok(vec![RiderEvent::WentOffline { at, reason: None }]),
            },
            (Some(rider), RiderCommand::SetOfflineUnanswered { .. }) if !rider.online => {
                Err(RiderError::Unchanged("offline"))
            }
            (Some(_), RiderCommand::SetOfflineUnanswered { .. }) => match duty {
                Duty::Delivering { order } => Err(RiderError::CarryingOrder(*order)),
                _ => Ok(vec![RiderEvent::WentOffline { at, reason: Some(OfflineReason::UnansweredOffers) }]),
            },
        }
    }

    pub fn apply(rider: Option<Rider>, id: RiderId, event: &RiderEvent) -> Option<Rider> {
        match (rider, event) {
            (None, RiderEvent::Registered { name, zone, at }) => Some(Rider {
                id,
                name: name.clone(),
                zone: zone.clone(),
                online: false,
                online_at: None,
                offline_reason: None,
                shift_ends_at: None,
                updated_at: *at,
            }),
            (None, _) => None,
            (Some(rider), RiderEvent::Registered { .. }) => Some(rider),
            (Some(mut rider), RiderEvent::WentOnline { position, at, shift_ends_at }) => {
                rider.online = true;
                rider.online_at = Some(*position);
                rider.offline_reason = None;
                rider.shift_ends_at = *shift_ends_at;
                rider.updated_at = *at;
                Some(rider)
            }
            (Some(mut rider), RiderEvent::WentOffline { at, reason }) => {
                rider.online = false;
                rider.shift_ends_at = None;
                rider.offline_reason = *reason;
                rider.updated_at = *at;
                Some(rider)
            }
        }
    }
}

impl super::Aggregate for Rider {
    type Id = RiderId;
    type Event = RiderEvent;
    const KIND: &'static str = "rider";

    fn apply(state: Option<Self>, id: RiderId, event: &RiderEvent) -> Option<Self> {
        Rider::apply(state, id, event)
    }

    fn event_name(event: &RiderEvent) -> &'static str {
        match event {
            RiderEvent::Registered { .. } => "registered",
            RiderEvent::WentOnline { .. } => "went_online",
            RiderEvent::WentOffline { .. } => "went_offline",
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

    #[test]
    fn a_rider_with_food_on_board_cannot_go_offline() {
        let id = RiderId::random();
        let now = Utc::now();
        let events = Rider::decide(
            None,
            &Duty::Idle,
            RiderCommand::Register { name: "Min".into(), zone: ZoneId::default() },
            now,
        )
        .unwrap();
        let mut rider = events.iter().fold(None, |r, e| Rider::apply(r, id, e));
        let online = Rider::decide(
            rider.as_ref(),
            &Duty::Idle,
            RiderCommand::GoOnline { position: GeoPoint::new(37.5, 127.0).unwrap(), shift_ends_at: None },
            now,
        )
        .unwrap();
        rider = online.iter().fold(rider, |r, e| Rider::apply(r, id, e));
        let order = OrderId::random();
        assert_eq!(
            Rider::decide(rider.as_ref(), &Duty::Delivering { order }, RiderCommand::GoOffline, now),
            Err(RiderError::CarryingOrder(order))
        );
        assert!(Rider::decide(rider.as_ref(), &Duty::EnRouteToStore { order }, RiderCommand::GoOffline, now).is_ok());
    }

    #[test]
    fn a_rider_set_offline_for_unanswered_offers_says_why_until_back_online() {
        let id = RiderId::random();
        let now = Utc::now();
        let position = GeoPoint::new(37.5, 127.0).unwrap();
        let register = RiderCommand::Register { name: "Min".into(), zone: ZoneId::default() };
        let mut rider =
            Rider::decide(None, &Duty::Idle, register, now).unwrap().iter().fold(None, |r, e| Rider::apply(r, id, e));
        let unanswered = RiderCommand::SetOfflineUnanswered { lapsed: 3 };
        assert_eq!(
            Rider::decide(rider.as_ref(), &Duty::Idle, unanswered.clone(), now),
            Err(RiderError::Unchanged("offline")),
            "an offline rider has nothing to be taken off"
        );
        let online =
            Rider::decide(rider.as_ref(), &Duty::Idle, RiderCommand::GoOnline { position, shift_ends_at: None }, now)
                .unwrap();
        rider = online.iter().fold(rider, |r, e| Rider::apply(r, id, e));
        let order = OrderId::random();
        assert_eq!(
            Rider::decide(rider.as_ref(), &Duty::Delivering { order }, unanswered.clone(), now),
            Err(RiderError::CarryingOrder(order)),
            "food on board is never stranded"
        );
        let off = Rider::decide(rider.as_ref(), &Duty::Idle, unanswered, now).unwrap();
        rider = off.iter().fold(rider, |r, e| Rider::apply(r, id, e));
        let state = rider.clone().unwrap();
        assert_eq!((state.online, state.offline_reason), (false, Some(OfflineReason::UnansweredOffers)));
        let back =
            Rider::decide(rider.as_ref(), &Duty::Idle, RiderCommand::GoOnline { position, shift_ends_at: None }, now)
                .unwrap();
        rider = back.iter().fold(rider, |r, e| Rider::apply(r, id, e));
        assert_eq!(rider.unwrap().offline_reason, None);
    }

    #[test]
    fn a_shift_end_must_lie_ahead_and_within_a_day() {
        let id = RiderId::random();
        let now = Utc::now();
        let register = RiderCommand::Register { name: "Min".into(), zone: ZoneId::default() };
        let rider =
            Rider::decide(None, &Duty::Idle, register, now).unwrap().iter().fold(None, |r, e| Rider::apply(r, id, e));
        let position = GeoPoint::new(37.5, 127.0).unwrap();
        let online = |end| RiderCommand::GoOnline { position, shift_ends_at: Some(end) };
        for bad in [now, now - chrono::Duration::minutes(1), now + chrono::Duration::hours(MAX_SHIFT_HOURS + 1)] {
            assert_eq!(Rider::decide(rider.as_ref(), &Duty::Idle, online(bad), now), Err(RiderError::InvalidShiftEnd));
        }
        let end = now + chrono::Duration::hours(4);
        let events = Rider::decide(rider.as_ref(), &Duty::Idle, online(end), now).unwrap();
        let on = events.iter().fold(rider, |r, e| Rider::apply(r, id, e)).unwrap();
        assert_eq!(on.shift_ends_at, Some(end));
        let off = Rider::decide(Some(&on), &Duty::Idle, RiderCommand::GoOffline, now).unwrap();
        let mut state = Some(on);
        for event in &off {
            state = Rider::apply(state, id, event);
        }
        assert_eq!(state.unwrap().shift_ends_at, None);
    }
}
