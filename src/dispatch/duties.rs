//! What an order asks of the world in the state it is in: what it needs from dispatch, and
//! which deadlines are in force with the command each fires. Pure, so the order actor (wall
//! clock, actix timers) and the headless simulator (simulated clock, an agenda) follow the
//! same rules.

use chrono::{DateTime, Utc};

use crate::config::{DispatchSettings, OrderSettings, Release};
use crate::domain::order::{Courier, Kitchen, Order, OrderCommand, Phase};
use crate::domain::GeoPoint;

use super::{Need, Places, Stage};

/// What `order` needs from its zone's dispatcher, or `None` while it is not yet the
/// dispatcher's business (unpaid, or waiting for the store). A rider is needed from when
/// dispatch starts for it ([`dispatch_starts`]): the board offers it nothing before.
pub fn need(order: &Order, dispatch: &DispatchSettings) -> Option<Need> {
    Some(match &order.phase {
        Phase::Active { courier: Courier::Searching { since }, excluded, kitchen } => {
            let starts = dispatch_starts(order, dispatch).unwrap_or(*since);
            Need::Rider { excluded: excluded.clone(), since: (*since).max(starts), ready_at: due(kitchen) }
        }
        Phase::Active { courier: Courier::Offered { rider, .. }, kitchen, .. } => {
            Need::Holds { rider: *rider, stage: Stage::Offered, ready_at: due(kitchen) }
        }
        Phase::Active { courier: Courier::Assigned { rider }, kitchen, .. } => {
            Need::Holds { rider: *rider, stage: Stage::Assigned, ready_at: due(kitchen) }
        }
        Phase::PickedUp { rider, .. } => Need::Holds { rider: *rider, stage: Stage::PickedUp, ready_at: None },
        Phase::AwaitingPayment | Phase::AwaitingStore { .. } => return None,
        _ => Need::Nothing,
    })
}

/// Where `order` is picked up and where it goes, as dispatch sees it.
pub fn places(order: &Order) -> Places<GeoPoint> {
    Places { pickup: order.terms.pickup, dropoff: order.terms.dropoff }
}

/// The deadlines `order`'s state calls for, each with the command it fires: the store's
/// accept deadline, an offer's answer deadline, while no rider has the job the operator
/// alert and the give-up, and while the kitchen cooks the operator alert for a kitchen well
/// past its promise.
pub fn deadlines(
    order: &Order,
    dispatch: &DispatchSettings,
    orders: &OrderSettings,
) -> Vec<(DateTime<Utc>, OrderCommand)> {
    let mut wanted = Vec::new();
    match &order.phase {
        Phase::AwaitingStore { deadline } => wanted.push((*deadline, OrderCommand::ExpireStoreDeadline)),
        Phase::Active { courier, kitchen, .. } => {
            if let (Kitchen::Preparing { ready_by }, None) = (kitchen, order.kitchen_late_at) {
                wanted.extend(
                    kitchen_late_at(*ready_by, order.prep_minutes, orders)
                        .map(|at| (at, OrderCommand::FlagKitchenLate)),
                );
            }
            if let Courier::Offered { rider, deadline } = courier {
                wanted.push((*deadline, OrderCommand::ExpireOffer { rider: *rider }));
            }
            let still_looking = !matches!(courier, Courier::Assigned { .. });
            if let (true, Some(started)) = (still_looking, dispatch_starts(order, dispatch)) {
                let after = |d: std::time::Duration| {
                    chrono::Duration::from_std(d).ok().and_then(|d| started.checked_add_signed(d))
                };
                // Not before the food is due: until then a rider is sent only once it would
                // arrive in time, so having none yet is no alarm.
                let due = cooking_until(kitchen, dispatch);
                let escalate = after(dispatch.alert_after()).map(|at| due.map_or(at, |due| at.max(due)));
                if let (None, Some(at)) = (order.dispatch_alerted_at, escalate) {
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

/// When dispatch starts for an accepted order: with [`Release::BeforeReady`],
/// `dispatch.release_lead_secs` before its food
/// is due (the promised time, or when the kitchen said it was ready if that came first),
/// so that the rider arrives as the food does instead of waiting at the counter while it
/// cooks; never before the store accepted. The search radius, the operator alert and the
/// give-up all count from here. `None` before the store accepts.
pub fn dispatch_starts(order: &Order, dispatch: &DispatchSettings) -> Option<DateTime<Utc>> {
    let accepted = order.accepted_at?;
    if dispatch.release == Release::AtAccept {
        return Some(accepted);
    }
    let promised = order.prep_minutes.map(|m| accepted + chrono::Duration::minutes(i64::from(m)));
    let ready = match &order.phase {
        Phase::Active { kitchen: Kitchen::Ready { at }, .. } => Some(promised.map_or(*at, |p| p.min(*at))),
        Phase::Active { kitchen: Kitchen::Preparing { ready_by }, .. } => Some(*ready_by),
        _ => promised,
    };
    let lead = chrono::Duration::seconds(dispatch.release_lead_secs.min(1 << 32) as i64);
    Some(ready.map_or(accepted, |ready| accepted.max(ready - lead)))
}

/// When the food still cooking is due (`None`: it is ready).
fn due(kitchen: &Kitchen) -> Option<DateTime<Utc>> {
    match kitchen {
        Kitchen::Preparing { ready_by } => Some(*ready_by),
        Kitchen::Ready { .. } => None,
    }
}

/// When the food still cooking is due, for dispatch timed to the kitchen
/// ([`Release::BeforeReady`]); `None` once it is ready, or when dispatch is not timed.
fn cooking_until(kitchen: &Kitchen, dispatch: &DispatchSettings) -> Option<DateTime<Utc>> {
    match (kitchen, dispatch.release) {
        (Kitchen::Preparing { ready_by }, Release::BeforeReady) => Some(*ready_by),
        _ => None,
    }
}

/// When a kitchen that promised `prep_minutes`, ready by `ready_by`, is well past its
/// promise (see [`OrderSettings::kitchen_late_grace`]). `None` only if the time overflows.
fn kitchen_late_at(
    ready_by: DateTime<Utc>,
    prep_minutes: Option<u32>,
    orders: &OrderSettings,
) -> Option<DateTime<Utc>> {
    let grace = chrono::Duration::from_std(orders.kitchen_late_grace(prep_minutes.unwrap_or(0))).ok()?;
    ready_by.checked_add_signed(grace)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, TimeZone, Utc};

    use super::*;
    use crate::domain::order::{accepted_history, OrderEvent};
    use crate::domain::OrderId;

    fn noon() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap()
    }

    fn order(events: &[OrderEvent]) -> Order {
        Order::replay(OrderId::named("o"), events.iter()).unwrap()
    }

    fn kitchen_deadline(order: &Order) -> Option<DateTime<Utc>> {
        let wanted = deadlines(order, &DispatchSettings::default(), &OrderSettings::default());
        let mut late = wanted.into_iter().filter(|(_, c)| *c == OrderCommand::FlagKitchenLate).map(|(at, _)| at);
        let first = late.next();
        assert_eq!(late.next(), None, "one kitchen deadline at most");
        first
    }

    #[test]
    fn a_cooking_kitchen_is_due_an_alert_ten_minutes_or_half_its_promise_past_it() {
        let ten = order(&accepted_history(noon(), 10));
        assert_eq!(kitchen_deadline(&ten), Some(noon() + Duration::minutes(20)));
        let forty = order(&accepted_history(noon(), 40));
        assert_eq!(kitchen_deadline(&forty), Some(noon() + Duration::minutes(60)));
        // The other deadlines of a searching order stand beside it.
        let names: Vec<_> = deadlines(&ten, &DispatchSettings::default(), &OrderSettings::default())
            .into_iter()
            .map(|(_, c)| c.name())
            .collect();
        assert_eq!(names, ["flag_kitchen_late", "escalate_dispatch", "give_up_dispatch"]);
    }

    #[test]
    fn dispatch_starts_the_release_lead_before_the_food_is_due() {
        let lead = DispatchSettings { release_lead_secs: 300, ..DispatchSettings::default() };
        let searching_since = |order: &Order| match need(order, &lead) {
            Some(Need::Rider { since, .. }) => since,
            other => panic!("searching: {other:?}"),
        };
        // Twenty minutes of cooking: a rider is looked for from fifteen minutes in, and the
        // alert and give-up count from there.
        let twenty = order(&accepted_history(noon(), 20));
        assert_eq!(dispatch_starts(&twenty, &lead), Some(noon() + Duration::minutes(15)));
        assert_eq!(searching_since(&twenty), noon() + Duration::minutes(15));
        let give_up = deadlines(&twenty, &lead, &OrderSettings::default())
            .into_iter()
            .find(|(_, c)| *c == OrderCommand::GiveUpDispatch)
            .map(|(at, _)| at);
        assert_eq!(give_up, Some(noon() + Duration::minutes(15) + Duration::seconds(lead.give_up_after_secs as i64)));
        // Three minutes of cooking is inside the lead: from acceptance.
        assert_eq!(dispatch_starts(&order(&accepted_history(noon(), 3)), &lead), Some(noon()));
        // Food ready early starts it at once.
        let mut early = accepted_history(noon(), 20);
        early.push(OrderEvent::MarkedReady { at: noon() + Duration::minutes(4) });
        assert_eq!(dispatch_starts(&order(&early), &lead), Some(noon()));
        // At accept: the moment the store accepts, with no ready time to wait for.
        let at_accept = DispatchSettings { release: Release::AtAccept, ..lead.clone() };
        assert_eq!(dispatch_starts(&twenty, &at_accept), Some(noon()));
        // Either way the board hears when the food is due (trips group orders by it).
        assert!(matches!(need(&twenty, &at_accept), Some(Need::Rider { ready_at: Some(_), .. })));
        assert!(matches!(need(&twenty, &lead), Some(Need::Rider { ready_at: Some(_), .. })));
        assert_eq!(dispatch_starts(&order(&accepted_history(noon(), 20)[..2]), &lead), None, "not before acceptance");
    }

    #[test]
    fn no_kitchen_alert_once_flagged_or_ready_or_before_acceptance() {
        let mut events = accepted_history(noon(), 10);
        let due = kitchen_deadline(&order(&events)).unwrap();
        // The deadline, fired at its time, flags the kitchen...
        let flagged = Order::decide(Some(&order(&events)), OrderCommand::FlagKitchenLate, due).unwrap();
        assert_eq!(flagged, vec![OrderEvent::KitchenLate { at: due }]);
        events.extend(flagged);
        // ...and is not wanted again.
        assert_eq!(kitchen_deadline(&order(&events)), None);

        let mut ready = accepted_history(noon(), 10);
        ready.push(OrderEvent::MarkedReady { at: noon() + Duration::minutes(8) });
        assert_eq!(kitchen_deadline(&order(&ready)), None);
        let awaiting_store = &accepted_history(noon(), 10)[..2];
        assert_eq!(kitchen_deadline(&order(awaiting_store)), None);
    }
}
