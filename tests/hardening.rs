//! What an attacker tried from outside, and the server's answer now: bounded password
//! hashing, weak keys and long-lived tokens refused, positions judged by the rider's own
//! track, sockets that end with their token, logout and refresh-token reuse that revoke,
//! orders of other riders not disclosed, caps on sockets and slow bodies, lockouts that
//! spare the owner, and clean refusals of junk.

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use baedal::auth::Role;
use common::server::{order_body, Api};
use common::ws::{connect, token, token_for, try_connect};
use common::{Backend, TestDb, TestServer};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const STORE: (f64, f64) = (37.5665, 126.978);
const DROPOFF: (f64, f64) = (37.5765, 126.978);

/// Resident and peak resident memory of a process, in bytes (Linux).
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

const MB: u64 = 1024 * 1024;

async fn two_hundred_parallel_sign_ups_keep_memory_bounded_and_give_it_back(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, &[("BAEDAL__LIMITS__SIGNUP_PER_MINUTE_PER_IP", "1000")]);
    let api = server.api.with_token(None);
    // Warm the server up (one hash, the pools), then measure from there.
    let (status, _) =
        api.post("/v1/auth/signup", json!({"email": "first@x.dev", "password": "long enough", "name": "F"})).await;
    assert_eq!(status, 201);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (before, _) = memory(server.pid());

    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let calls = (0..200).map(|n| {
        let client = client.clone();
        let url = format!("{}/v1/auth/signup", api.base);
        tokio::spawn(async move {
            let body = json!({"email": format!("crowd{n}@x.dev"), "password": "long enough", "name": "C"});
            let response = client.post(url).json(&body).send().await.expect("sign-up");
            let retry = response.headers().get("Retry-After").is_some();
            (response.status().as_u16(), retry)
        })
    });
    let mut answers = Vec::new();
    for call in calls.collect::<Vec<_>>() {
        answers.push(call.await.unwrap());
    }
    let created = answers.iter().filter(|(status, _)| *status == 201).count();
    let busy = answers.iter().filter(|(status, retry)| *status == 503 && *retry).count();
    assert_eq!(created + busy, 200, "every sign-up is created or told to retry: {answers:?}");
    assert!(created >= 2, "the hashing slots work: {created} created");
    let (_, peak) = memory(server.pid());
    assert!(peak < before + 150 * MB, "peak resident memory grew by {} MB", (peak - before) / MB);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (after, _) = memory(server.pid());
    eprintln!(
        "200 parallel sign-ups: {created} created, {busy} told to retry; resident {} MB before, peak +{} MB, +{} MB after 2 s",
        before / MB,
        peak.saturating_sub(before) / MB,
        after.saturating_sub(before) / MB
    );
    assert!(after < before + 40 * MB, "{} MB were not given back", after.saturating_sub(before) / MB);
    // The accounts made are real.
    let (status, _) = api.post("/v1/auth/login", json!({"email": "first@x.dev", "password": "long enough"})).await;
    assert_eq!(status, 200);
}

/// The server binary run to its exit (it is expected to refuse to start).
fn refuses_to_start(db: &TestDb, env: &[(&str, &str)]) -> String {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_baedal"));
    command
        .env("DATABASE_URL", &db.url)
        .env("BAEDAL__SERVER__PORT", "0")
        .env("BAEDAL__DEMO__ENABLED", "false")
        .env_remove("BAEDAL_CONFIG")
        .env_remove("BAEDAL__AUTH__SECRET")
        .env("RUST_LOG", "error");
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().expect("run baedal");
    assert!(!out.status.success(), "the server started with {env:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn weak_signing_keys_stop_the_server_and_long_lived_tokens_are_refused() {
    let db = TestDb::new(Backend::Sqlite).await;
    for secret in [None, Some(""), Some("x"), Some("baedal-development-secret-change-me")] {
        let env: Vec<(&str, &str)> = secret.map(|s| ("BAEDAL__AUTH__SECRET", s)).into_iter().collect();
        let stderr = refuses_to_start(&db, &env);
        assert!(stderr.contains("auth.secret"), "{secret:?}: {stderr}");
    }

    let server = TestServer::start(&db, &[]);
    let me = uuid::Uuid::new_v4().to_string();
    let (status, _) = server.api.with_token(Some(token_for(Role::Operator, &me, 600))).get("/v1/auth/me").await;
    assert_eq!(status, 200);
    // Signed with the right key, but claiming a day: no token this server issued.
    let (status, body) =
        server.api.with_token(Some(token_for(Role::Operator, &me, 24 * 3600))).get("/v1/auth/me").await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("invalid_token")), "{body}");
    // What was wrong stays in the log: the client hears one sentence.
    for junk in ["not.a.token", "eyJhbGciOiJub25lIn0.e30.", "a.b.c"] {
        let (status, body) = server.api.with_token(Some(junk.into())).get("/v1/auth/me").await;
        assert_eq!(status, 401);
        assert_eq!(body["error"], json!({"code": "invalid_token", "message": "the token is invalid"}), "{junk}");
    }
}

/// A store, an online rider at the store, and an order the rider has accepted and the
/// kitchen has finished.
struct Job {
    store: String,
    rider: String,
    order: String,
}

async fn ready_job(api: &Api, rider_at: (f64, f64)) -> Job {
    let (store, item) = api.create_store(STORE, 600).await;
    let rider = api.create_rider("Rider", rider_at).await;
    let customer = uuid::Uuid::new_v4().to_string();
    let (status, order) =
        api.place(&uuid::Uuid::new_v4().to_string(), &order_body(&store, &item, &customer, DROPOFF)).await;
    assert_eq!(status, 201, "{order}");
    let order = order["id"].as_str().unwrap().to_owned();
    api.wait_status(&order, "awaiting_store").await;
    api.post(&format!("/v1/stores/{store}/orders/{order}/accept"), json!({"prep_minutes": 10})).await;
    api.wait_order(&order, 20, |o| o["rider_id"] == rider.as_str()).await;
    let (status, body) = api.post(&format!("/v1/riders/{rider}/offers/{order}/accept"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api.post(&format!("/v1/stores/{store}/orders/{order}/ready"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    Job { store, rider, order }
}

async fn a_delivery_is_judged_by_the_riders_own_track(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, &[]);
    let api = &server.api;
    let job = ready_job(api, (37.5668, 126.978)).await;
    let (status, body) = api.post(&format!("/v1/riders/{}/jobs/{}/pickup", job.rider, job.order), json!({})).await;
    assert_eq!(status, 200, "{body}");

    // Pinged 16 km away, then claims to stand at the door: refused.
    api.ping(&job.rider, (STORE.0 + 0.144, STORE.1)).await;
    let claim = json!({"position": {"lat": DROPOFF.0, "lon": DROPOFF.1}});
    let path = format!("/v1/riders/{}/jobs/{}/deliver", job.rider, job.order);
    let (status, body) = api.post(&path, claim.clone()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("implausible_position")), "{body}");
    assert_eq!(body["error"]["field"], "position");
    assert_eq!(api.order(&job.order).await["status"], "picked_up");

    // Really there: the ping says so, and the same claim lands.
    api.ping(&job.rider, (DROPOFF.0 + 0.0005, DROPOFF.1)).await;
    let (status, body) = api.post(&path, claim).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "delivered");
}

async fn a_pickup_needs_the_rider_at_the_store(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, &[]);
    let api = &server.api;
    let job = ready_job(api, (37.5668, 126.978)).await;
    api.ping(&job.rider, DROPOFF).await;
    let path = format!("/v1/riders/{}/jobs/{}/pickup", job.rider, job.order);
    let (status, body) = api.post(&path, json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("outside_geofence")), "{body}");
    api.ping(&job.rider, STORE).await;
    let (status, body) = api.post(&path, json!({})).await;
    assert_eq!(status, 200, "{body}");
    let _ = job.store;
}

#[tokio::test]
async fn a_socket_closes_when_its_token_expires() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = TestServer::start(&db, &[]);
    let customer = uuid::Uuid::new_v4().to_string();
    let mut socket = connect(&server.api.base, "/v1/ws/customer", &token_for(Role::Customer, &customer, 2)).await;
    let started = Instant::now();
    let code = socket.closed().await;
    assert_eq!(code, Some(CloseCode::from(4001)), "closed as expired");
    assert!(started.elapsed() < Duration::from_secs(15), "closed {:?} after the token expired", started.elapsed());
    // A socket of a live token stays.
    let mut lasting = connect(&server.api.base, "/v1/ws/customer", &token(Role::Customer, &customer)).await;
    assert_eq!(lasting.next().await["type"], "snapshot");
}

async fn logout_revokes_the_access_token_and_closes_its_sockets(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut server = TestServer::start(&db, &[]);
    let anon = server.api.with_token(None);
    let (status, tokens) =
        anon.post("/v1/auth/signup", json!({"email": "min@x.dev", "password": "long enough", "name": "Min"})).await;
    assert_eq!(status, 201, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let mine = anon.with_token(Some(access.clone()));
    let mut socket = connect(&server.api.base, "/v1/ws/customer", &access).await;
    assert_eq!(socket.next().await["type"], "snapshot");

    let (status, _) = mine.post("/v1/auth/logout", json!({"refresh_token": tokens["refresh_token"]})).await;
    assert_eq!(status, 204);
    assert_eq!(socket.closed().await, Some(CloseCode::from(4003)), "the socket ends with its token");
    let (status, body) = mine.get("/v1/auth/me").await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("token_revoked")), "{body}");
    assert!(try_connect(&server.api.base, "/v1/ws/customer", Some(&access)).await.is_err());
    let (status, _) = anon.post("/v1/auth/refresh", json!({"refresh_token": tokens["refresh_token"]})).await;
    assert_eq!(status, 401);

    // The deny-list outlives a restart.
    server.kill();
    server.restart();
    let (status, _) = server.api.with_token(Some(access)).get("/v1/auth/me").await;
    assert_eq!(status, 401, "a revoked token stays revoked after a restart");
}

async fn a_replayed_refresh_token_revokes_its_family(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, &[]);
    let anon = server.api.with_token(None);
    let (status, first) =
        anon.post("/v1/auth/signup", json!({"email": "min@x.dev", "password": "long enough", "name": "Min"})).await;
    assert_eq!(status, 201);
    let (status, second) = anon.post("/v1/auth/refresh", json!({"refresh_token": first["refresh_token"]})).await;
    assert_eq!(status, 200);
    let newer = anon.with_token(Some(second["access_token"].as_str().unwrap().to_owned()));
    assert_eq!(newer.get("/v1/auth/me").await.0, 200);

    // The first refresh token, used already, comes back: somebody copied it.
    let (status, _) = anon.post("/v1/auth/refresh", json!({"refresh_token": first["refresh_token"]})).await;
    assert_eq!(status, 401);
    assert_eq!(newer.get("/v1/auth/me").await.0, 401, "the access token issued after it is revoked");
    let (status, _) = anon.post("/v1/auth/refresh", json!({"refresh_token": second["refresh_token"]})).await;
    assert_eq!(status, 401, "and so is the refresh token issued after it");
    // Another login is another family, untouched.
    let (status, _) = anon.post("/v1/auth/login", json!({"email": "min@x.dev", "password": "long enough"})).await;
    assert_eq!(status, 200);
}

async fn a_rider_learns_nothing_of_other_riders_orders(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, &[]);
    let api = &server.api;
    let job = ready_job(api, (37.5668, 126.978)).await;
    let (status, body) = api.post("/v1/riders", json!({"name": "Nosy"})).await;
    assert_eq!(status, 201, "{body}");
    let nosy = body["id"].as_str().unwrap().to_owned();
    let (status, _) =
        api.post(&format!("/v1/riders/{nosy}/online"), json!({"position": {"lat": STORE.0, "lon": STORE.1}})).await;
    assert_eq!(status, 200);

    for action in ["jobs/{o}/pickup", "jobs/{o}/deliver", "offers/{o}/accept", "offers/{o}/decline"] {
        for order in [job.order.clone(), uuid::Uuid::new_v4().to_string()] {
            let path = format!("/v1/riders/{nosy}/{}", action.replace("{o}", &order));
            let (status, body) = api.post(&path, json!({})).await;
            assert_eq!(status, 404, "{path}: {body}");
            assert!(body["error"].get("current_status").is_none(), "{body}");
        }
    }
    let mut socket = connect(&api.base, "/v1/ws/rider", &token(Role::Rider, &nosy)).await;
    socket.next().await;
    socket.send(json!({"type": "pick_up", "request_id": "r1", "order_id": job.order})).await;
    let answer = socket.until("the answer", |m| m["request_id"] == "r1").await;
    assert_eq!((answer["type"].as_str(), answer["code"].as_str()), (Some("error"), Some("not_found")), "{answer}");
}

#[tokio::test]
async fn sockets_are_capped_per_subject_and_per_address() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server =
        TestServer::start(&db, &[("BAEDAL__WS__SOCKETS_PER_SUBJECT", "3"), ("BAEDAL__WS__SOCKETS_PER_IP", "5")]);
    let base = &server.api.base;
    let me = uuid::Uuid::new_v4().to_string();
    let mine = token(Role::Customer, &me);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect(base, "/v1/ws/customer", &mine).await);
    }
    assert_eq!(try_connect(base, "/v1/ws/customer", Some(&mine)).await.err(), Some(429), "a fourth for one customer");
    held.pop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    held.push(connect(base, "/v1/ws/customer", &mine).await);
    // Others from the same address, up to its cap.
    for _ in 0..2 {
        held.push(connect(base, "/v1/ws/customer", &token(Role::Customer, &uuid::Uuid::new_v4().to_string())).await);
    }
    let someone = token(Role::Customer, &uuid::Uuid::new_v4().to_string());
    assert_eq!(try_connect(base, "/v1/ws/customer", Some(&someone)).await.err(), Some(429), "a sixth from one address");
}

#[tokio::test]
async fn a_body_that_stalls_is_answered_408() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = TestServer::start(&db, &[("BAEDAL__SERVER__REQUEST_TIMEOUT_SECS", "2")]);
    let address = server.api.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head =
        "POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
    stream.write_all(format!("{head}{{\"email\": ").as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), async {
        let mut buf = [0u8; 1024];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
            if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "answered {answer:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "held {:?}", started.elapsed());
}

async fn a_guesser_locks_out_itself_not_the_owner(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, &[]);
    let owner = server.api.with_token(None);
    let (status, _) =
        owner.post("/v1/auth/signup", json!({"email": "min@x.dev", "password": "long enough", "name": "Min"})).await;
    assert_eq!(status, 201);
    let guesser = owner.via_address(IpAddr::from([127, 0, 0, 2]));
    for n in 0..10 {
        let (status, _) =
            guesser.post("/v1/auth/login", json!({"email": "min@x.dev", "password": format!("guess {n}")})).await;
        assert_eq!(status, 401);
    }
    let (status, body) = guesser.post("/v1/auth/login", json!({"email": "min@x.dev", "password": "long enough"})).await;
    assert_eq!(status, 429, "the guesser's address is locked out: {body}");
    let (status, body) = owner.post("/v1/auth/login", json!({"email": "min@x.dev", "password": "long enough"})).await;
    assert_eq!(status, 200, "the owner still signs in: {body}");
}

#[tokio::test]
async fn junk_is_refused_cleanly_and_pages_carry_security_headers() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = TestServer::start(&db, &[]);
    let api = &server.api;
    let anon = api.with_token(None);
    let field = |body: &Value| body["error"]["field"].as_str().unwrap_or_default().to_owned();
    for (email, name, wrong) in
        [("a\u{0}b@x.dev", "A", "email"), ("ab@x.dev", "A\u{0}", "name"), ("ab@x.dev", "A\u{7}B", "name")]
    {
        let (status, body) =
            anon.post("/v1/auth/signup", json!({"email": email, "password": "long enough", "name": name})).await;
        assert_eq!((status, field(&body)), (422, wrong.to_owned()), "{email:?} {name:?}: {body}");
    }
    let (status, body) = api.post("/v1/riders", json!({"name": "R\u{0}"})).await;
    assert_eq!((status, field(&body)), (422, "name".to_owned()), "{body}");
    let (status, body) = api.get("/v1/stores?lat=NaN&lon=1").await;
    assert_eq!((status, field(&body)), (422, "lat".to_owned()), "{body}");

    let (store, item) = api.create_store(STORE, 600).await;
    let customer = uuid::Uuid::new_v4().to_string();
    let mut order = order_body(&store, &item, &customer, DROPOFF);
    order["items"] = json!([{"item_id": item, "quantity": 1}, {"item_id": item, "quantity": 0}]);
    let (status, body) = api.place("bad-quantity", &order).await;
    assert_eq!((status, field(&body)), (422, "items[1].quantity".to_owned()), "{body}");
    let mut order = order_body(&store, &item, &customer, DROPOFF);
    order["delivery_point"]["floor"] = json!(3);
    let (status, body) = api.place("extra-field", &order).await;
    assert_eq!(status, 422, "{body}");
    assert!(field(&body).starts_with("delivery_point"), "{body}");

    let client = reqwest::Client::new();
    for page in ["/", "/store", "/v1/auth/me"] {
        let response = client.get(format!("{}{page}", api.base)).send().await.unwrap();
        let headers = response.headers();
        let csp = headers.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{page}: {csp}");
        assert_eq!(headers.get("x-frame-options").map(|v| v.as_bytes()), Some(&b"DENY"[..]), "{page}");
        assert_eq!(headers.get("x-content-type-options").map(|v| v.as_bytes()), Some(&b"nosniff"[..]), "{page}");
        assert_eq!(headers.get("referrer-policy").map(|v| v.as_bytes()), Some(&b"no-referrer"[..]), "{page}");
    }
}

#[tokio::test]
async fn the_banner_prints_tokens_only_for_the_demo_city() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = TestServer::start(&db, &[]);
    server.api.create_store(STORE, 600).await;
    let printed = server.stdout().join("\n");
    assert!(printed.contains("listening on") && !printed.contains("access_token="), "{printed}");
}

/// The demo's ready-made tokens live as long as the server's tokens do: a day-long one
/// would be refused (and would be a day-long credential in a terminal's scrollback).
#[tokio::test]
async fn the_demo_city_prints_tokens_the_server_accepts() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = TestServer::start(&db, &[("BAEDAL__DEMO__ENABLED", "true"), ("BAEDAL__SIMULATOR__ENABLED", "false")]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let token = loop {
        let printed = server.stdout().join("\n");
        if let Some(rest) = printed.split("/v1/ws/customer?access_token=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "no demo tokens printed: {printed}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (status, me) = server.api.with_token(Some(token)).get("/v1/auth/me").await;
    assert_eq!((status, me["role"].as_str()), (200, Some("customer")), "{me}");
}

on_both_backends!(
    two_hundred_parallel_sign_ups_keep_memory_bounded_and_give_it_back,
    a_delivery_is_judged_by_the_riders_own_track,
    a_pickup_needs_the_rider_at_the_store,
    logout_revokes_the_access_token_and_closes_its_sockets,
    a_replayed_refresh_token_revokes_its_family,
    a_rider_learns_nothing_of_other_riders_orders,
    a_guesser_locks_out_itself_not_the_owner,
);
