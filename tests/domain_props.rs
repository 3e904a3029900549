//! Property tests of the pure state machines: whatever commands arrive, in whatever order,
//! no order reaches an illegal state, terminal states stay terminal, and replaying the
//! events of any run rebuilds the same state.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

use baedal::domain::order::{Canceller, Eta, Order, OrderCommand, OrderEvent, OrderLine, OrderTerms, Payment, Phase};
use baedal::domain::rider::{Duty, Rider, RiderCommand, RiderEvent};
use baedal::domain::store::{MenuItem, Store, StoreCommand, StoreEvent, StoreProfile};
use baedal::domain::{Currency, CustomerId, GeoPoint, ItemId, Money, OrderId, RiderId, StoreId, ZoneId};

fn krw(amount: i64) -> Money {
    Money::new(amount, Currency::parse("KRW").unwrap()).unwrap()
}

fn here() -> GeoPoint {
    GeoPoint::new(37.5665, 126.978).unwrap()
}

fn terms() -> OrderTerms {
    OrderTerms {
        customer_id: CustomerId::named("c"),
        store_id: StoreId::named("s"),
        zone: ZoneId::default(),
        lines: vec![OrderLine {
            item_id: ItemId::named("i"),
            name: "Kimbap".into(),
            quantity: 2,
            unit_price: krw(4500),
        }],
        total: krw(9000),
        pickup: here(),
        dropoff: here().offset_m(1000.0, 0.0),
        store_accept_secs: 300,
        request_fingerprint: "f".into(),
    }
}

fn rider(n: u8) -> RiderId {
    RiderId::named(&format!("rider-{}", n % 3))
}

fn order_command() -> impl Strategy<Value = OrderCommand> {
    let r = any::<u8>().prop_map(rider);
    prop_oneof![
        Just(OrderCommand::Place(terms())),
        "[a-z]{0,3}".prop_map(|a| OrderCommand::RecordAuthorization { authorization: a }),
        "[a-z ]{0,3}".prop_map(|reason| OrderCommand::RecordDecline { reason }),
        (0u32..200).prop_map(|prep_minutes| OrderCommand::Accept { prep_minutes }),
        "[a-z ]{0,3}".prop_map(|reason| OrderCommand::Reject { reason }),
        Just(OrderCommand::ExpireStoreDeadline),
        Just(OrderCommand::Cancel(Canceller::Customer)),
        "[a-z ]{0,3}".prop_map(|reason| OrderCommand::Cancel(Canceller::Store { reason })),
        "[a-z ]{0,3}".prop_map(|reason| OrderCommand::Cancel(Canceller::Operator { reason })),
        Just(OrderCommand::GiveUpDispatch),
        Just(OrderCommand::EscalateDispatch),
        Just(OrderCommand::FlagKitchenLate),
        (0i64..3600).prop_map(|s| OrderCommand::UpdateEta(Eta {
            pickup_at: (s % 2 == 0).then(|| epoch() + Duration::seconds(s)),
            dropoff_at: epoch() + Duration::seconds(s + 600),
        })),
        Just(OrderCommand::MarkReady),
        (r.clone(), 0i64..120)
            .prop_map(|(rider, secs)| OrderCommand::Offer { rider, deadline: epoch() + Duration::seconds(secs * 60) }),
        r.clone().prop_map(|rider| OrderCommand::AcceptOffer { rider }),
        r.clone().prop_map(|rider| OrderCommand::DeclineOffer { rider }),
        r.clone().prop_map(|rider| OrderCommand::ExpireOffer { rider }),
        r.clone().prop_map(|rider| OrderCommand::ReleaseRider { rider }),
        r.clone().prop_map(|rider| OrderCommand::PickUp { rider }),
        (r, prop::bool::ANY).prop_map(|(rider, at_door)| OrderCommand::Deliver {
            rider,
            position: if at_door { here().offset_m(1000.0, 0.0) } else { here() },
            geofence_m: 150.0,
        }),
        Just(OrderCommand::RecordVoid),
        Just(OrderCommand::RecordCapture),
    ]
}

fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

/// A step: the seconds that pass, a selector, and a random command. Most steps (selector
/// below 245) pick a command that fits the order's current phase, so runs reach deep
/// states (delivered, re-dispatched, settled); the rest throw arbitrary commands at it.
type Step = (i64, u8, OrderCommand);

fn run() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec((prop_oneof![9 => 0i64..20, 1 => 0i64..400], any::<u8>(), order_command()), 1..60)
}

fn next_command(order: Option<&Order>, (_, selector, noise): &Step, now: DateTime<Utc>) -> OrderCommand {
    if *selector >= 245 {
        return noise.clone();
    }
    let r = rider(*selector);
    let held = order.and_then(|o| o.rider()).unwrap_or(r);
    // A few selectors end the order early (cancel, reject, decline, give up); the rest
    // move it forward, so runs reach every phase.
    let rare = *selector < 12;
    let candidates: Vec<OrderCommand> = match (order.map(|o| &o.phase), rare) {
        (None, _) => vec![OrderCommand::Place(terms())],
        (Some(Phase::AwaitingPayment), false) => {
            vec![OrderCommand::RecordAuthorization { authorization: "auth".into() }]
        }
        (Some(Phase::AwaitingPayment), true) => {
            vec![OrderCommand::RecordDecline { reason: "no".into() }, OrderCommand::Cancel(Canceller::Customer)]
        }
        (Some(Phase::AwaitingStore { .. }), false) => {
            vec![OrderCommand::Accept { prep_minutes: 10 }, OrderCommand::ExpireStoreDeadline]
        }
        (Some(Phase::AwaitingStore { .. }), true) => vec![
            OrderCommand::Reject { reason: "busy".into() },
            OrderCommand::Cancel(Canceller::Customer),
            OrderCommand::Accept { prep_minutes: 0 },
        ],
        (Some(Phase::Active { .. }), false) => vec![
            OrderCommand::Offer { rider: r, deadline: now + Duration::seconds(30) },
            OrderCommand::AcceptOffer { rider: held },
            OrderCommand::ExpireOffer { rider: held },
            OrderCommand::MarkReady,
            OrderCommand::PickUp { rider: held },
            OrderCommand::EscalateDispatch,
            OrderCommand::FlagKitchenLate,
            OrderCommand::UpdateEta(Eta { pickup_at: Some(now), dropoff_at: now + Duration::seconds(900) }),
        ],
        (Some(Phase::Active { .. }), true) => vec![
            OrderCommand::DeclineOffer { rider: held },
            OrderCommand::ReleaseRider { rider: held },
            OrderCommand::DeclineOffer { rider: held },
            OrderCommand::ReleaseRider { rider: held },
            OrderCommand::GiveUpDispatch,
            OrderCommand::Cancel(Canceller::Store { reason: "oops".into() }),
        ],
        (Some(Phase::PickedUp { rider, .. }), false) => vec![
            OrderCommand::Deliver { rider: *rider, position: here().offset_m(1000.0, 0.0), geofence_m: 150.0 },
            OrderCommand::Deliver { rider: *rider, position: here(), geofence_m: 150.0 },
        ],
        (Some(Phase::PickedUp { .. }), true) => {
            vec![OrderCommand::Cancel(Canceller::Operator { reason: "lost".into() })]
        }
        (Some(_), _) => vec![OrderCommand::RecordVoid, OrderCommand::RecordCapture, noise.clone()],
    };
    candidates[usize::from(*selector) % candidates.len()].clone()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn no_command_sequence_reaches_an_illegal_order_state(commands in run()) {
        let id = OrderId::named("o");
        let mut now = epoch();
        let mut state: Option<Order> = None;
        let mut history: Vec<OrderEvent> = Vec::new();
        for step in commands {
            now += Duration::seconds(step.0);
            let command = next_command(state.as_ref(), &step, now);
            let was_terminal = state.as_ref().map(|o| o.status().is_terminal()).unwrap_or(false);
            let before = state.clone();
            let settling = matches!(
                command,
                OrderCommand::RecordVoid
                    | OrderCommand::RecordCapture
                    | OrderCommand::RecordAuthorization { .. }
                    | OrderCommand::RecordDecline { .. }
            );
            match Order::decide(state.as_ref(), command, now) {
                Ok(events) => {
                    for event in &events {
                        state = Order::apply(state, id, event);
                    }
                    history.extend(events.clone());
                    if was_terminal && !settling {
                        // Terminal states absorb everything but the payment's settlement.
                        prop_assert!(events.is_empty(), "terminal order changed: {:?}", events);
                    }
                }
                Err(_) => prop_assert_eq!(&state, &before, "a refused command changed nothing"),
            }
            if let Some(order) = &state {
                prop_assert_eq!(order.check_invariants(), Ok(()), "state {:?}", order);
                if let Phase::Active { excluded, .. } = &order.phase {
                    if let Some(rider) = order.rider() {
                        prop_assert!(!excluded.contains(&rider), "held by an excluded rider");
                    }
                }
                if was_terminal {
                    prop_assert!(order.status().is_terminal());
                }
            }
        }
        // The operator hears of a late kitchen once at most.
        let alerts = history.iter().filter(|e| matches!(e, OrderEvent::KitchenLate { .. })).count();
        prop_assert!(alerts <= 1, "{} kitchen-late alerts", alerts);
        // Replaying the history rebuilds the very same state.
        prop_assert_eq!(Order::replay(id, history.iter()), state.clone());
        // And through JSON, as the event store keeps it.
        let stored: Vec<OrderEvent> = history
            .iter()
            .map(|e| serde_json::from_value(serde_json::to_value(e).unwrap()).unwrap())
            .collect();
        prop_assert_eq!(Order::replay(id, stored.iter()), state.clone());
        if let Some(order) = &state {
            let snapshot: Order = serde_json::from_value(serde_json::to_value(order).unwrap()).unwrap();
            prop_assert_eq!(&snapshot, order);
        }
    }

    #[test]
    fn money_is_taken_only_on_delivery_and_released_on_every_other_end(commands in run()) {
        let id = OrderId::named("o");
        let mut now = epoch();
        let mut state: Option<Order> = None;
        for step in commands {
            now += Duration::seconds(step.0);
            let command = next_command(state.as_ref(), &step, now);
            if let Ok(events) = Order::decide(state.as_ref(), command, now) {
                for event in &events {
                    state = Order::apply(state, id, event);
                }
            }
        }
        if let Some(order) = state {
            match (&order.phase, &order.payment) {
                (Phase::Delivered { .. }, Payment::Authorized { .. } | Payment::Captured { .. }) => {}
                (Phase::Delivered { .. }, p) => prop_assert!(false, "delivered with payment {:?}", p),
                (_, Payment::Captured { .. }) => prop_assert!(false, "captured without delivery"),
                _ => {}
            }
            // Once settled, only an authorization still held needs action: void or capture.
            if order.status().is_terminal() && !order.is_settled() {
                let open = matches!(order.payment, Payment::Authorized { .. } | Payment::Pending);
                prop_assert!(open, "unsettled terminal order whose payment is settled");
            }
            // A cancelled order never keeps the money: its hold is only ever voided.
            if let Phase::Cancelled { .. } = order.phase {
                let captured = matches!(order.payment, Payment::Captured { .. });
                prop_assert!(!captured, "a cancelled order's money was captured");
            }
        }
    }
}

fn store_command() -> impl Strategy<Value = StoreCommand> {
    prop_oneof![
        Just(StoreCommand::Open),
        Just(StoreCommand::Close),
        (0u8..3, prop::bool::ANY).prop_map(|(i, available)| StoreCommand::SetAvailability {
            item: ItemId::named(&format!("item-{i}")),
            available
        }),
    ]
}

proptest! {
    #[test]
    fn store_replay_matches_and_menus_keep_their_items(commands in prop::collection::vec(store_command(), 0..40)) {
        let id = StoreId::named("s");
        let krw = Currency::parse("KRW").unwrap();
        let profile = StoreProfile {
            name: "S".into(), zone: ZoneId::default(), location: here(), delivery_radius_m: 3000,
            accept_deadline_secs: 60, currency: krw,
            menu: (0..2).map(|i| MenuItem { id: ItemId::named(&format!("item-{i}")), name: format!("Item {i}"), price: krw_money(1000), available: true }).collect(),
        };
        let mut history: Vec<StoreEvent> = Store::decide(None, StoreCommand::Register(profile), epoch()).unwrap();
        let mut state = history.iter().fold(None, |s, e| Store::apply(s, id, e));
        for command in commands {
            if let Ok(events) = Store::decide(state.as_ref(), command, epoch()) {
                state = events.iter().fold(state, |s, e| Store::apply(s, id, e));
                history.extend(events);
            }
        }
        prop_assert_eq!(state.as_ref().map(|s| s.menu.len()), Some(2));
        prop_assert_eq!(history.iter().fold(None, |s, e| Store::apply(s, id, e)), state);
    }

    #[test]
    fn rider_replay_matches(commands in prop::collection::vec(0u8..3, 0..40), carrying in prop::bool::ANY) {
        let id = RiderId::named("r");
        let duty = if carrying { Duty::Delivering { order: OrderId::named("o") } } else { Duty::Idle };
        let mut history: Vec<RiderEvent> =
            Rider::decide(None, &duty, RiderCommand::Register { name: "R".into(), zone: ZoneId::default() }, epoch()).unwrap();
        let mut state = history.iter().fold(None, |s, e| Rider::apply(s, id, e));
        for c in commands {
            let command = match c {
                0 => RiderCommand::GoOnline { position: here(), shift_ends_at: None },
                1 => RiderCommand::GoOffline,
                _ => RiderCommand::Register { name: "again".into(), zone: ZoneId::default() },
            };
            let was_online = state.as_ref().unwrap().online;
            if let Ok(events) = Rider::decide(state.as_ref(), &duty, command, epoch()) {
                state = events.iter().fold(state, |s, e| Rider::apply(s, id, e));
                history.extend(events);
            }
            if carrying && was_online {
                prop_assert!(state.as_ref().unwrap().online, "a rider with food on board went offline");
            }
        }
        prop_assert_eq!(history.iter().fold(None, |s, e| Rider::apply(s, id, e)), state);
    }
}

fn krw_money(amount: i64) -> Money {
    krw(amount)
}
