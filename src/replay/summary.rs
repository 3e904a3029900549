//! Running instances under the tuned policy and the greedy baseline side by side, and the
//! summary table over many instances (a row each, then means overall and per family).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::bound::deliverable_bound;
use super::checker::{check, Violation};
use super::engine::{Replay, ReplayError};
use super::instance::{Instance, InstanceError};
use super::kpi::Kpis;
use super::settings::ReplaySettings;
use super::solution::{Solution, SolutionError};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Instance(#[from] InstanceError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error(transparent)]
    Solution(#[from] SolutionError),
    #[error("cannot list {path}: {source}")]
    List { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// One policy's outcome on one instance, judged from the files it wrote.
#[derive(Clone, Debug)]
pub struct PolicyRun {
    pub kpis: Kpis,
    pub violations: Vec<Violation>,
}

#[derive(Clone, Debug)]
pub struct InstanceReport {
    pub name: String,
    /// Orders some courier's shift allows picking up at all ([`deliverable_bound`]).
    pub deliverable_bound: usize,
    pub tuned: PolicyRun,
    pub greedy: PolicyRun,
}

impl InstanceReport {
    /// Whether both solutions passed every rule.
    pub fn feasible(&self) -> bool {
        self.tuned.violations.is_empty() && self.greedy.violations.is_empty()
    }
}

impl std::fmt::Display for InstanceReport {
    /// The day's figures, the tuned policy beside the baseline with their ratio.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (t, g) = (&self.tuned.kpis, &self.greedy.kpis);
        writeln!(
            f,
            "{}: {} orders ({} within some courier's shift), {:.1} courier hours",
            self.name, t.orders, self.deliverable_bound, t.courier_hours
        )?;
        writeln!(f, "{:<28} {:>10} {:>10} {:>8}", "", "baedal", "greedy", "ratio")?;
        let mut line = |label: &str, a: f64, b: f64| {
            let ratio = if b == 0.0 { String::from("-") } else { format!("{:.3}", a / b) };
            writeln!(f, "{label:<28} {a:>10.2} {b:>10.2} {ratio:>8}")
        };
        line("delivered", t.delivered as f64, g.delivered as f64)?;
        line("delivered %", t.delivered_share() * 100.0, g.delivered_share() * 100.0)?;
        line("click-to-door mean (min)", t.click_to_door.mean, g.click_to_door.mean)?;
        line("click-to-door p50 (min)", t.click_to_door.p50, g.click_to_door.p50)?;
        line("click-to-door p90 (min)", t.click_to_door.p90, g.click_to_door.p90)?;
        line("ready-to-pickup mean (min)", t.ready_to_pickup.mean, g.ready_to_pickup.mean)?;
        line("over 40 min %", t.over_target * 100.0, g.over_target * 100.0)?;
        line("orders per courier hour", t.orders_per_courier_hour, g.orders_per_courier_hour)?;
        line("courier utilisation %", t.utilisation * 100.0, g.utilisation * 100.0)?;
        line("total courier pay", t.total_pay, g.total_pay)?;
        line("mean bundle size", t.mean_bundle_size(), g.mean_bundle_size())?;
        let [one, two, three, more] = t.bundle_sizes;
        writeln!(f, "bundles of 1/2/3/4+ orders: {one}/{two}/{three}/{more}")?;
        for (policy, run) in [("baedal", &self.tuned), ("greedy", &self.greedy)] {
            match run.violations.len() {
                0 => writeln!(f, "{policy} solution: feasible")?,
                n => {
                    writeln!(f, "{policy} solution: {n} rule violations, first: {}", run.violations[0])?;
                }
            }
        }
        Ok(())
    }
}

/// Replay `instance` under `settings`, write its solution to `out`, read it back and check it.
pub fn run_policy(instance: &Instance, settings: ReplaySettings, out: &Path) -> Result<PolicyRun, RunError> {
    let solution = Replay::new(instance, settings).run()?;
    solution.write(instance, out)?;
    let written = Solution::read(instance, out)?;
    Ok(PolicyRun { kpis: Kpis::compute(instance, &written), violations: check(instance, &written) })
}

/// Replay the instance in `dir` under `tuned` and the greedy baseline: the tuned solution
/// goes to `out`, the baseline's to `out/greedy`.
pub fn run_instance(dir: &Path, tuned: ReplaySettings, out: &Path) -> Result<InstanceReport, RunError> {
    let instance = Instance::load(dir)?;
    let tuned = run_policy(&instance, tuned, out)?;
    let greedy = run_policy(&instance, ReplaySettings::greedy(), &out.join("greedy"))?;
    let deliverable_bound = deliverable_bound(&instance);
    Ok(InstanceReport { name: instance.name, deliverable_bound, tuned, greedy })
}

/// The instance folders under `root` (those holding an orders file), by name.
pub fn instance_dirs(root: &Path) -> Result<Vec<PathBuf>, RunError> {
    let list = |source| RunError::List { path: root.to_owned(), source };
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(root).map_err(list)? {
        let path = entry.map_err(list)?.path();
        if path.join("orders.txt").is_file() {
            dirs.push(path);
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// How an instance was derived, read from its name (`<seed><size>t<travel>s<shifts>p<prep>`).
fn families(name: &str) -> Vec<String> {
    let rest = name.trim_start_matches(|c: char| c.is_ascii_digit());
    let mut parts = Vec::new();
    let mut current = String::new();
    for c in rest.chars() {
        if c.is_ascii_alphabetic() && !current.is_empty() {
            parts.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

/// Figures of a row or a group of rows, the tuned policy beside the baseline.
#[derive(Clone, Debug, Default)]
struct Figures {
    instances: usize,
    delivered: f64,
    min_delivered: f64,
    greedy_delivered: f64,
    ctd: f64,
    ctd_p50: f64,
    ctd_p90: f64,
    greedy_ctd: f64,
    ready_to_pickup: f64,
    over_target: f64,
    greedy_over_target: f64,
    opch: f64,
    greedy_opch: f64,
    utilisation: f64,
    greedy_utilisation: f64,
    pay: f64,
    greedy_pay: f64,
    bundle_size: f64,
    infeasible: usize,
}

impl Figures {
    fn of(report: &InstanceReport) -> Figures {
        let (t, g) = (&report.tuned.kpis, &report.greedy.kpis);
        Figures {
            instances: 1,
            delivered: t.delivered_share(),
            min_delivered: t.delivered_share(),
            greedy_delivered: g.delivered_share(),
            ctd: t.click_to_door.mean,
            ctd_p50: t.click_to_door.p50,
            ctd_p90: t.click_to_door.p90,
            greedy_ctd: g.click_to_door.mean,
            ready_to_pickup: t.ready_to_pickup.mean,
            over_target: t.over_target,
            greedy_over_target: g.over_target,
            opch: t.orders_per_courier_hour,
            greedy_opch: g.orders_per_courier_hour,
            utilisation: t.utilisation,
            greedy_utilisation: g.utilisation,
            pay: t.total_pay,
            greedy_pay: g.total_pay,
            bundle_size: t.mean_bundle_size(),
            infeasible: usize::from(!report.tuned.violations.is_empty())
                + usize::from(!report.greedy.violations.is_empty()),
        }
    }

    fn mean(rows: &[Figures]) -> Figures {
        let n = rows.len().max(1) as f64;
        let avg = |f: fn(&Figures) -> f64| rows.iter().map(f).sum::<f64>() / n;
        Figures {
            instances: rows.len(),
            delivered: avg(|r| r.delivered),
            min_delivered: rows.iter().map(|r| r.min_delivered).fold(f64::INFINITY, f64::min),
            greedy_delivered: avg(|r| r.greedy_delivered),
            ctd: avg(|r| r.ctd),
            ctd_p50: avg(|r| r.ctd_p50),
            ctd_p90: avg(|r| r.ctd_p90),
            greedy_ctd: avg(|r| r.greedy_ctd),
            ready_to_pickup: avg(|r| r.ready_to_pickup),
            over_target: avg(|r| r.over_target),
            greedy_over_target: avg(|r| r.greedy_over_target),
            opch: avg(|r| r.opch),
            greedy_opch: avg(|r| r.greedy_opch),
            utilisation: avg(|r| r.utilisation),
            greedy_utilisation: avg(|r| r.greedy_utilisation),
            pay: avg(|r| r.pay),
            greedy_pay: avg(|r| r.greedy_pay),
            bundle_size: avg(|r| r.bundle_size),
            infeasible: rows.iter().map(|r| r.infeasible).sum(),
        }
    }

    fn ratio(a: f64, b: f64) -> f64 {
        if b == 0.0 {
            0.0
        } else {
            a / b
        }
    }

    const HEADER: [&str; 21] = [
        "rows",
        "instances",
        "delivered %",
        "min delivered %",
        "greedy delivered %",
        "click-to-door mean",
        "p50",
        "p90",
        "greedy click-to-door mean",
        "click-to-door vs greedy",
        "ready-to-pickup mean",
        "over 40 min %",
        "greedy over 40 min %",
        "orders per courier hour",
        "greedy orders per courier hour",
        "orders per courier hour vs greedy",
        "utilisation %",
        "greedy utilisation %",
        "pay vs greedy",
        "mean bundle size",
        "infeasible solutions",
    ];

    fn cells(&self, label: &str) -> Vec<String> {
        vec![
            label.to_owned(),
            self.instances.to_string(),
            format!("{:.2}", self.delivered * 100.0),
            format!("{:.2}", self.min_delivered * 100.0),
            format!("{:.2}", self.greedy_delivered * 100.0),
            format!("{:.1}", self.ctd),
            format!("{:.1}", self.ctd_p50),
            format!("{:.1}", self.ctd_p90),
            format!("{:.1}", self.greedy_ctd),
            format!("{:.3}", Self::ratio(self.ctd, self.greedy_ctd)),
            format!("{:.1}", self.ready_to_pickup),
            format!("{:.1}", self.over_target * 100.0),
            format!("{:.1}", self.greedy_over_target * 100.0),
            format!("{:.3}", self.opch),
            format!("{:.3}", self.greedy_opch),
            format!("{:.3}", Self::ratio(self.opch, self.greedy_opch)),
            format!("{:.1}", self.utilisation * 100.0),
            format!("{:.1}", self.greedy_utilisation * 100.0),
            format!("{:.3}", Self::ratio(self.pay, self.greedy_pay)),
            format!("{:.2}", self.bundle_size),
            self.infeasible.to_string(),
        ]
    }
}

/// The summary of a run over many instances: the means (overall, then per family), then a
/// row per instance.
pub struct Summary {
    rows: Vec<(String, Figures)>,
}

impl Summary {
    pub fn new(reports: &[InstanceReport]) -> Summary {
        let per_instance: Vec<(String, Figures)> = reports.iter().map(|r| (r.name.clone(), Figures::of(r))).collect();
        let all: Vec<Figures> = per_instance.iter().map(|(_, f)| f.clone()).collect();
        let mut rows = vec![("all".to_owned(), Figures::mean(&all))];
        let mut keys: Vec<String> = reports.iter().flat_map(|r| families(&r.name)).collect();
        keys.sort_by_key(|k| {
            (k.chars().next(), k.trim_start_matches(|c: char| c.is_ascii_alphabetic()).len(), k.clone())
        });
        keys.dedup();
        for key in keys {
            let group: Vec<Figures> =
                per_instance.iter().filter(|(name, _)| families(name).contains(&key)).map(|(_, f)| f.clone()).collect();
            rows.push((key, Figures::mean(&group)));
        }
        rows.extend(per_instance);
        Summary { rows }
    }

    pub fn csv(&self) -> String {
        let mut text = Figures::HEADER.join(",");
        text.push('\n');
        for (label, figures) in &self.rows {
            text.push_str(&figures.cells(label).join(","));
            text.push('\n');
        }
        text
    }

    /// Markdown; `rows` limits it to the first rows (the means) when given.
    pub fn markdown(&self, rows: Option<usize>) -> String {
        let mut text = format!("| {} |\n", Figures::HEADER.join(" | "));
        let _ = writeln!(text, "|{}", " --- |".repeat(Figures::HEADER.len()));
        for (label, figures) in self.rows.iter().take(rows.unwrap_or(usize::MAX)) {
            let _ = writeln!(text, "| {} |", figures.cells(label).join(" | "));
        }
        text
    }

    /// The rows that are means (overall and per family), before the per-instance rows.
    pub fn mean_rows(&self, instances: usize) -> usize {
        self.rows.len() - instances
    }

    /// Write `summary.csv` and `summary.md` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), RunError> {
        for (file, text) in [("summary.csv", self.csv()), ("summary.md", self.markdown(None))] {
            let path = dir.join(file);
            std::fs::write(&path, text).map_err(|source| RunError::Write { path: path.clone(), source })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_come_from_the_name() {
        assert_eq!(families("0o100t75s1p125"), vec!["o100", "t75", "s1", "p125"]);
        assert_eq!(families("8r50t100s2p100"), vec!["r50", "t100", "s2", "p100"]);
    }
}
