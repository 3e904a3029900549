//! The demo city: a dozen stores with menus around Seoul City Hall, a few dozen riders on
//! duty, and a demo customer. Ids are derived from names, so seeding is idempotent: a
//! restart finds everything in place and adds nothing.

use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::actors::{CommandError, Platform, RiderCmd, StoreCmd};
use crate::auth::{AccountError, Accounts, Role};
use crate::config::DemoSettings;
use crate::domain::rider::RiderCommand;
use crate::domain::store::{MenuItem, StoreCommand, StoreProfile};
use crate::domain::{Currency, CustomerId, GeoPoint, ItemId, Money, RiderId, StoreId, ZoneId};

/// Seoul City Hall.
pub fn centre() -> GeoPoint {
    GeoPoint::new(37.5665, 126.9780).unwrap_or_else(|_| unreachable!("constant is in range"))
}

pub fn demo_customer() -> CustomerId {
    CustomerId::named("demo-customer")
}

const STORES: &[(&str, &[(&str, i64)])] = &[
    ("Kimbap Heaven", &[("Tuna kimbap", 4500), ("Ramyeon", 5000), ("Tteokbokki", 5500)]),
    ("Seoul Fried Chicken", &[("Half-half chicken", 21000), ("Spicy wings", 14000), ("Pickled radish", 1000)]),
    ("Bibimbap House", &[("Dolsot bibimbap", 11000), ("Bulgogi bibimbap", 12000), ("Miso soup", 2000)]),
    ("Jjajang Palace", &[("Jjajangmyeon", 7000), ("Jjamppong", 8500), ("Tangsuyuk", 18000)]),
    ("Mapo Galbi", &[("Pork galbi set", 16000), ("Naengmyeon", 9000), ("Steamed egg", 4000)]),
    ("Gimbap & Co", &[("Cheese kimbap", 5000), ("Fish cake soup", 4000), ("Sundae", 6000)]),
    ("Pho Seoul", &[("Beef pho", 10500), ("Spring rolls", 6000), ("Banh mi", 7500)]),
    ("Hanok Pizza", &[("Bulgogi pizza", 23000), ("Potato pizza", 21000), ("Cola", 2000)]),
    ("Dumpling Alley", &[("Kimchi mandu", 7000), ("Meat mandu", 7000), ("Mandu soup", 8000)]),
    ("Tofu Stew Co", &[("Sundubu jjigae", 9000), ("Kimchi jjigae", 9000), ("Rice", 1000)]),
    ("Bingsu Lab", &[("Patbingsu", 9500), ("Mango bingsu", 12500), ("Hotteok", 3000)]),
    ("Burger Myeongdong", &[("Bulgogi burger", 8900), ("Fries", 3500), ("Shake", 4500)]),
];

/// The demo city's `index`th store.
pub fn store_id(index: usize) -> StoreId {
    StoreId::named(&format!("demo-store-{index}"))
}

fn item_id(store: usize, item: usize) -> ItemId {
    ItemId::named(&format!("demo-store-{store}-item-{item}"))
}

fn krw() -> Currency {
    Currency::parse("KRW").unwrap_or_else(|_| unreachable!("constant is valid"))
}

/// A demo rider and where it comes on duty.
pub struct DemoRider {
    pub id: RiderId,
    pub name: String,
    pub position: GeoPoint,
}

/// The demo city as laid out for `settings`: its stores (with menus) and its riders. Fixed
/// by a constant seed, so the live server and the headless simulator share one city.
pub fn layout(settings: &DemoSettings) -> (Vec<(StoreId, StoreProfile)>, Vec<DemoRider>) {
    let mut rng = SmallRng::seed_from_u64(0xbaeda1);
    let centre = centre();
    let zone = ZoneId::default();
    let mut stores = Vec::with_capacity(settings.stores);
    for index in 0..settings.stores {
        let (name, menu) = STORES[index % STORES.len()];
        let angle = index as f64 / settings.stores.max(1) as f64 * std::f64::consts::TAU;
        let distance = rng.gen_range(400.0..2500.0);
        let location = centre.offset_m(angle.sin() * distance, angle.cos() * distance);
        let profile = StoreProfile {
            name: if index < STORES.len() { name.to_owned() } else { format!("{name} #{}", index / STORES.len() + 1) },
            zone: zone.clone(),
            location,
            delivery_radius_m: 4000,
            accept_deadline_secs: 300,
            currency: krw(),
            menu: menu
                .iter()
                .enumerate()
                .map(|(i, (item, price))| MenuItem {
                    id: item_id(index, i),
                    name: (*item).to_owned(),
                    price: Money { amount: *price, currency: krw() },
                    available: true,
                })
                .collect(),
        };
        stores.push((store_id(index), profile));
    }
    let riders = (0..settings.riders)
        .map(|index| DemoRider {
            id: rider_id(index),
            name: format!("Rider {}", index + 1),
            position: centre.offset_m(rng.gen_range(-3000.0..3000.0), rng.gen_range(-3000.0..3000.0)),
        })
        .collect();
    (stores, riders)
}

/// Register whatever part of the demo city is missing, and bring its riders on duty.
pub async fn seed(platform: &Arc<Platform>, settings: &DemoSettings) -> Result<(), CommandError> {
    let (stores, riders) = layout(settings);
    let mut added = (0, 0);
    for (id, profile) in stores {
        if platform.store(id).is_some() {
            continue;
        }
        platform.start_store(id).send(StoreCmd(StoreCommand::Register(profile))).await??;
        added.0 += 1;
    }
    for rider in riders {
        if platform.rider(rider.id).is_some() {
            continue;
        }
        let addr = platform.start_rider(rider.id);
        addr.send(RiderCmd(RiderCommand::Register { name: rider.name, zone: ZoneId::default() })).await??;
        addr.send(RiderCmd(RiderCommand::GoOnline { position: rider.position, shift_ends_at: None })).await??;
        added.1 += 1;
    }
    if added != (0, 0) {
        tracing::info!(stores = added.0, riders = added.1, "demo city seeded");
    }
    Ok(())
}

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "baedal-demo";

/// One account of each kind: (email, role, subject).
pub fn demo_accounts() -> [(&'static str, Role, Option<uuid::Uuid>); 4] {
    [
        ("customer@demo.baedal.dev", Role::Customer, Some(demo_customer().as_uuid())),
        ("store@demo.baedal.dev", Role::Store, Some(demo_store().as_uuid())),
        ("rider@demo.baedal.dev", Role::Rider, Some(demo_rider().as_uuid())),
        ("operator@demo.baedal.dev", Role::Operator, None),
    ]
}

/// Create the demo accounts that are missing.
pub async fn seed_accounts(accounts: &Accounts) -> Result<(), AccountError> {
    for (email, role, subject) in demo_accounts() {
        match accounts.register(email, DEMO_PASSWORD, &format!("Demo {}", role.as_str()), role, subject).await {
            Ok(_) | Err(AccountError::EmailTaken) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(())
}

/// The demo city's `index`th rider.
pub fn rider_id(index: usize) -> RiderId {
    RiderId::named(&format!("demo-rider-{index}"))
}

/// The demo's first rider.
pub fn demo_rider() -> RiderId {
    rider_id(0)
}

/// The demo's first store.
pub fn demo_store() -> StoreId {
    store_id(0)
}

/// What to try first, printed at start. `token` signs a token for a demo identity, valid
/// for `ttl_secs` (the server's token lifetime: it refuses longer-lived ones).
pub fn hints(base: &str, ttl_secs: i64, token: impl Fn(Role, uuid::Uuid) -> String) -> String {
    let c = centre();
    let ws = base.replacen("http", "ws", 1);
    let customer = token(Role::Customer, demo_customer().as_uuid());
    let store = token(Role::Store, demo_store().as_uuid());
    let rider = token(Role::Rider, demo_rider().as_uuid());
    let logins = demo_accounts().iter().map(|(email, _, _)| *email).collect::<Vec<_>>().join(", ");
    format!(
        "demo city: {stores} stores around Seoul City Hall, riders on duty\n\
         demo accounts (password {DEMO_PASSWORD}): {logins}\n\
         try:\n  \
         curl '{base}/v1/stores?lat={lat}&lon={lon}'\n  \
         curl -X POST {base}/v1/auth/login -H 'Content-Type: application/json' -d '{{\"email\":\"customer@demo.baedal.dev\",\"password\":\"{DEMO_PASSWORD}\"}}'\n  \
         curl -X POST {base}/v1/orders -H 'Content-Type: application/json' -H 'Idempotency-Key: demo-1' \\\n    \
         -H 'Authorization: Bearer {customer}' \\\n    \
         -d '{{\"store_id\":\"{store_id}\",\"items\":[{{\"item_id\":\"{item}\",\"quantity\":2}}],\"delivery_point\":{{\"lat\":{lat},\"lon\":{lon}}}}}'\n  \
         curl {base}/v1/stores/{store_id}/orders -H 'Authorization: Bearer {store}'\n\
         live updates (websockets; the token goes in `Authorization: Bearer` or `?access_token=`;\n  \
         these tokens last {minutes} minutes, then log in for new ones):\n  \
         {ws}/v1/ws/customer?access_token={customer}\n  \
         {ws}/v1/ws/store?access_token={store}\n  \
         {ws}/v1/ws/rider?access_token={rider}",
        stores = STORES.len(),
        lat = c.lat(),
        lon = c.lon(),
        store_id = store_id(0),
        item = item_id(0, 0),
        minutes = ttl_secs / 60,
    )
}
