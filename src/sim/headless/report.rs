//! The run as one self-contained HTML page: the settings, the KPI table, and charts drawn
//! as inline SVG (no script, no CDN, nothing fetched), so the file can be mailed or
//! archived and still open.

use std::fmt::Write as _;

use super::engine::Outcomes;
use super::kpi::{Compared, Kpis, Sample};

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 260.0;
/// Room for the axes' labels.
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 34.0;
const TOP: f64 = 12.0;
const RIGHT: f64 = 12.0;

/// The report page for a run: `settings` are (name, value) pairs shown above the figures,
/// and a baseline run on the same day gets a column of its own.
pub fn html(settings: &[(String, String)], kpis: &Kpis, compared: Option<&Compared<'_>>, run: &Outcomes) -> String {
    let mut page = String::new();
    page.push_str(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>baedal simulation report</title><style>\
         body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:800px;color:#1d2330}\
         h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em}\
         table{border-collapse:collapse;width:100%}td{padding:3px 8px;border-bottom:1px solid #e3e6ec}\
         td:first-child{color:#4a5468}svg{background:#fafbfc;border:1px solid #e3e6ec}\
         .legend span{display:inline-block;margin-right:1.5em}.legend i{display:inline-block;width:14px;height:4px;margin-right:6px;vertical-align:middle}\
         </style></head><body>\n<h1>baedal simulation report</h1>\n",
    );
    page.push_str("<h2>Settings</h2>\n<table>\n");
    for (name, value) in settings {
        let _ = writeln!(page, "<tr><td>{}</td><td>{}</td></tr>", escape(name), escape(value));
    }
    page.push_str("</table>\n<h2>Figures</h2>\n<table>\n");
    let others = compared.map(|c| c.baseline.rows());
    if let Some(Compared { names: (ours, theirs), .. }) = compared {
        let _ = writeln!(page, "<tr><td></td><td><b>{}</b></td><td><b>{}</b></td></tr>", escape(ours), escape(theirs));
    }
    for (i, (name, value)) in kpis.rows().into_iter().enumerate() {
        let other = others.as_ref().and_then(|o| o.get(i)).map(|(_, v)| format!("<td>{}</td>", escape(v)));
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td>{}</tr>",
            escape(name),
            escape(&value),
            other.unwrap_or_default()
        );
    }
    page.push_str("</table>\n");

    let click_to_door: Vec<f64> = run.traces.iter().filter_map(|t| t.click_to_door_min()).collect();
    page.push_str("<h2>Delivery time: click to door</h2>\n");
    page.push_str(&histogram(&click_to_door, "minutes from placement to the door", "orders"));
    page.push_str("<h2>Open orders and idle riders over time</h2>\n");
    page.push_str(&over_time(&run.samples));
    page.push_str("</body></html>\n");
    page
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A step that gives about `target` gridlines up to `max`: 1, 2 or 5 times a power of ten.
fn nice_step(max: f64, target: f64) -> f64 {
    let raw = (max / target).max(1e-9);
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * power).find(|step| *step >= raw).unwrap_or(10.0 * power)
}

/// The plot area's frame, gridlines and axis labels, with `x` and `y` mapping data to pixels.
struct Frame {
    x_max: f64,
    y_max: f64,
}

impl Frame {
    fn x(&self, v: f64) -> f64 {
        LEFT + v / self.x_max.max(1e-9) * (WIDTH - LEFT - RIGHT)
    }

    fn y(&self, v: f64) -> f64 {
        HEIGHT - BOTTOM - v / self.y_max.max(1e-9) * (HEIGHT - BOTTOM - TOP)
    }

    fn axes(&self, svg: &mut String, x_label: &str, y_label: &str) {
        // Counts and minutes: whole steps.
        let y_step = nice_step(self.y_max, 5.0).max(1.0);
        let mut v = 0.0;
        while v <= self.y_max + 1e-9 {
            let y = self.y(v);
            let _ = write!(
                svg,
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e3e6ec\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#4a5468\">{}</text>",
                WIDTH - RIGHT,
                LEFT - 6.0,
                y + 4.0,
                v
            );
            v += y_step;
        }
        let x_step = nice_step(self.x_max, 8.0).max(1.0);
        let mut v = 0.0;
        while v <= self.x_max + 1e-9 {
            let x = self.x(v);
            let _ = write!(
                svg,
                "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#4a5468\">{}</text>",
                HEIGHT - BOTTOM + 15.0,
                v
            );
            v += x_step;
        }
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{bottom:.1}\" x2=\"{right:.1}\" y2=\"{bottom:.1}\" stroke=\"#4a5468\"/>\
             <text x=\"{mid:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\">{}</text>\
             <text x=\"12\" y=\"{ymid:.1}\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 12 {ymid:.1})\">{}</text>",
            HEIGHT - 4.0,
            escape(x_label),
            escape(y_label),
            bottom = HEIGHT - BOTTOM,
            right = WIDTH - RIGHT,
            mid = (LEFT + WIDTH - RIGHT) / 2.0,
            ymid = (TOP + HEIGHT - BOTTOM) / 2.0,
        );
    }
}

fn open_svg(label: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" aria-label=\"{}\">",
        escape(label)
    )
}

/// Counts of `values` in equal bins (one minute wide, or wider for long tails).
pub fn bins(values: &[f64]) -> (f64, Vec<usize>) {
    let max = values.iter().copied().fold(0.0, f64::max);
    let width = nice_step(max.max(1.0), 40.0).max(1.0);
    let last = (max / width).floor() as usize;
    let mut counts = vec![0; last + 1];
    for v in values {
        counts[((v.max(0.0) / width).floor() as usize).min(last)] += 1;
    }
    (width, counts)
}

fn histogram(values: &[f64], x_label: &str, y_label: &str) -> String {
    let mut svg = open_svg("histogram of click-to-door times");
    if values.is_empty() {
        svg.push_str("<text x=\"20\" y=\"40\">no order was delivered</text></svg>\n");
        return svg;
    }
    let (width, counts) = bins(values);
    let frame = Frame { x_max: width * counts.len() as f64, y_max: counts.iter().copied().max().unwrap_or(1) as f64 };
    frame.axes(&mut svg, x_label, y_label);
    for (i, count) in counts.iter().enumerate() {
        let (x0, x1) = (frame.x(i as f64 * width), frame.x((i + 1) as f64 * width));
        let y = frame.y(*count as f64);
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#3f6fd8\"><title>{}-{} min: {count}</title></rect>",
            x0 + 0.5,
            (x1 - x0 - 1.0).max(0.5),
            HEIGHT - BOTTOM - y,
            i as f64 * width,
            (i + 1) as f64 * width,
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn over_time(samples: &[Sample]) -> String {
    type Series = (&'static str, &'static str, fn(&Sample) -> usize);
    let series: [Series; 3] = [
        ("open orders", "#3f6fd8", |s| s.open_orders),
        ("orders waiting for a rider", "#d8663f", |s| s.waiting_for_rider),
        ("idle riders", "#2e9e5b", |s| s.idle_riders),
    ];
    let mut out = String::from("<p class=\"legend\">");
    for (name, colour, _) in &series {
        let _ = write!(out, "<span><i style=\"background:{colour}\"></i>{name}</span>");
    }
    out.push_str("</p>\n");
    let mut svg = open_svg("open orders, orders waiting for a rider and idle riders by minute");
    let x_max = samples.last().map_or(1.0, |s| s.minute).max(1.0);
    let y_max =
        samples.iter().flat_map(|s| series.iter().map(move |(_, _, value)| value(s))).max().unwrap_or(0).max(1) as f64;
    let frame = Frame { x_max, y_max };
    frame.axes(&mut svg, "simulated minute", "count");
    for (name, colour, value) in &series {
        let points: Vec<String> =
            samples.iter().map(|s| format!("{:.1},{:.1}", frame.x(s.minute), frame.y(value(s) as f64))).collect();
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"><title>{name}</title></polyline>",
            points.join(" ")
        );
    }
    svg.push_str("</svg>\n");
    out.push_str(&svg);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_hold_every_value_once() {
        let values = [0.2, 0.9, 1.0, 4.5, 12.0, 12.0];
        let (width, counts) = bins(&values);
        assert_eq!(width, 1.0);
        assert_eq!(counts.iter().sum::<usize>(), values.len());
        assert_eq!(counts[0], 2);
        assert_eq!(counts[12], 2);
    }

    #[test]
    fn long_tails_get_wider_bins() {
        let values: Vec<f64> = (0..500).map(f64::from).collect();
        let (width, counts) = bins(&values);
        assert!(width > 1.0);
        assert!(counts.len() <= 60, "{} bins", counts.len());
        assert_eq!(counts.iter().sum::<usize>(), 500);
    }

    #[test]
    fn gridline_steps_are_round() {
        assert_eq!(nice_step(100.0, 5.0), 20.0);
        assert_eq!(nice_step(7.0, 5.0), 2.0);
        assert_eq!(nice_step(1.0, 5.0), 0.2);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("<b>&\""), "&lt;b&gt;&amp;&quot;");
    }
}
