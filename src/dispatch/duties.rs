//! What an order asks of the world in the state it is in: what it needs from dispatch,
//! which deadlines are in force with the command each fires, what the payment provider must
//! be asked, and whose job it is. Pure, so the order actor (wall clock, actix timers), the
//! headless simulator (simulated clock, an agenda) and the MDRP replay follow the same rules.

use chrono::{DateTime, Utc};

use crate::config::{DispatchSettings, OrderSettings, Release};
use crate::domain::order::{Courier, Kitchen, Order, OrderCommand, Payment, Phase};
use crate::domain::rider::Duty;
use crate::domain::{GeoPoint, RiderId};

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
    Places { pickup: order.terms.pickup, dropoff: order.terms.dropoff, placed_at: order.placed_at }
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

/// What the payment provider must be asked now for an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentCall {
    /// Hold the order's total; answered by a grant, a decline, or nothing (ask again until
    /// the payment timeout).
    Authorize,
    /// Release a hold the order no longer needs (rejected or cancelled).
    Void { authorization: String },
    /// Release whatever an authorization that was never answered may have held.
    VoidUnanswered,
    /// Take the held money: the food was delivered.
    Capture { authorization: String },
}

/// What `order`'s payment state calls for, given its phase. An authorization is still
/// wanted after a cancellation that came before the provider answered: the answer decides
/// whether there is a hold to void.
pub fn payment_call(order: &Order) -> Option<PaymentCall> {
    match (&order.phase, &order.payment) {
        (Phase::AwaitingPayment | Phase::Cancelled { .. }, Payment::Pending) => Some(PaymentCall::Authorize),
        (Phase::Cancelled { .. } | Phase::Rejected { .. }, Payment::Authorized { authorization }) => {
            Some(PaymentCall::Void { authorization: authorization.clone() })
        }
        (Phase::Cancelled { .. } | Phase::Rejected { .. }, Payment::Unresolved { .. }) => {
            Some(PaymentCall::VoidUnanswered)
        }
        (Phase::Delivered { .. }, Payment::Authorized { authorization }) => {
            Some(PaymentCall::Capture { authorization: authorization.clone() })
        }
        _ => None,
    }
}

/// Whose job `order` is now and as what: offered to a rider, the rider on its way to the
/// store, or the rider carrying it. `None` while no rider has it.
pub fn rider_duty(order: &Order) -> Option<(RiderId, Duty)> {
    let id = order.id;
    match &order.phase {
        Phase::Active { courier: Courier::Offered { rider, deadline }, .. } => {
            Some((*rider, Duty::Offered { order: id, deadline: *deadline }))
        }
        Phase::Active { courier: Courier::Assigned { rider }, .. } => {
            Some((*rider, Duty::EnRouteToStore { order: id }))
        }
        Phase::PickedUp { rider, .. } => Some((*rider, Duty::Delivering { order: id })),
        _ => None,
    }
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

    /// `order` after `command` at `at`.
    fn after(order: Order, command: OrderCommand, at: DateTime<Utc>) -> Order {
        let events = Order::decide(Some(&order), command, at).unwrap();
        events.iter().try_fold(order, |order, event| Order::apply(Some(order), OrderId::named("o"), event)).unwrap()
    }

    #[test]
    fn the_job_follows_the_order_from_offer_to_door_and_delivery_asks_for_the_capture() {
        let rider = RiderId::named("r");
        let deadline = noon() + Duration::minutes(1);
        let searching = order(&accepted_history(noon(), 10));
        assert_eq!(rider_duty(&searching), None);
        assert_eq!(payment_call(&searching), None, "held, nothing to settle yet");
        let offered = after(searching, OrderCommand::Offer { rider, deadline }, noon());
        assert_eq!(rider_duty(&offered), Some((rider, Duty::Offered { order: offered.id, deadline })));
        let assigned = after(offered, OrderCommand::AcceptOffer { rider }, noon());
        assert_eq!(rider_duty(&assigned), Some((rider, Duty::EnRouteToStore { order: assigned.id })));
        let ready = after(assigned, OrderCommand::MarkReady, noon() + Duration::minutes(10));
        let carried = after(ready, OrderCommand::PickUp { rider }, noon() + Duration::minutes(11));
        assert_eq!(rider_duty(&carried), Some((rider, Duty::Delivering { order: carried.id })));
        let door = carried.terms.dropoff;
        let delivered = after(carried, OrderCommand::Deliver { rider, position: door, geofence_m: 50.0 }, noon());
        assert_eq!(rider_duty(&delivered), None);
        assert_eq!(payment_call(&delivered), Some(PaymentCall::Capture { authorization: "a".into() }));
        let settled = after(delivered, OrderCommand::RecordCapture, noon());
        assert_eq!(payment_call(&settled), None);
    }

    #[test]
    fn an_unpaid_order_asks_for_the_authorization_and_a_dead_one_for_its_void() {
        let history = accepted_history(noon(), 10);
        assert_eq!(payment_call(&order(&history[..1])), Some(PaymentCall::Authorize));
        let rejected = after(order(&history[..2]), OrderCommand::Reject { reason: "closed".into() }, noon());
        assert_eq!(payment_call(&rejected), Some(PaymentCall::Void { authorization: "a".into() }));
        assert_eq!(payment_call(&after(rejected, OrderCommand::RecordVoid, noon())), None);
        let abandoned =
            after(order(&history[..1]), OrderCommand::AbandonPayment { reason: "no answer".into() }, noon());
        assert_eq!(payment_call(&abandoned), Some(PaymentCall::VoidUnanswered));
    }
}
