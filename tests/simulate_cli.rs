//! `baedal simulate` as a user runs it: a headless day of the demo city, its KPIs on the
//! terminal and a self-contained HTML report.

use std::process::Command;

fn simulate(args: &[&str]) -> std::process::Output {
    // Run where no configuration file is, so only the defaults and the flags count.
    let empty = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_baedal"))
        .arg("simulate")
        .args(args)
        .current_dir(empty.path())
        .env_remove("BAEDAL_CONFIG")
        .output()
        .expect("the baedal binary runs")
}

/// The value printed on the KPI line that starts with `name`.
fn figure<'a>(stdout: &'a str, name: &str) -> &'a str {
    stdout.lines().find(|line| line.starts_with(name)).unwrap_or_else(|| panic!("no `{name}` line in:\n{stdout}"))
        [name.len()..]
        .trim()
}

#[test]
fn a_headless_day_prints_its_kpis_and_writes_a_self_contained_report() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("day.html");
    let out = simulate(&["--duration", "3h", "--seed", "3", "--report", report.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));

    let placed: usize = figure(&stdout, "orders placed").parse().unwrap();
    let delivered: usize = figure(&stdout, "orders delivered").split_whitespace().next().unwrap().parse().unwrap();
    // Three hours at two orders a minute.
    assert!((280..=440).contains(&placed), "{placed} orders placed");
    assert!(delivered as f64 >= 0.85 * placed as f64, "{delivered} of {placed} delivered");
    assert_eq!(figure(&stdout, "still open at the end"), "0");
    for name in [
        "click-to-door mean / p50 / p90",
        "pickup wait",
        "rider utilisation",
        "assignment latency",
        "cancelled by cause",
    ] {
        assert!(!figure(&stdout, name).is_empty(), "{name}");
    }
    // A simulated clock: three hours take seconds.
    let speed: f64 = figure(&stdout, "speed").split('x').next().unwrap().parse().unwrap();
    assert!(speed > 100.0, "{speed}x real time");

    let page = std::fs::read_to_string(&report).unwrap();
    assert!(page.starts_with("<!doctype html>"));
    assert_eq!(page.matches("<svg").count(), 2, "a histogram and a chart over time");
    assert!(page.contains("<rect"), "histogram bars");
    assert!(page.matches("<polyline").count() >= 3, "open orders, waiting orders, idle riders");
    assert!(page.contains(&format!("<td>orders placed</td><td>{placed}</td>")));
    // Self-contained: nothing to fetch, nothing to run.
    assert!(!page.contains("<script") && !page.contains("src=") && !page.contains("<link"));
}

#[test]
fn the_same_seed_gives_the_same_figures() {
    let figures = |seed: &str| {
        let out = simulate(&["--duration", "40m", "--seed", seed]);
        assert!(out.status.success());
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        // Wall-clock lines (tick time, speed) vary run to run; the day itself does not.
        stdout
            .lines()
            .filter(|l| !l.starts_with("dispatch tick") && !l.starts_with("speed"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(figures("11"), figures("11"));
}

#[test]
fn bad_arguments_are_refused_with_a_reason() {
    for (args, says) in [
        (vec!["--duration", "soon"], "--duration"),
        (vec!["--duration", "0"], "positive"),
        (vec!["--reject-share", "1.5"], "between 0 and 1"),
        (vec!["--cook-minutes", "20-6"], "min <= max"),
        (vec!["--stores", "0"], "at least one store"),
        (vec!["--orders-per-minute=-1"], "at least 0"),
    ] {
        let out = simulate(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn compare_runs_greedy_dispatch_on_the_same_day_beside() {
    let out = simulate(&["--duration", "1h", "--compare"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout
        .lines()
        .next()
        .is_some_and(|l| l.contains("batch assignment") && l.contains("greedy nearest-first")));
    let placed: Vec<&str> = figure(&stdout, "orders placed").split_whitespace().collect();
    assert_eq!(placed.len(), 2, "{stdout}");
    assert_eq!(placed[0], placed[1], "both policies see the same orders");
}
