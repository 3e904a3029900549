//! Junk through real websockets: every kind of client socket gets generated frames (any
//! text, any JSON, commands with arbitrary fields), and the server answers each that is not
//! a valid location ping with an `error` in the one error shape (or an `ack` when the junk
//! happens to be a command it can do), never an internal error, and keeps the socket open.
//!
//! `WS_JUNK_FRAMES` sets the frames per socket (default 150).

mod common;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};

use baedal::auth::Role;
use common::junk::junk_frame;
use common::ws::{connect, token, WsClient};
use common::{Backend, TestDb, TestServer};

const STORE: (f64, f64) = (37.5665, 126.978);
const CUSTOMER: &str = "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f";

/// Send `frames` junk frames, each followed by a marker frame whose error closes its
/// answers; check every answer in between. Returns how many errors came back.
async fn feed(socket: &mut WsClient, who: &str, frames: usize, runner: &mut TestRunner) -> usize {
    let strategy = junk_frame();
    let mut errors = 0;
    for n in 0..frames {
        let frame = strategy.new_tree(runner).expect("a frame").current();
        let marker = format!("marker-{n}");
        socket.send_raw(tokio_tungstenite::tungstenite::Message::Text(frame.clone())).await;
        socket.send(json!({"type": "no_such_command", "request_id": marker})).await;
        loop {
            let message = socket.next().await;
            if message["type"] == "error" && message["request_id"] == marker.as_str() {
                break;
            }
            if message["type"] == "error" {
                check_error(who, &frame, &message);
                errors += 1;
            }
        }
    }
    errors
}

fn check_error(who: &str, frame: &str, error: &Value) {
    let code = error["code"].as_str().unwrap_or_default();
    assert!(!code.is_empty() && code != "internal", "{who}: {frame:?} got {error}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{who}: {frame:?} got {error}");
    if code == "invalid_field" {
        assert!(error["field"].as_str().is_some_and(|f| !f.is_empty()), "{who}: {frame:?} got {error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_frames_get_errors_in_the_one_shape_and_the_socket_stays_up() {
    let frames: usize = std::env::var("WS_JUNK_FRAMES").ok().and_then(|v| v.parse().ok()).unwrap_or(150);
    let db = TestDb::new(Backend::Sqlite).await;
    let server = TestServer::start(&db, &[]);
    let api = &server.api;
    let (store, _) = api.create_store(STORE, 300).await;
    let rider = api.create_rider("Junk", STORE).await;
    let base = &api.base;

    let mut runner = TestRunner::deterministic();
    let mut total = 0;
    for (who, path, token) in [
        ("customer", "/v1/ws/customer", token(Role::Customer, CUSTOMER)),
        ("store", "/v1/ws/store", token(Role::Store, &store)),
        ("rider", "/v1/ws/rider", token(Role::Rider, &rider)),
    ] {
        let mut socket = connect(base, path, &token).await;
        assert_eq!(socket.next().await["type"], "snapshot");
        let errors = feed(&mut socket, who, frames, &mut runner).await;
        println!("{who}: {frames} junk frames, {errors} errors, socket still open");
        total += frames;
    }
    println!("websocket junk: {total} frames");
}
