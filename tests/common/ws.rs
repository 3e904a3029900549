//! A websocket client for the tests, checking the protocol's promises as it reads: `seq`
//! counts up by one, and an order's `version` only grows.

use std::collections::HashMap;
use std::time::Duration;

use baedal::auth::{Identity, JwtAuthenticator, Role};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The signing key the test servers run with (outside the demo city the server refuses
/// the public development key).
pub const TEST_SECRET: &str = "baedal-test-secret-not-for-production-0123456789";

/// A token signed with the test servers' key.
pub fn token(role: Role, subject: &str) -> String {
    token_for(role, subject, 3600)
}

/// A token signed with the test servers' key, valid for `ttl_secs`.
pub fn token_for(role: Role, subject: &str, ttl_secs: i64) -> String {
    let auth = JwtAuthenticator::new(&[("k1".into(), TEST_SECRET.into())]).unwrap();
    auth.issue(Identity { role, subject: subject.parse().unwrap() }, ttl_secs)
}

pub struct WsClient {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    seq: u64,
    versions: HashMap<String, i64>,
}

/// How a connection attempt ended.
pub async fn try_connect(base: &str, path: &str, token: Option<&str>) -> Result<WsClient, u16> {
    let url = format!("{}{}", base.replacen("http://", "ws://", 1), path);
    let mut request = url.into_client_request().unwrap();
    if let Some(token) = token {
        request.headers_mut().insert("Authorization", format!("Bearer {token}").parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((stream, _)) => Ok(WsClient { stream, seq: 0, versions: HashMap::new() }),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(other) => panic!("connect {path}: {other}"),
    }
}

pub async fn connect(base: &str, path: &str, token: &str) -> WsClient {
    let mut client = try_connect(base, path, Some(token)).await.unwrap_or_else(|s| panic!("{path}: HTTP {s}"));
    let welcome = client.next().await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    client
}

impl WsClient {
    /// The next JSON message (pings are answered by the library and skipped).
    pub async fn next(&mut self) -> Value {
        // One deadline for the message, however many pings come meanwhile: the server's
        // heartbeat must not keep a test waiting forever for a message that never comes.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let frame = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .expect("no websocket message within 15 s")
                .expect("socket ended")
                .expect("socket error");
            match frame {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text).expect("JSON frame");
                    let seq = value["seq"].as_u64().expect("seq on every message");
                    assert_eq!(seq, self.seq + 1, "a gap or duplicate in seq: {value}");
                    self.seq = seq;
                    self.check_versions(&value);
                    return value;
                }
                Message::Close(frame) => panic!("closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    fn check_versions(&mut self, value: &Value) {
        let mut orders: Vec<&Value> = Vec::new();
        if let Some(order) = value.get("order") {
            orders.push(order);
        }
        if let Some(list) = value.get("orders").and_then(Value::as_array) {
            orders.extend(list);
        }
        for order in orders {
            let (Some(id), Some(version)) = (order["id"].as_str(), order["version"].as_i64()) else { continue };
            let last = self.versions.insert(id.to_owned(), version).unwrap_or(0);
            assert!(version > last, "order {id} went from version {last} to {version}: a duplicate");
        }
    }

    /// Read until a message satisfies `check`; returns it.
    pub async fn until(&mut self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..500 {
            let message = self.next().await;
            if check(&message) {
                return message;
            }
        }
        panic!("never received {what}");
    }

    pub async fn send(&mut self, value: Value) {
        self.stream.send(Message::Text(value.to_string())).await.expect("send");
    }

    /// Send every message in one write: the server finds them all waiting at once, as it
    /// would from an app that flushes a burst.
    pub async fn send_burst(&mut self, values: impl IntoIterator<Item = Value>) {
        for value in values {
            self.stream.feed(Message::Text(value.to_string())).await.expect("feed");
        }
        self.stream.flush().await.expect("flush");
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.stream.send(message).await.expect("send");
    }

    /// Read until the server closes; returns the close code.
    pub async fn closed(&mut self) -> Option<CloseCode> {
        loop {
            match tokio::time::timeout(Duration::from_secs(30), self.stream.next()).await.expect("close within 30 s") {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }
}
