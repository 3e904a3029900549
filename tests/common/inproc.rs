//! An in-process application for tests that talk to the actors directly: SQLite in a
//! temporary folder, no demo city, an instant payment sandbox, and a store with one dish
//! beside a rider on duty.

use actix::Addr;
use baedal::actors::{Execute, RiderActor, RiderCmd, StoreCmd};
use baedal::config::Settings;
use baedal::domain::order::OrderCommand;
use baedal::domain::rider::RiderCommand;
use baedal::domain::store::{MenuItem, Store, StoreCommand, StoreProfile};
use baedal::domain::{Currency, CustomerId, GeoPoint, ItemId, Money, OrderId, RiderId, StoreId, ZoneId};
use baedal::startup::Application;

/// Settings for an application whose database lives in `dir`.
pub fn settings(dir: &tempfile::TempDir) -> Settings {
    settings_on(&format!("sqlite://{}/baedal.db", dir.path().display()))
}

/// Settings for an application on the database at `url`.
pub fn settings_on(url: &str) -> Settings {
    let mut settings = Settings::default();
    settings.database.url = url.to_owned();
    settings.server.port = 0;
    settings.demo.enabled = false;
    settings.auth.secret = super::ws::TEST_SECRET.into();
    settings.payment.latency_ms = 0;
    // As for the spawned servers (common::server): dispatch from acceptance.
    settings.dispatch.release = baedal::config::Release::AtAccept;
    settings
}

/// A store with one dish and a rider on duty at the same spot.
pub struct City {
    pub store_id: StoreId,
    pub store: Store,
    pub item: MenuItem,
    pub rider_id: RiderId,
    pub rider: Addr<RiderActor>,
    pub here: GeoPoint,
}

pub async fn city(app: &Application) -> City {
    let platform = app.platform();
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
    rider
        .send(RiderCmd(RiderCommand::Register { name: "Min".into(), zone: ZoneId::default() }))
        .await
        .unwrap()
        .unwrap();
    rider.send(RiderCmd(RiderCommand::GoOnline { position: here, shift_ends_at: None })).await.unwrap().unwrap();
    City { store_id, store, item, rider_id, rider, here }
}

impl City {
    /// Place order `id` for one dish, delivered where the store is.
    pub async fn place(&self, app: &Application, id: OrderId, customer: CustomerId) {
        let quote = self.store.quote(&[(self.item.id, 1)], &self.here).unwrap();
        let terms = quote.into_terms(&self.store, customer, self.here, "test".into());
        app.platform().start_order(id).send(Execute::new(OrderCommand::Place(terms))).await.unwrap().unwrap();
    }
}
