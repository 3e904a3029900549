//! The real `baedal` binary as a child process, and a client for its API.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use baedal::auth::Role;

use super::db::TestDb;
use super::ws::token;

pub struct TestServer {
    child: Option<Child>,
    /// Every line the server printed on stdout (its banner).
    stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    pub api: Api,
    db_url: String,
    env: Vec<(String, String)>,
    log: Option<std::path::PathBuf>,
}

impl TestServer {
    /// Start the server on `db` with test-friendly settings plus `env` overrides.
    pub fn start(db: &TestDb, env: &[(&str, &str)]) -> TestServer {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let (child, base, stdout) = spawn(&db.url, &env, None);
        TestServer { child: Some(child), stdout, api: Api::new(base), db_url: db.url.clone(), env, log: None }
    }

    /// Start with the server's logs (stderr) written to `log`.
    pub fn start_logging(db: &TestDb, env: &[(&str, &str)], log: &std::path::Path) -> TestServer {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let (child, base, stdout) = spawn(&db.url, &env, Some(log));
        TestServer {
            child: Some(child),
            stdout,
            api: Api::new(base),
            db_url: db.url.clone(),
            env,
            log: Some(log.into()),
        }
    }

    /// SIGKILL: no shutdown hook runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill server");
            child.wait().ok();
        }
    }

    /// SIGTERM and wait for a graceful exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("server running");
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not exit within 30 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Start again on the same database, with some settings changed.
    pub fn restart_with(&mut self, env: &[(&str, &str)]) {
        self.env.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self.restart();
    }

    /// Start again on the same database and settings (on a new port).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the server first");
        let (child, base, stdout) = spawn(&self.db_url, &self.env, self.log.as_deref());
        self.child = Some(child);
        self.stdout = stdout;
        self.api = Api::new(base);
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// What the server printed on stdout so far.
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

type Lines = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

fn spawn(db_url: &str, env: &[(String, String)], log: Option<&std::path::Path>) -> (Child, String, Lines) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_baedal"));
    command
        .env("DATABASE_URL", db_url)
        .env("BAEDAL__SERVER__PORT", "0")
        .env("BAEDAL__DEMO__ENABLED", "false")
        .env("BAEDAL__AUTH__SECRET", super::ws::TEST_SECRET)
        .env("BAEDAL__PAYMENT__LATENCY_MS", "0")
        .env("BAEDAL__DISPATCH__TICK_MS", "100")
        .env("BAEDAL__DISPATCH__POSITION_FLUSH_MS", "200")
        // Most tests accept with a preparation time of minutes and then follow the rider: they
        // run dispatch from acceptance. Release timing has tests of its own (tests/dispatch.rs).
        .env("BAEDAL__DISPATCH__RELEASE", "at_accept")
        .env_remove("BAEDAL_CONFIG")
        .env("RUST_LOG", std::env::var("TEST_LOG").unwrap_or_else(|_| "warn,baedal::startup=error".into()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (key, value) in env {
        command.env(key, value);
    }
    if let Some(log) = log {
        command.stderr(std::fs::File::create(log).expect("log file"));
    }
    let mut child = command.spawn().expect("start baedal");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    let printed = Lines::default();
    let kept = printed.clone();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let mut sent = false;
        while let Some(Ok(line)) = lines.next() {
            kept.lock().unwrap().push(line.clone());
            if !sent {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let base = rest.split_whitespace().next().unwrap_or_default().to_owned();
                    let _ = tx.send(base);
                    sent = true;
                }
            }
        }
    });
    let base = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| {
        let _ = child.kill();
        panic!("baedal did not start within 60 s")
    });
    (child, base, printed)
}

/// The operator identity the tests act as when a call needs no particular one.
pub const OPERATOR: &str = "0a0a0a0a-0b0b-4c0c-8d0d-0e0e0e0e0e0e";

/// A thin JSON client: every call returns (status, body). Unless given a token, it acts as
/// the owner of the path: the store for `/v1/stores/{id}/...`, the rider for
/// `/v1/riders/{id}...`, an operator elsewhere.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    client: reqwest::Client,
    token: Option<Option<String>>,
}

impl Api {
    pub fn new(base: String) -> Api {
        Api {
            base,
            client: reqwest::Client::builder().timeout(Duration::from_secs(15)).build().expect("client"),
            token: None,
        }
    }

    /// The same API reached from another local address (`127.0.0.2`, ...): to the server a
    /// different client address.
    pub fn via_address(&self, local: std::net::IpAddr) -> Api {
        let client =
            reqwest::Client::builder().timeout(Duration::from_secs(15)).local_address(local).build().expect("client");
        Api { client, ..self.clone() }
    }

    /// The same client with this token (`None`: no token at all).
    pub fn with_token(&self, token: Option<String>) -> Api {
        Api { token: Some(token), ..self.clone() }
    }

    pub fn as_role(&self, role: Role, subject: &str) -> Api {
        self.with_token(Some(token(role, subject)))
    }

    fn token_for(&self, path: &str) -> Option<String> {
        if let Some(token) = &self.token {
            return token.clone();
        }
        let parts: Vec<&str> = path.split(['/', '?']).collect();
        Some(match parts.as_slice() {
            ["", "v1", "stores", id, _, ..] => token(Role::Store, id),
            ["", "v1", "riders", id, ..] if id.len() == 36 => token(Role::Rider, id),
            _ => token(Role::Operator, OPERATOR),
        })
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = self.client.request(method, format!("{}{}", self.base, path));
        if let Some(token) = self.token_for(path) {
            request = request.bearer_auth(token);
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body), &[]).await
    }

    pub async fn raw(&self, method: reqwest::Method, path: &str, body: &'static str) -> (u16, Value) {
        let response = self
            .client
            .request(method, format!("{}{}", self.base, path))
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", "raw")
            .bearer_auth(self.token_for(path).unwrap_or_default())
            .body(body)
            .send()
            .await
            .expect("send");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A store with one menu item at `location`; returns (store id, item id).
    pub async fn create_store(&self, location: (f64, f64), accept_secs: u32) -> (String, String) {
        let (status, body) = self
            .post(
                "/v1/stores",
                json!({
                    "name": "Test Kitchen",
                    "location": {"lat": location.0, "lon": location.1},
                    "delivery_radius_m": 5000,
                    "accept_deadline_secs": accept_secs,
                    "currency": "KRW",
                    "menu": [{"name": "Bibimbap", "price": 11000}, {"name": "Tea", "price": 2000}]
                }),
            )
            .await;
        assert_eq!(status, 201, "create store: {body}");
        let item = body["menu"][0]["id"].as_str().unwrap().to_owned();
        (body["id"].as_str().unwrap().to_owned(), item)
    }

    /// A rider on duty at `position`.
    pub async fn create_rider(&self, name: &str, position: (f64, f64)) -> String {
        let (status, body) = self.post("/v1/riders", json!({ "name": name })).await;
        assert_eq!(status, 201, "create rider: {body}");
        let id = body["id"].as_str().unwrap().to_owned();
        let (status, body) = self
            .post(&format!("/v1/riders/{id}/online"), json!({"position": {"lat": position.0, "lon": position.1}}))
            .await;
        assert_eq!(status, 200, "rider online: {body}");
        id
    }

    /// A location ping from `rider` at `at` (the server judges pickups and deliveries by them).
    pub async fn ping(&self, rider: &str, at: (f64, f64)) {
        let body = json!({"lat": at.0, "lon": at.1});
        let (status, body) =
            self.send(reqwest::Method::PUT, &format!("/v1/riders/{rider}/location"), Some(body), &[]).await;
        assert_eq!(status, 200, "ping: {body}");
    }

    /// Place an order as the customer the body names.
    pub async fn place(&self, key: &str, body: &Value) -> (u16, Value) {
        let customer = body["customer_id"].as_str().expect("customer_id in the test body");
        let api = if self.token.is_some() { self.clone() } else { self.as_role(Role::Customer, customer) };
        api.send(reqwest::Method::POST, "/v1/orders", Some(body.clone()), &[("Idempotency-Key", key)]).await
    }

    pub async fn order(&self, id: &str) -> Value {
        let (status, body) = self.get(&format!("/v1/orders/{id}")).await;
        assert_eq!(status, 200, "get order {id}: {body}");
        body
    }

    /// Poll the order until `check` holds; panics with the last state after `secs`.
    pub async fn wait_order(&self, id: &str, secs: u64, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let order = self.order(id).await;
            if check(&order) {
                return order;
            }
            assert!(Instant::now() < deadline, "order {id} did not reach the expected state; last: {order:#}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_status(&self, id: &str, status: &str) -> Value {
        self.wait_order(id, 20, |o| o["status"] == status).await
    }
}

/// An order request for `item` of `store` delivered to `to`.
pub fn order_body(store: &str, item: &str, customer: &str, to: (f64, f64)) -> Value {
    json!({
        "customer_id": customer,
        "store_id": store,
        "items": [{"item_id": item, "quantity": 2}],
        "delivery_point": {"lat": to.0, "lon": to.1}
    })
}
