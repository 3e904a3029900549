//! A finished order leaves nothing behind in the live structures: its actor stops (and so
//! lets go of the platform), the registry, the customer's live orders, the store's board and
//! the rider's duty all forget it. A server that runs for days must not keep a trace of
//! every order it ever delivered.

use std::sync::Arc;
use std::time::Duration;

use baedal::actors::{Execute, GetBoard, GetOrder, GetRider, RiderCmd, StoreCmd};
use baedal::config::Settings;
use baedal::domain::order::{Courier, Order, OrderCommand, OrderTerms, Phase};
use baedal::domain::rider::{Duty, RiderCommand};
use baedal::domain::store::{MenuItem, StoreCommand, StoreProfile};
use baedal::domain::{Currency, CustomerId, GeoPoint, ItemId, Money, OrderId, RiderId, StoreId, ZoneId};
use baedal::startup::Application;

fn settings(dir: &tempfile::TempDir) -> Settings {
    let mut settings = Settings::default();
    settings.database.url = format!("sqlite://{}/baedal.db", dir.path().display());
    settings.server.port = 0;
    settings.demo.enabled = false;
    settings.payment.latency_ms = 0;
    settings
}

async fn wait_for(app: &Application, id: OrderId, what: &str, done: impl Fn(&Order) -> bool) -> Order {
    for _ in 0..500 {
        if let Some(addr) = app.platform().order(id) {
            if let Ok(Ok(Some(order))) = addr.send(GetOrder).await {
                if done(&order) {
                    return order;
                }
            }
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("order {id} never got to {what}");
}

async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..250 {
        if done() {
            return;
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never: {what}");
}

#[actix_rt::test]
async fn delivered_orders_leave_no_trace_in_the_live_structures() {
    let dir = tempfile::tempdir().unwrap();
    let app = Application::build(settings(&dir)).await.unwrap();
    let platform = app.platform().clone();
    let krw = Currency::parse("KRW").unwrap();
    let here = GeoPoint::new(37.5665, 126.978).unwrap();

    let store_id = StoreId::random();
    let item = MenuItem {
        id: ItemId::random(),
        name: "Bibimbap".into(),
        price: Money::new(11000, krw).unwrap(),
        available: true,
    };
    let profile = StoreProfile {
        name: "Test".into(),
        zone: ZoneId::default(),
        location: here,
        delivery_radius_m: 3000,
        accept_deadline_secs: 600,
        currency: krw,
        menu: vec![item.clone()],
    };
    let store = platform.start_store(store_id).send(StoreCmd(StoreCommand::Register(profile))).await.unwrap().unwrap();
    let rider_id = RiderId::random();
    let rider = platform.start_rider(rider_id);
    let register = RiderCommand::Register { name: "Min".into(), zone: ZoneId::default() };
    rider.send(RiderCmd(register)).await.unwrap().unwrap();
    rider.send(RiderCmd(RiderCommand::GoOnline { position: here })).await.unwrap().unwrap();
    // Every live actor holds the platform: once the orders are done, only these remain.
    let holders = Arc::strong_count(&platform);

    let customer = CustomerId::random();
    for _ in 0..3 {
        let id = OrderId::random();
        let quote = store.quote(&[(item.id, 1)], &here).unwrap();
        let terms = OrderTerms {
            customer_id: customer,
            store_id,
            zone: ZoneId::default(),
            lines: quote.lines,
            total: quote.total,
            pickup: here,
            dropoff: here,
            store_accept_secs: 600,
            request_fingerprint: "test".into(),
        };
        let order = platform.start_order(id);
        order.send(Execute::new(OrderCommand::Place(terms))).await.unwrap().unwrap();
        assert_eq!(platform.hub.orders_of(customer), vec![id]);
        wait_for(&app, id, "the store", |o| matches!(o.phase, Phase::AwaitingStore { .. })).await;
        order.send(Execute::new(OrderCommand::Accept { prep_minutes: 1 })).await.unwrap().unwrap();
        wait_for(&app, id, "an offer", |o| matches!(o.phase, Phase::Active { courier: Courier::Offered { .. }, .. }))
            .await;
        let steps = [
            OrderCommand::AcceptOffer { rider: rider_id },
            OrderCommand::MarkReady,
            OrderCommand::PickUp { rider: rider_id },
            OrderCommand::Deliver { rider: rider_id, position: here, geofence_m: 100.0 },
        ];
        for step in steps {
            order.send(Execute::new(step)).await.unwrap().unwrap();
        }
        drop(order);
        eventually("the settled order leaves the registry", || platform.order(id).is_none()).await;
    }

    eventually("the finished orders' actors stop", || Arc::strong_count(&platform) == holders).await;
    assert!(platform.live_orders().is_empty());
    assert!(platform.hub.orders_of(customer).is_empty());
    let board = platform.store(store_id).unwrap().send(GetBoard).await.unwrap();
    assert!(board.is_empty(), "{board:?}");
    let view = rider.send(GetRider).await.unwrap().unwrap().unwrap();
    assert_eq!(view.duty, Duty::Idle);
}
