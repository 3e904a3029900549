//! The pages in a real browser: headless Chromium driven through chromedriver (Debian's
//! `chromium` and `chromium-driver`). A missing chromedriver fails these tests; they never
//! skip. `CHROMEDRIVER` and `CHROMIUM` override the paths.
//!
//! The dashboard shows the demo city alive (riders moving, an order going from placed to
//! delivered) and is saved as `target/artifacts/dashboard.png`; the store tablet's accept and
//! ready buttons move an order on, and the tracking page shows it to its customer; the rider
//! app takes an offer from the store to the door (saved as `target/artifacts/rider.png`) and
//! lets another lapse.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use baedal::auth::Role;
use baedal::sim::demo;
use common::city::FAST_CITY;
use common::server::Api;
use common::{Backend, TestDb, TestServer};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// chromedriver and a browser session through it; the driver is killed on drop.
struct Browser {
    driver: Child,
    client: Client,
}

impl Browser {
    async fn start() -> Browser {
        let driver_path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {driver_path} ({e}): install chromium and chromium-driver"));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1500,1150", "--hide-scrollbars"],
            }),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            let mut builder = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
            builder.capabilities(capabilities.clone());
            match builder.connect(&format!("http://127.0.0.1:{port}")).await {
                Ok(client) => break client,
                // chromedriver takes a moment to listen.
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(200)).await,
                Err(error) => panic!("no browser session through {driver_path}: {error}"),
            }
        };
        Browser { driver, client }
    }

    /// Evaluate `script` in the page (its `return` value comes back as JSON).
    async fn eval(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    /// Poll `script` until it returns something truthy; panic with `what` after `secs`.
    async fn wait_for(&self, script: &str, secs: u64, what: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let value = self.eval(script).await;
            if !(value.is_null() || value == false || value == 0 || value == "") {
                return value;
            }
            assert!(Instant::now() < deadline, "{what}: not seen within {secs} s");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Click the element `selector` names. A live page may redraw it between finding and
    /// clicking (a rider was assigned meanwhile): find it again, as a person would.
    async fn click(&self, selector: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let attempt = match self.client.find(Locator::Css(selector)).await {
                Ok(element) => element.click().await,
                Err(error) => Err(error),
            };
            match attempt {
                Ok(()) => return,
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(200)).await,
                Err(error) => panic!("click {selector}: {error}"),
            }
        }
    }

    /// Sign in with the prefilled demo account, checking it is the one expected.
    async fn sign_in_as_demo(&self, email: &str) {
        self.wait_for("return !document.getElementById('login').hidden", 10, "the sign-in form").await;
        let prefilled = self.eval("return document.querySelector('#login [name=email]').value").await;
        assert_eq!(prefilled, email, "the demo account is prefilled");
        self.click("#login button[type=submit]").await;
        self.wait_for("return !document.getElementById('app').hidden", 10, "signed in").await;
    }

    async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}

fn rider_positions(value: &Value) -> HashMap<String, String> {
    value.as_object().map(|o| o.iter().map(|(k, v)| (k.clone(), v.to_string())).collect()).unwrap_or_default()
}

async fn the_dashboard_shows_the_city_alive(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, FAST_CITY);
    let browser = Browser::start().await;
    browser.client.goto(&format!("{}/", server.api.base)).await.unwrap();
    browser.sign_in_as_demo("operator@demo.baedal.dev").await;

    // The city: every demo store and rider drawn from its coordinates.
    browser.wait_for("return document.querySelectorAll('#riders [data-rider]').length >= 36", 15, "36 riders").await;
    assert_eq!(browser.eval("return document.querySelectorAll('#stores [data-store]').length").await, 12);

    // Riders move: positions differ between two reads of the page.
    let read = "const out = {}; document.querySelectorAll('#riders [data-rider]').forEach(c => \
                out[c.dataset.rider] = [c.dataset.lat, c.dataset.lon, c.style.transform]); return out;";
    let before = rider_positions(&browser.eval(read).await);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = rider_positions(&browser.eval(read).await);
        let moved = now.iter().filter(|(id, p)| before.get(*id).is_some_and(|b| b != *p)).count();
        if moved >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "no rider moved on the map");
    }

    // An order goes from placed to delivered in the table. Every order first seen as placed
    // is followed (the store may reject one); the first to be delivered settles it.
    let rows = "const out = {}; document.querySelectorAll('#orders tr[data-order]').forEach(r => \
                out[r.dataset.order] = r.dataset.status); return out;";
    let mut followed: HashMap<String, BTreeSet<String>> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(150);
    let delivered = loop {
        let statuses = browser.eval(rows).await;
        for (order, status) in statuses.as_object().unwrap() {
            let status = status.as_str().unwrap_or_default().to_owned();
            match followed.get_mut(order) {
                Some(seen) => {
                    seen.insert(status);
                }
                None if status == "awaiting_store" || status == "awaiting_payment" => {
                    followed.insert(order.clone(), BTreeSet::from([status]));
                }
                None => {}
            }
        }
        if let Some((order, seen)) = followed.iter().find(|(_, seen)| seen.contains("delivered")) {
            break (order.clone(), seen.clone());
        }
        assert!(Instant::now() < deadline, "no order went from placed to delivered on the page: {followed:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(delivered.1.len() >= 3, "the order's row moved through its states: {delivered:?}");
    let order = server.api.order(&delivered.0).await;
    assert_eq!(order["status"], "delivered", "the page agrees with the API");

    let tile = browser.eval("return document.querySelector('#kpi-delivered-today .value').textContent").await;
    assert!(tile.as_str().and_then(|t| t.parse::<u64>().ok()).is_some_and(|n| n >= 1), "delivered tile: {tile}");

    // A moment for the latest positions to settle, then the picture.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let png = browser.client.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).parent().expect("target dir").join("artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("dashboard.png"), png).unwrap();
    // Opening the order shows why it went to its rider: the offer it took is the last one.
    browser.click(&format!("#orders tr[data-order='{}'] td:nth-child(2)", delivered.0)).await;
    let last = browser
        .wait_for(
            "const items = document.querySelectorAll('#decisions li[data-decision]'); \
             return items.length && items[items.length - 1].dataset.rider",
            10,
            "the order's dispatch decisions",
        )
        .await;
    assert_eq!(last, order["rider_id"], "the last offer went to the rider who delivered");
    let chosen = browser.eval("return document.querySelectorAll('#decisions tr[data-verdict=chosen]').length").await;
    assert!(chosen.as_u64().is_some_and(|n| n >= 1), "each decision marks its chosen rider: {chosen}");
    let png = browser.client.screenshot().await.expect("screenshot");
    std::fs::write(dir.join("dispatch-log.png"), png).unwrap();

    browser.close().await;
}

async fn the_store_tablet_moves_an_order_on(backend: Backend) {
    let db = TestDb::new(backend).await;
    // The demo city without its simulator: the tablet is the only store staff.
    let server = TestServer::start(&db, &[("BAEDAL__DEMO__ENABLED", "true"), ("BAEDAL__SIMULATOR__ENABLED", "false")]);
    let api = server.api.clone();
    let store = demo::demo_store().to_string();
    let (status, menu) = api.get(&format!("/v1/stores/{store}/menu")).await;
    assert_eq!(status, 200, "{menu}");
    let item = menu["items"][0]["id"].as_str().unwrap();
    let customer = demo::demo_customer().to_string();
    let as_customer = api.as_role(Role::Customer, &customer);
    let (status, placed) =
        as_customer.place("tablet-1", &common::server::order_body(&store, item, &customer, (37.5665, 126.978))).await;
    assert_eq!(status, 201, "{placed}");
    let order = placed["id"].as_str().unwrap().to_owned();
    api.wait_status(&order, "awaiting_store").await;

    let browser = Browser::start().await;
    browser.client.goto(&format!("{}/store", api.base)).await.unwrap();
    browser.sign_in_as_demo("store@demo.baedal.dev").await;
    let accept = format!("article[data-order='{order}'] button[data-action=accept]");
    browser
        .wait_for(&format!("return !!document.querySelector(\"{accept}\")"), 15, "the new order on the tablet")
        .await;
    browser.click(&accept).await;
    let accepted = api.wait_status(&order, "preparing").await;
    assert_eq!(accepted["prep_minutes"], 15, "the tablet's default preparation time");

    let ready = format!("article[data-order='{order}'] button[data-action=ready]");
    browser.wait_for(&format!("return !!document.querySelector(\"{ready}\")"), 15, "the ready button").await;
    browser.click(&ready).await;
    api.wait_status(&order, "ready_for_pickup").await;

    // Its customer follows it on the tracking page.
    browser.client.goto(&format!("{}/track/{order}", api.base)).await.unwrap();
    browser.sign_in_as_demo("customer@demo.baedal.dev").await;
    browser
        .wait_for(
            "return document.getElementById('app').dataset.status === 'ready_for_pickup'",
            15,
            "the order tracked",
        )
        .await;
    browser
        .wait_for(
            "return document.querySelector('#store-mark text').textContent === 'Kimbap Heaven'",
            10,
            "the store named",
        )
        .await;
    let done = browser.eval("return document.querySelectorAll('#steps .step.done').length").await;
    assert_eq!(done, 3, "placed, cooking and ready are done");
    browser.close().await;
}

/// Poll the rider through the API until `check` holds.
async fn wait_rider(api: &Api, rider: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, view) = api.get(&format!("/v1/riders/{rider}")).await;
        assert_eq!(status, 200, "{view}");
        if check(&view) {
            return view;
        }
        assert!(Instant::now() < deadline, "{what}: not seen within 20 s; last: {view:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn the_rider_app_takes_an_offer_to_the_door(backend: Backend) {
    let db = TestDb::new(backend).await;
    // The demo city without its simulator, so that nothing else answers offers. Left at its
    // size, it would seldom offer the order to the demo rider: the city's 35 other riders are
    // on duty too (the dispatcher counts them for `dispatch.stale_after_secs` after seeding),
    // and the demo rider comes on duty some 5 km from the demo store, beyond the first search
    // radius. So the city has one rider, the demo rider (`demo.riders = 1`; the stores are
    // laid out as always), and a ping puts it at the demo store before the page opens: the
    // page comes on duty at that last known position (headless Chromium has no geolocation
    // fix), the only free rider there is. Offers lapse after 15 s, so that the second one,
    // left unanswered, is gone soon, and that one lapse takes the rider off duty (the
    // platform's rule, at three in a row by default), so the page has to say why.
    let server = TestServer::start(
        &db,
        &[
            ("BAEDAL__DEMO__ENABLED", "true"),
            ("BAEDAL__SIMULATOR__ENABLED", "false"),
            ("BAEDAL__DEMO__RIDERS", "1"),
            ("BAEDAL__DISPATCH__OFFER_TIMEOUT_SECS", "15"),
            ("BAEDAL__DISPATCH__LAPSED_OFFERS_OFFLINE", "1"),
        ],
    );
    let api = server.api.clone();
    let rider = demo::demo_rider().to_string();
    let store = demo::demo_store().to_string();
    let (status, info) = api.get(&format!("/v1/stores/{store}")).await;
    assert_eq!(status, 200, "{info}");
    let at_store = (info["location"]["lat"].as_f64().unwrap(), info["location"]["lon"].as_f64().unwrap());
    let item = info["menu"][0]["id"].as_str().unwrap().to_owned();
    let item_name = info["menu"][0]["name"].as_str().unwrap().to_owned();
    wait_rider(&api, &rider, "the demo rider on duty with the city", |r| r["online"] == true).await;
    api.ping(&rider, at_store).await;

    let browser = Browser::start().await;
    browser.client.goto(&format!("{}/rider", api.base)).await.unwrap();
    browser.sign_in_as_demo("rider@demo.baedal.dev").await;
    browser.wait_for("return document.getElementById('duty').dataset.online === 'true'", 15, "on duty").await;

    // Off duty and on again from the page.
    browser.click("#duty-toggle[data-action=offline]").await;
    wait_rider(&api, &rider, "off duty", |r| r["online"] == false).await;
    browser.click("#duty-toggle[data-action=online]").await;
    let online = wait_rider(&api, &rider, "on duty again", |r| r["online"] == true).await;
    assert_eq!(
        (online["position"]["lat"].as_f64(), online["position"]["lon"].as_f64()),
        (Some(at_store.0), Some(at_store.1)),
        "on duty where the rider was last seen"
    );

    let customer = demo::demo_customer().to_string();
    let as_customer = api.as_role(Role::Customer, &customer);
    let door = (37.5665, 126.978);
    let place = |key: &'static str| {
        let (as_customer, store, item, customer) = (as_customer.clone(), store.clone(), item.clone(), customer.clone());
        async move {
            let (status, placed) =
                as_customer.place(key, &common::server::order_body(&store, &item, &customer, door)).await;
            assert_eq!(status, 201, "{placed}");
            placed["id"].as_str().unwrap().to_owned()
        }
    };
    let accept = |order: String| {
        let (api, store) = (api.clone(), store.clone());
        async move {
            api.wait_status(&order, "awaiting_store").await;
            let (status, body) =
                api.post(&format!("/v1/stores/{store}/orders/{order}/accept"), json!({"prep_minutes": 10})).await;
            assert_eq!(status, 200, "{body}");
        }
    };

    // The offer: its two stops on the map, what is in the bag, and the time left to answer.
    let order = place("rider-1").await;
    accept(order.clone()).await;
    let offered = format!("return !document.getElementById('offer').hidden && document.getElementById('offer').dataset.order === '{order}'");
    browser.wait_for(&offered, 15, "the offer on the page").await;
    browser
        .wait_for(
            "return document.querySelector('#stop-pickup text').textContent === 'Kimbap Heaven' && \
             document.getElementById('offer-stops').textContent.includes('Kimbap Heaven')",
            10,
            "the store named",
        )
        .await;
    let stops = browser
        .eval(
            "if (document.getElementById('map-panel').hidden) return null; const out = {}; \
             document.querySelectorAll('#map [data-stop]').forEach(g => out[g.dataset.stop] = \
             [Number(g.dataset.lat), Number(g.dataset.lon), g.getAttribute('transform')]); return out;",
        )
        .await;
    assert_eq!(stops["pickup"][0].as_f64(), Some(at_store.0), "the pickup drawn at the store: {stops}");
    assert_eq!(stops["dropoff"][0].as_f64(), Some(door.0), "the drop-off drawn at the door: {stops}");
    assert!(
        stops["pickup"][2].is_string() && stops["pickup"][2] != stops["dropoff"][2],
        "both stops placed apart: {stops}"
    );
    let items = browser.eval("return document.getElementById('offer-items').textContent").await;
    assert!(items.as_str().is_some_and(|t| t.contains(&format!("2 × {item_name}"))), "items: {items}");
    let read = "const c = document.getElementById('countdown'); return [c.dataset.remaining, c.textContent]";
    let countdown = browser.eval(read).await;
    let first = countdown[0].as_str().and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);
    assert!((1..=15).contains(&first), "a countdown to the deadline: {countdown}");
    assert_eq!(countdown[1], format!("0:{first:02}"), "the countdown reads minutes and seconds");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = browser.eval(read).await;
    assert!(
        later[0].as_str().and_then(|t| t.parse::<u64>().ok()).is_some_and(|n| n < first),
        "the countdown runs: {later}"
    );

    let png = browser.client.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).parent().expect("target dir").join("artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rider.png"), png).unwrap();

    // Taken: to the store, picked up once the kitchen is done, then to the door.
    browser.click("#offer [data-action=accept]").await;
    api.wait_order(&order, 15, |o| o["rider_id"] == rider.as_str() && o["dispatch"] == "assigned").await;
    browser.wait_for("return document.getElementById('job').dataset.stage === 'to_store'", 10, "the job").await;
    let (status, body) = api.post(&format!("/v1/stores/{store}/orders/{order}/ready"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    browser.wait_for("return !!document.querySelector('#job-badge .ready_for_pickup')", 10, "the food ready").await;
    browser.click("#job [data-action=arrive-store]").await;
    browser.wait_for("return document.getElementById('job').dataset.arrived === 'store'", 10, "at the store").await;
    browser.click("#job [data-action=pickup]").await;
    api.wait_status(&order, "picked_up").await;
    browser.wait_for("return document.getElementById('job').dataset.stage === 'to_customer'", 10, "on the way").await;
    browser.click("#job [data-action=arrive-door]").await;
    browser.wait_for("return document.getElementById('job').dataset.arrived === 'door'", 10, "at the door").await;
    browser.click("#job [data-action=deliver]").await;
    let delivered = api.wait_status(&order, "delivered").await;
    assert_eq!(delivered["rider_id"], rider.as_str(), "{delivered}");
    browser.wait_for("return document.getElementById('job').dataset.stage === 'done'", 10, "done on the page").await;
    assert_eq!(browser.eval("return document.getElementById('message').textContent").await, "", "no error shown");

    // An offer left to lapse leaves the page when its time is up, and the platform takes the
    // rider off duty for it: the page says so.
    let second = place("rider-2").await;
    accept(second.clone()).await;
    let offered = format!("return !document.getElementById('offer').hidden && document.getElementById('offer').dataset.order === '{second}'");
    browser.wait_for(&offered, 15, "the second offer").await;
    browser.wait_for("return document.getElementById('offer').hidden", 25, "the lapsed offer gone").await;
    api.wait_order(&second, 10, |o| o["rider_id"].is_null()).await;
    let notice = browser.eval("return document.getElementById('notice').textContent").await;
    assert!(notice.as_str().is_some_and(|t| t.contains("lapsed")), "the page says the offer lapsed: {notice}");
    let off = wait_rider(&api, &rider, "set off duty", |r| r["online"] == false).await;
    assert_eq!(off["offline_reason"], "unanswered_offers", "{off}");
    browser
        .wait_for(
            "const r = document.getElementById('offline-reason'); return !r.hidden && \
             r.dataset.reason === 'unanswered_offers' && r.textContent.includes('unanswered') && \
             document.getElementById('duty').dataset.online === 'false'",
            10,
            "the reason shown",
        )
        .await;
    let png = browser.client.screenshot().await.expect("screenshot");
    std::fs::write(dir.join("rider-off-duty.png"), png).unwrap();

    // Two orders of the store waiting when the rider comes back on duty, more than the one
    // rider: one trip. The page lists its four stops, draws the other order's on the map,
    // and one Accept takes both.
    let (first, second) = (place("rider-3").await, place("rider-4").await);
    accept(first.clone()).await;
    accept(second.clone()).await;
    browser.click("#duty-toggle[data-action=online]").await;
    browser
        .wait_for(
            "const o = document.getElementById('offer'); return !o.hidden && o.dataset.orders === '2' && \
             document.querySelectorAll('#offer-stops li').length === 4 && \
             document.getElementById('offer-title').textContent.includes('2 orders') && \
             document.querySelectorAll('#route-marks .trip-stop').length >= 1",
            20,
            "the trip offered on the page",
        )
        .await;
    let png = browser.client.screenshot().await.expect("screenshot");
    std::fs::write(dir.join("rider-trip.png"), png).unwrap();
    browser.click("#offer [data-action=accept]").await;
    for id in [&first, &second] {
        api.wait_order(id, 15, |o| o["rider_id"] == rider.as_str() && o["dispatch"] == "assigned").await;
    }
    browser.wait_for("return !document.getElementById('route').hidden", 10, "the route under the job").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_city_alive_sqlite() {
    the_dashboard_shows_the_city_alive(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_tablet_moves_an_order_on_sqlite() {
    the_store_tablet_moves_an_order_on(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rider_app_takes_an_offer_to_the_door_sqlite() {
    the_rider_app_takes_an_offer_to_the_door(Backend::Sqlite).await
}
