//! schemathesis against the real server's `/openapi.json`: generated valid and invalid
//! requests to every operation, as each kind of caller, checked for no 5xx, a status the
//! document lists, the documented content type and a body that fits the documented schema.
//!
//! `schemathesis` must be on `PATH` (the test fails, never skips, without it).
//! `SCHEMA_FUZZ_EXAMPLES` sets the examples per operation (default 8, a short CI run);
//! `SCHEMA_FUZZ_SEED` the seed (default fixed, so a CI failure reproduces).

mod common;

use std::path::Path;
use std::process::Command;

use baedal::auth::Role;
use common::server::{order_body, OPERATOR};
use common::ws::token;
use common::{Backend, TestDb, TestServer};

const STORE: (f64, f64) = (37.5665, 126.978);
const CUSTOMER: &str = "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f";

/// Looked up on `PATH`; CI installs 4.32.5 (`--checks all` names checks older releases lack).
const SCHEMATHESIS: &str = "schemathesis";

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// What one schemathesis run reports.
struct Outcome {
    cases: u64,
    failures: usize,
    /// Crashes of schemathesis itself, not answers of the server.
    errors: usize,
}

/// One schemathesis run as one caller. A run that only crashed inside schemathesis (no
/// failure found) is tried once more with the same seed; a second crash fails the test.
fn fuzz(base: &str, who: &str, token: Option<&str>, config: &Path, examples: u64, seed: u64) -> u64 {
    for attempt in 1..=2 {
        let (outcome, output) = run(base, who, token, config, examples, seed);
        println!("---- schemathesis as {who} (attempt {attempt}) ----\n{output}");
        if outcome.failures == 0 && outcome.errors == 0 {
            return outcome.cases;
        }
        assert!(outcome.failures == 0 && attempt == 1, "schemathesis as {who} found failures (see above)");
    }
    unreachable!()
}

fn run(base: &str, who: &str, token: Option<&str>, config: &Path, examples: u64, seed: u64) -> (Outcome, String) {
    let report = config.with_file_name(format!("{who}.json"));
    let mut command = Command::new(SCHEMATHESIS);
    command
        .arg("--config-file")
        .arg(config)
        .args(["run", &format!("{base}/openapi.json")])
        .args(["--checks", "all"])
        .args(["--max-examples", &examples.to_string()])
        .args(["--seed", &seed.to_string()])
        .args(["--workers", "2"])
        .args(["--report", "json", "--report-json-path"])
        .arg(&report)
        // Its cache goes with the run, not into the working tree.
        .current_dir(config.parent().unwrap())
        .env("NO_COLOR", "1");
    if let Some(token) = token {
        command.args(["--header", &format!("Authorization: Bearer {token}")]);
    }
    let output = command.output().unwrap_or_else(|e| {
        panic!("`{SCHEMATHESIS}` must be on PATH (pip install schemathesis, see docs/bad-input.md): {e}")
    });
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let outcome = read_report(&report).unwrap_or_else(|| panic!("no report from schemathesis as {who}:\n{text}"));
    assert!(
        output.status.success() || outcome.failures > 0 || outcome.errors > 0,
        "schemathesis as {who} exited with {} and reported nothing:\n{text}",
        output.status
    );
    (outcome, text)
}

fn read_report(report: &Path) -> Option<Outcome> {
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(report).ok()?).ok()?;
    let count = |key: &str| match &report[key] {
        serde_json::Value::Array(items) => items.len(),
        serde_json::Value::Object(items) => items.len(),
        _ => 0,
    };
    Some(Outcome {
        cases: report.pointer("/test_cases/generated")?.as_u64()?,
        failures: count("failures"),
        errors: count("errors"),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzzed_requests_get_documented_answers_and_never_a_5xx() {
    let examples = setting("SCHEMA_FUZZ_EXAMPLES", 8);
    let seed = setting("SCHEMA_FUZZ_SEED", 20_261_125);
    let db = TestDb::new(Backend::Sqlite).await;
    let server = TestServer::start(&db, &[]);
    let api = &server.api;

    // Real ids for the path parameters, so requests reach past "not found" into the handlers.
    let (store, item) = api.create_store(STORE, 300).await;
    let rider = api.create_rider("Fuzz", STORE).await;
    let (status, order) = api.place("fuzz-1", &order_body(&store, &item, CUSTOMER, (37.5705, 126.978))).await;
    assert_eq!(status, 201, "{order}");
    let order = order["id"].as_str().unwrap().to_owned();

    // The checked-in settings plus the ids of this run.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("schemathesis.toml");
    let settings = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemathesis.toml")).unwrap();
    let ids = [("store", &store), ("item", &item), ("rider", &rider), ("order", &order)];
    let parameters: String = ids.iter().map(|(name, id)| format!("\"path.{name}\" = \"{id}\"\n")).collect();
    std::fs::write(&config, format!("{settings}\n[parameters]\n{parameters}")).unwrap();

    let callers = [
        ("anonymous", None),
        ("operator", Some(token(Role::Operator, OPERATOR))),
        ("customer", Some(token(Role::Customer, CUSTOMER))),
        ("store", Some(token(Role::Store, &store))),
        ("rider", Some(token(Role::Rider, &rider))),
    ];
    let mut total = 0;
    for (who, token) in &callers {
        let cases = fuzz(&api.base, who, token.as_deref(), &config, examples, seed);
        println!("schemathesis as {who}: {cases} cases, all passed");
        total += cases;
    }
    println!("schemathesis: {total} cases in all ({examples} examples per operation, seed {seed})");
    assert!(total > 0);
}
