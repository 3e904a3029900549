//! What an order asks of the world in the state it is in: what it needs from dispatch, and
//! which deadlines are in force with the command each fires. Pure, so the order actor (wall
//! clock, actix timers) and the headless simulator (simulated clock, an agenda) follow the
//! same rules.

use chrono::{DateTime, Utc};

use crate::config::DispatchSettings;
use crate::domain::order::{Courier, Order, OrderCommand, Phase};

use super::Need;

/// What `order` needs from its zone's dispatcher, or `None` while it is not yet the
/// dispatcher's business (unpaid, or waiting for the store).
pub fn need(order: &Order) -> Option<Need> {
    Some(match &order.phase {
        Phase::Active { courier: Courier::Searching { since }, excluded, .. } => {
            Need::Rider { excluded: excluded.clone(), since: *since }
        }
        Phase::Active { courier: Courier::Offered { rider, .. } | Courier::Assigned { rider }, .. }
        | Phase::PickedUp { rider, .. } => Need::Holds(*rider),
        Phase::AwaitingPayment | Phase::AwaitingStore { .. } => return None,
        _ => Need::Nothing,
    })
}

/// The deadlines `order`'s state calls for, each with the command it fires: the store's
/// accept deadline, an offer's answer deadline, and, while no rider has the job, the
/// operator alert and the give-up.
pub fn deadlines(order: &Order, dispatch: &DispatchSettings) -> Vec<(DateTime<Utc>, OrderCommand)> {
    let mut wanted = Vec::new();
    match &order.phase {
        Phase::AwaitingStore { deadline } => wanted.push((*deadline, OrderCommand::ExpireStoreDeadline)),
        Phase::Active { courier, .. } => {
            if let Courier::Offered { rider, deadline } = courier {
                wanted.push((*deadline, OrderCommand::ExpireOffer { rider: *rider }));
            }
            let still_looking = !matches!(courier, Courier::Assigned { .. });
            if let (true, Some(accepted)) = (still_looking, order.accepted_at) {
                let after = |d: std::time::Duration| {
                    chrono::Duration::from_std(d).ok().and_then(|d| accepted.checked_add_signed(d))
                };
                if let (None, Some(at)) = (order.dispatch_alerted_at, after(dispatch.alert_after())) {
                    wanted.push((at, OrderCommand::EscalateDispatch));
                }
                // Only while searching: an offer out runs to its own deadline first, and a
                // give-up time that passed meanwhile fires as soon as it lapses.
                if let (Courier::Searching { .. }, Some(at)) = (courier, after(dispatch.give_up_after())) {
                    wanted.push((at, OrderCommand::GiveUpDispatch));
                }
            }
        }
        _ => {}
    }
    wanted
}
