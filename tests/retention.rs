//! A finished order leaves nothing behind in the live structures: its actor stops (and so
//! lets go of the platform), the registry, the customer's live orders, the store's board and
//! the rider's duty all forget it. A server that runs for days must not keep a trace of
//! every order it ever delivered.

use std::sync::Arc;
use std::time::Duration;

use baedal::actors::{Execute, GetBoard, GetOrder, GetRider};
use baedal::domain::order::{Courier, Order, OrderCommand, Phase};
use baedal::domain::rider::Duty;
use baedal::domain::{CustomerId, OrderId};
use baedal::startup::Application;

mod common;

use common::inproc::{self, city, City};

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
    let app = Application::build(inproc::settings(&dir)).await.unwrap();
    let platform = app.platform().clone();
    let the_city = city(&app).await;
    let City { store_id, rider_id, ref rider, here, .. } = the_city;
    // Every live actor holds the platform: once the orders are done, only these remain.
    let holders = Arc::strong_count(&platform);

    let customer = CustomerId::random();
    for _ in 0..3 {
        let id = OrderId::random();
        the_city.place(&app, id, customer).await;
        let order = platform.order(id).unwrap();
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
