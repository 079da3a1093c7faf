//! The SVG charts of `report.html`, drawn here with no script: "nice" 1-2-5 axes in a
//! unit chosen for the range, line charts with legends and a tooltip on every point,
//! horizontal bars, and the checked palette they share.

use super::html::esc;
use std::fmt::Write;

/// Series colours: the Okabe–Ito blue and vermillion with darker companions, each at
/// least 3:1 against white (WCAG's contrast for graphics; a test checks it) and told
/// apart by colour-blind readers. Series are also told apart by `DASHES`.
pub(crate) const COLORS: [&str; 6] = [
    "#0072B2", "#D55E00", "#117733", "#AA3377", "#332288", "#6B5300",
];
const DASHES: [&str; 3] = ["", "7 3", "2 2"];
pub(super) const W: f64 = 760.0;
pub(super) const H: f64 = 260.0;
pub(super) const PAD: f64 = 52.0;
/// Points drawn per series at most: a day's seconds are drawn as their maxima over
/// equal slices (the statistics themselves are never downsampled).
const MAX_POINTS: usize = 600;

/// A "nice" step for about `ticks` ticks over `span`: 1, 2 or 5 times a power of ten.
pub(crate) fn nice_step(span: f64, ticks: usize) -> f64 {
    if span.is_nan() || span <= 0.0 || !span.is_finite() {
        return 1.0;
    }
    let raw = span / ticks.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * 0.999)
        .unwrap_or(10.0 * mag)
}

/// An axis: its unit as shown, the factor from data to shown values, the step and top.
pub(super) struct Axis {
    pub(super) unit: String,
    div: f64,
    step: f64,
    top: f64,
}

impl Axis {
    /// For values up to `max` in `unit`: milliseconds become seconds from 2 s up,
    /// seconds become minutes and hours on long runs.
    pub(super) fn new(max: f64, unit: &str) -> Axis {
        let (unit, div) = match unit {
            "ms" if max >= 2000.0 => ("s", 1000.0),
            "s" if max >= 7200.0 => ("h", 3600.0),
            "s" if max >= 600.0 => ("min", 60.0),
            u => (u, 1.0),
        };
        let shown = (max / div).max(1e-9);
        let step = nice_step(shown, 5);
        Axis {
            unit: unit.to_string(),
            div,
            step,
            top: (shown / step).ceil().max(1.0) * step,
        }
    }

    /// The tick values, as data (not shown) values, from 0 to the top.
    pub(super) fn ticks(&self) -> Vec<f64> {
        let n = (self.top / self.step).round() as usize;
        (0..=n).map(|i| i as f64 * self.step * self.div).collect()
    }

    pub(super) fn label(&self, v: f64) -> String {
        let decimals = if self.step >= 1.0 {
            0
        } else {
            (-self.step.log10().floor()) as usize
        };
        format!("{:.*}", decimals, v / self.div)
    }

    pub(super) fn max(&self) -> f64 {
        self.top * self.div
    }
}

/// At most `MAX_POINTS` points: the largest y of each equal slice of the series.
fn downsample(pts: &[(f64, f64)]) -> Vec<(f64, f64)> {
    if pts.len() <= MAX_POINTS {
        return pts.to_vec();
    }
    let per = pts.len().div_ceil(MAX_POINTS);
    pts.chunks(per)
        .map(|c| {
            c.iter()
                .copied()
                .fold((c[0].0, f64::MIN), |a, p| if p.1 > a.1 { p } else { a })
        })
        .collect()
}

fn fmt_value(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// A labelled line across a chart: vertical at an x value, or horizontal at a y value.
pub(super) struct Rule {
    pub(super) vertical: bool,
    pub(super) at: f64,
    pub(super) label: String,
}

/// A line chart of `series` (name, points), with shaded x ranges; x in seconds.
pub(super) fn line_chart(
    title: &str,
    y_unit: &str,
    series: &[(String, Vec<(f64, f64)>)],
    shade: &[(f64, f64)],
) -> String {
    chart(title, "s", y_unit, series, shade, &[])
}

/// A series to draw: its index (its colour and dash), name and points.
type Drawn<'a> = (usize, &'a String, Vec<(f64, f64)>);

/// A line chart with its x unit, shaded x ranges and labelled rules: nice ticks on
/// both axes, a legend naming each drawn series, lines told apart by colour and dash
/// and drawn widest first so that coinciding ones stay visible, and a tooltip on every
/// point.
pub(super) fn chart(
    title: &str,
    x_unit: &str,
    y_unit: &str,
    series: &[(String, Vec<(f64, f64)>)],
    shade: &[(f64, f64)],
    rules: &[Rule],
) -> String {
    let drawn: Vec<Drawn> = series
        .iter()
        .enumerate()
        .filter(|(_, (_, p))| !p.is_empty())
        .map(|(i, (n, p))| (i, n, downsample(p)))
        .collect();
    let (mut x_max, mut y_max) = (1.0f64, 0.0f64);
    for (x, y) in drawn.iter().flat_map(|(_, _, p)| p.iter()) {
        x_max = x_max.max(*x);
        y_max = y_max.max(*y);
    }
    for (_, b) in shade {
        x_max = x_max.max(*b);
    }
    for r in rules {
        if r.vertical {
            x_max = x_max.max(r.at);
        } else {
            y_max = y_max.max(r.at);
        }
    }
    let xa = Axis::new(x_max, x_unit);
    let ya = Axis::new(y_max.max(1e-9) * 1.05, y_unit);
    let sx = |x: f64| PAD + x / xa.max() * (W - 2.0 * PAD);
    let sy = |y: f64| H - PAD - y / ya.max() * (H - 2.0 * PAD);
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img"><title>{}</title>"#,
        esc(title)
    );
    for (a, b) in shade {
        let _ = write!(
            svg,
            r##"<rect class="fault" x="{:.1}" y="{PAD}" width="{:.1}" height="{:.1}" fill="#f4cccc"><title>fault window {a:.0}–{b:.0} s</title></rect>"##,
            sx(*a),
            (sx(*b) - sx(*a)).max(1.0),
            H - 2.0 * PAD
        );
    }
    axes(&mut svg, &xa, &ya, &sx, &sy);
    for r in rules {
        let (x1, y1, x2, y2) = if r.vertical {
            (sx(r.at), PAD, sx(r.at), H - PAD)
        } else {
            (PAD, sy(r.at), W - PAD, sy(r.at))
        };
        let _ = write!(
            svg,
            r##"<line class="rule" x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="#666" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}" font-size="10" fill="#444">{}</text>"##,
            if r.vertical {
                x1 + 3.0
            } else {
                W - PAD - 150.0
            },
            if r.vertical { PAD + 10.0 } else { y1 - 3.0 },
            esc(&r.label)
        );
    }
    // The last series first and widest: where lines coincide, each shows around the
    // thinner one drawn over it.
    for (k, (i, name, pts)) in drawn.iter().enumerate().rev() {
        let color = COLORS[i % COLORS.len()];
        let width = 1.5 + 1.5 * k as f64;
        let path: Vec<String> = pts
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline class="series" data-name="{}" fill="none" stroke="{color}" stroke-width="{width}" stroke-dasharray="{}" stroke-linejoin="round" points="{}"/>"#,
            esc(name),
            DASHES[i % DASHES.len()],
            path.join(" ")
        );
        for (x, y) in pts {
            let _ = write!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}" fill-opacity="0"><title>{} at {} {}: {} {}</title></circle>"#,
                sx(*x),
                sy(*y),
                esc(name),
                xa.label(*x),
                esc(&xa.unit),
                fmt_value(*y / ya.div),
                esc(&ya.unit)
            );
        }
    }
    legend(&mut svg, drawn.iter().map(|(i, n, _)| (*i, n.as_str())));
    svg.push_str("</svg>");
    format!("<h2>{}</h2>{svg}", esc(title))
}

/// Both axes with their ticks, grid lines and units.
fn axes(svg: &mut String, xa: &Axis, ya: &Axis, sx: &dyn Fn(f64) -> f64, sy: &dyn Fn(f64) -> f64) {
    y_grid(svg, ya, sy);
    for x in xa.ticks() {
        let _ = write!(
            svg,
            r##"<line x1="{0:.1}" y1="{1}" x2="{0:.1}" y2="{2}" stroke="#555"/><text class="tick x" x="{0:.1}" y="{3:.1}" font-size="10" text-anchor="middle">{4}</text>"##,
            sx(x),
            H - PAD,
            H - PAD + 4.0,
            H - PAD + 15.0,
            xa.label(x)
        );
    }
    let _ = write!(
        svg,
        r##"<line x1="{PAD}" y1="{0}" x2="{1}" y2="{0}" stroke="#555"/><line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{0}" stroke="#555"/><text x="{2:.1}" y="{3:.1}" font-size="10" text-anchor="middle">{4}</text><text x="6" y="{5:.1}" font-size="10">{6}</text>"##,
        H - PAD,
        W - PAD,
        W / 2.0,
        H - PAD + 30.0,
        if matches!(xa.unit.as_str(), "s" | "min" | "h") {
            format!("time ({})", esc(&xa.unit))
        } else {
            esc(&xa.unit)
        },
        PAD - 10.0,
        esc(&ya.unit)
    );
}

/// The y axis's ticks, each with its grid line.
pub(super) fn y_grid(svg: &mut String, ya: &Axis, sy: &dyn Fn(f64) -> f64) {
    for y in ya.ticks() {
        let _ = write!(
            svg,
            r##"<line class="grid" x1="{PAD}" y1="{0:.1}" x2="{1}" y2="{0:.1}" stroke="#e4e4e4"/><text class="tick y" x="{2:.1}" y="{3:.1}" font-size="10" text-anchor="end">{4}</text>"##,
            sy(y),
            W - PAD,
            PAD - 5.0,
            sy(y) + 3.0,
            ya.label(y)
        );
    }
}

/// The legend along the top: a sample of each drawn series' line and its name.
pub(super) fn legend<'a>(svg: &mut String, entries: impl Iterator<Item = (usize, &'a str)>) {
    let mut x = PAD + 30.0;
    for (i, name) in entries {
        let color = COLORS[i % COLORS.len()];
        let _ = write!(
            svg,
            r##"<g class="legend"><line x1="{x:.1}" y1="14" x2="{:.1}" y2="14" stroke="{color}" stroke-width="2.5" stroke-dasharray="{}"/><text x="{:.1}" y="18" font-size="11" fill="#222">{}</text></g>"##,
            x + 22.0,
            DASHES[i % DASHES.len()],
            x + 26.0,
            esc(name)
        );
        x += 40.0 + 6.5 * name.chars().count() as f64;
    }
}

/// Horizontal bars, one per (label, value), each with its exact value as a tooltip.
pub fn bar_chart(title: &str, unit: &str, bars: &[(String, f64)]) -> String {
    let max = bars.iter().map(|b| b.1).fold(0.0, f64::max).max(1e-12);
    let h = 24.0 * bars.len() as f64 + 20.0;
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {W} {h}" width="{W}" height="{h}" role="img"><title>{}</title>"#,
        esc(title)
    );
    for (i, (label, v)) in bars.iter().enumerate() {
        let y = 10.0 + 24.0 * i as f64;
        let w = v / max * (W - 320.0);
        let _ = write!(
            svg,
            r##"<text x="180" y="{:.1}" font-size="11" text-anchor="end">{}</text><rect class="series bar" x="190" y="{y:.1}" width="{w:.1}" height="16" fill="{}"><title>{}: {} {}</title></rect><text x="{:.1}" y="{:.1}" font-size="11">{} {}</text>"##,
            y + 12.0,
            esc(label),
            COLORS[i % COLORS.len()],
            esc(label),
            fmt_value(*v),
            esc(unit),
            196.0 + w,
            y + 12.0,
            fmt_value(*v),
            esc(unit)
        );
    }
    svg.push_str("</svg>");
    format!("<h2>{}</h2>{svg}", esc(title))
}

/// `text` in lines of about `width` characters, broken at spaces.
pub(super) fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(l) if l.len() + 1 + word.len() <= width => {
                l.push(' ');
                l.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_1_2_5_steps_in_a_unit_chosen_for_the_range() {
        for (max, unit, shown, step, top) in [
            (5118.4, "ms", "s", 2.0, 6.0),
            (830.0, "ms", "ms", 200.0, 1000.0),
            (0.37, "ms", "ms", 0.1, 0.4),
            (22.0, "s", "s", 5.0, 25.0),
            (86_400.0, "s", "h", 5.0, 25.0),
            (1500.0, "s", "min", 5.0, 25.0),
        ] {
            let a = Axis::new(max, unit);
            assert_eq!(
                (a.unit.as_str(), a.step, a.top),
                (shown, step, top),
                "{max} {unit}"
            );
            let mantissa = a.step / 10f64.powf(a.step.log10().floor());
            assert!([1.0, 2.0, 5.0].iter().any(|m| (m - mantissa).abs() < 1e-9));
        }
        assert_eq!(Axis::new(5118.4, "ms").label(3000.0), "3");
        assert_eq!(Axis::new(0.37, "ms").label(0.2), "0.2");
    }

    /// WCAG's relative luminance and contrast ratio.
    fn contrast(hex: &str, against: (f64, f64, f64)) -> f64 {
        let c = |i: usize| {
            let v = u8::from_str_radix(&hex[i..i + 2], 16).unwrap() as f64 / 255.0;
            if v <= 0.03928 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        let l = 0.2126 * c(1) + 0.7152 * c(3) + 0.0722 * c(5);
        let bg = 0.2126 * against.0 + 0.7152 * against.1 + 0.0722 * against.2;
        (l.max(bg) + 0.05) / (l.min(bg) + 0.05)
    }

    #[test]
    fn every_series_colour_has_3_to_1_contrast_on_white() {
        for c in COLORS {
            assert!(
                contrast(c, (1.0, 1.0, 1.0)) >= 3.0,
                "{c}: {:.2}",
                contrast(c, (1.0, 1.0, 1.0))
            );
        }
    }

    #[test]
    fn a_day_of_seconds_is_drawn_as_at_most_600_points_keeping_peaks() {
        let pts: Vec<(f64, f64)> = (0..86_400).map(|s| (s as f64, (s % 977) as f64)).collect();
        let d = downsample(&pts);
        assert!(d.len() <= MAX_POINTS, "{}", d.len());
        assert_eq!(d.iter().map(|p| p.1).fold(0.0, f64::max), 976.0);
    }
}
