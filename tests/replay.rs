//! Benchmark days replayed end to end through the library the `baedal replay` command
//! uses: both policies' solution files are written, read back and checked against every
//! rule of the instances' README, and the checker itself is shown to catch broken files.
//!
//! Three instances of the published set are kept in `tests/fixtures/mdrp` (or set `MDRP_DIR`
//! to a folder holding them, such as the full set).

use std::path::PathBuf;

use baedal::replay::solution::COURIERS_FILE;
use baedal::replay::{check, run_instance, Instance, ReplaySettings, Solution};

fn instances_root() -> PathBuf {
    std::env::var_os("MDRP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mdrp"))
}

fn instance_dir(name: &str) -> PathBuf {
    let dir = instances_root().join(name);
    assert!(dir.join("orders.txt").is_file(), "instance {} is missing", dir.display());
    dir
}

fn replays_feasibly(name: &str) {
    let out = tempfile::tempdir().unwrap();
    let report = run_instance(&instance_dir(name), ReplaySettings::tuned(), out.path()).unwrap();
    assert!(
        report.tuned.violations.is_empty(),
        "{name}: {:?}",
        &report.tuned.violations[..3.min(report.tuned.violations.len())]
    );
    assert!(
        report.greedy.violations.is_empty(),
        "{name} greedy: {:?}",
        &report.greedy.violations[..3.min(report.greedy.violations.len())]
    );
    let (tuned, greedy) = (&report.tuned.kpis, &report.greedy.kpis);
    assert!(tuned.delivered_share() >= 0.99, "{name}: delivered {} of {}", tuned.delivered, tuned.orders);
    assert!(tuned.delivered > 0 && greedy.delivered > 0);
    // Click-to-door can never beat cooking plus the direct ride: a sanity floor.
    assert!(tuned.click_to_door.mean > 10.0, "{name}: implausible click-to-door {}", tuned.click_to_door.mean);
    for file in ["solution_info_assignments.txt", "solution_info_orders.txt", COURIERS_FILE] {
        assert!(out.path().join(file).is_file(), "{file} not written");
        assert!(out.path().join("greedy").join(file).is_file(), "greedy {file} not written");
    }
}

#[test]
fn an_o50_day_replays_feasibly() {
    replays_feasibly("0o50t100s1p100");
}

#[test]
fn an_r50_day_with_optimised_shifts_replays_feasibly() {
    replays_feasibly("1r50t75s2p125");
}

#[test]
fn the_checker_catches_broken_solutions() {
    let instance = Instance::load(&instance_dir("0r50t100s1p100")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let solution = baedal::replay::Replay::new(&instance, ReplaySettings::tuned()).run().unwrap();
    solution.write(&instance, out.path()).unwrap();
    let written = Solution::read(&instance, out.path()).unwrap();
    assert_eq!(check(&instance, &written), vec![]);

    // A pickup before the food is ready.
    let mut early = written.clone();
    let a = &mut early.assignments[0];
    a.pickup_at = instance.orders[a.orders[0]].ready - 1;
    assert!(check(&instance, &early).iter().any(|v| v.0.contains("before it is ready")));

    // An assignment before the order exists.
    let mut premature = written.clone();
    let a = &mut premature.assignments[0];
    a.assigned_at = instance.orders[a.orders[0]].placed - 1;
    assert!(check(&instance, &premature).iter().any(|v| v.0.contains("before its placement")));

    // A courier that teleports: drop one of its moves from the written file.
    let path = out.path().join(COURIERS_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let kept: Vec<&str> = lines.iter().enumerate().filter(|(i, _)| *i != 2).map(|(_, l)| *l).collect();
    std::fs::write(&path, kept.join("\n") + "\n").unwrap();
    let teleported = Solution::read(&instance, out.path()).unwrap();
    assert!(!check(&instance, &teleported).is_empty());

    // Drop-offs squeezed closer than the service time.
    let mut rushed = written.clone();
    let bundle = rushed.assignments.iter().find(|a| a.orders.len() > 1).cloned().expect("this day has a bundle");
    let first_dropoff = rushed.deliveries.iter().find(|d| d.order == bundle.orders[0]).unwrap().dropoff_at;
    let d = rushed.deliveries.iter_mut().find(|d| d.order == bundle.orders[1]).unwrap();
    d.dropoff_at = first_dropoff + instance.parameters.dropoff_service - 1;
    assert!(!check(&instance, &rushed).is_empty());

    // A pickup after the courier's shift.
    let mut overtime = written;
    let a = &mut overtime.assignments[0];
    a.pickup_at = instance.couriers[a.courier].off + 1;
    assert!(check(&instance, &overtime).iter().any(|v| v.0.contains("outside its shift")));
}

/// FNV-1a over the bytes of a solution's files: a fingerprint of every assignment, pickup
/// and drop-off time and courier move.
fn fingerprint(dir: &std::path::Path) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in ["solution_info_assignments.txt", "solution_info_orders.txt", COURIERS_FILE] {
        for byte in std::fs::read(dir.join(file)).unwrap() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// Moving dispatch rules between modules must not change a single decision: each kept day's
/// solutions, tuned and greedy, are pinned byte for byte. A change that means to alter
/// dispatch updates these values in the same commit and says why.
#[test]
fn the_kept_days_replay_to_the_pinned_solutions() {
    let pinned: [(&str, u64, u64); 3] = [
        ("0o50t100s1p100", 14921289793331970697, 14024515433960183410),
        ("0r50t100s1p100", 10009083225937813575, 8584676748416560698),
        ("1r50t75s2p125", 10213109044887764938, 16197926920648283429),
    ];
    let mut seen = Vec::new();
    for (name, _, _) in pinned {
        let out = tempfile::tempdir().unwrap();
        run_instance(&instance_dir(name), ReplaySettings::tuned(), out.path()).unwrap();
        seen.push((name, fingerprint(out.path()), fingerprint(&out.path().join("greedy"))));
    }
    assert_eq!(seen, pinned, "a replayed day decided differently");
}
