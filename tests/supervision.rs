//! A panic inside one actor is contained: the actor restarts from its snapshot and events,
//! keeps its address and queued work, and no other actor notices.

use std::time::Duration;

use baedal::actors::{Execute, GetOrder, GetRider, GetStore, InjectFault, StoreCmd};
use baedal::config::Settings;
use baedal::domain::order::{Courier, Order, OrderCommand, OrderStatus, Phase};
use baedal::domain::store::StoreCommand;
use baedal::domain::{CustomerId, OrderId};
use baedal::startup::Application;

mod common;

use common::inproc::{self, city};

fn settings(dir: &tempfile::TempDir) -> Settings {
    let mut settings = inproc::settings(dir);
    settings.orders.snapshot_every = 2;
    settings
}

async fn wait_status(app: &Application, id: OrderId, status: OrderStatus) -> Order {
    for _ in 0..200 {
        let addr = app.platform().order(id).expect("live order");
        if let Ok(Ok(Some(order))) = addr.send(GetOrder).await {
            if order.status() == status {
                return order;
            }
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("order {id} never reached {status}");
}

#[actix_rt::test]
async fn a_panicking_actor_restarts_from_storage_and_the_others_never_notice() {
    let dir = tempfile::tempdir().unwrap();
    let app = Application::build(settings(&dir)).await.unwrap();
    let platform = app.platform().clone();
    let city = city(&app).await;
    let (store_id, rider) = (city.store_id, city.rider.clone());
    let place = |id| city.place(&app, id, CustomerId::random());
    let (victim, bystander) = (OrderId::random(), OrderId::random());
    place(victim).await;
    place(bystander).await;
    wait_status(&app, victim, OrderStatus::AwaitingStore).await;
    let bystander_before = wait_status(&app, bystander, OrderStatus::AwaitingStore).await;
    let victim_addr = platform.order(victim).unwrap();
    victim_addr.send(Execute::new(OrderCommand::Accept { prep_minutes: 10 })).await.unwrap().unwrap();
    let victim_before = victim_addr.send(GetOrder).await.unwrap().unwrap().unwrap();

    // The fault, and a command queued right behind it on the same address.
    assert_eq!(platform.restarts(), 0);
    victim_addr.do_send(InjectFault);
    let after = victim_addr.send(GetOrder).await.unwrap().unwrap().expect("reloaded from storage");
    assert_eq!(after, victim_before);
    assert_eq!(platform.restarts(), 1);
    let ready = victim_addr.send(Execute::new(OrderCommand::MarkReady)).await.unwrap().unwrap();
    assert_eq!(ready.status(), OrderStatus::ReadyForPickup);

    // Nobody else noticed.
    let bystander_after = platform.order(bystander).unwrap().send(GetOrder).await.unwrap().unwrap().unwrap();
    assert_eq!(bystander_after, bystander_before);
    assert!(platform.store(store_id).unwrap().send(GetStore).await.unwrap().unwrap().is_some());
    assert!(rider.send(GetRider).await.unwrap().unwrap().unwrap().online);

    // Store and rider actors recover the same way.
    platform.store(store_id).unwrap().do_send(InjectFault);
    let closed = platform.store(store_id).unwrap().send(StoreCmd(StoreCommand::Close)).await.unwrap().unwrap();
    assert!(!closed.open);
    rider.do_send(InjectFault);
    assert!(rider.send(GetRider).await.unwrap().unwrap().unwrap().online);
    assert_eq!(platform.restarts(), 3);
}

/// The commands an order sends itself (here the new ETA once the food is ready) queue
/// behind the commands already in its mailbox instead of racing them: a pickup sent right
/// behind "ready" is decided on the version "ready" and its ETA left, so neither conflicts
/// and the actor never has to reload.
#[actix_rt::test]
async fn an_orders_own_follow_up_commands_queue_behind_its_mailbox() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings(&dir);
    settings.dispatch.tick_ms = 20;
    let app = Application::build(settings).await.unwrap();
    let city = city(&app).await;
    let id = OrderId::random();
    city.place(&app, id, CustomerId::random()).await;
    wait_status(&app, id, OrderStatus::AwaitingStore).await;
    let order = app.platform().order(id).unwrap();
    order.send(Execute::new(OrderCommand::Accept { prep_minutes: 10 })).await.unwrap().unwrap();
    for _ in 0..200 {
        let now = order.send(GetOrder).await.unwrap().unwrap().unwrap();
        if matches!(now.phase, Phase::Active { courier: Courier::Offered { .. }, .. }) {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    let rider = city.rider_id;
    order.send(Execute::new(OrderCommand::AcceptOffer { rider })).await.unwrap().unwrap();

    let ready = order.send(Execute::new(OrderCommand::MarkReady));
    let pickup = order.send(Execute::new(OrderCommand::PickUp { rider }));
    let (ready, pickup) = futures_util::future::join(ready, pickup).await;
    assert_eq!(ready.unwrap().unwrap().status(), OrderStatus::ReadyForPickup);
    assert_eq!(pickup.unwrap().expect("the pickup is not refused").status(), OrderStatus::PickedUp);
    let after = order.send(GetOrder).await.unwrap().unwrap().unwrap();
    assert!(after.eta.is_some(), "the ready order's ETA was recorded");
    assert_eq!(app.platform().restarts(), 0, "no append conflicted");
}
