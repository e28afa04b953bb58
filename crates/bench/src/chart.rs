//! The PNG chart of `docs/benchmarks.png`: two panels of grouped bars, throughput and p99
//! latency per workload, ZooKeeper beside zk-node. Text needs a TTF file (registered at run
//! time through plotters' ab_glyph backend, so no fontconfig); without one the bars are
//! drawn without any text.

use std::path::Path;

use anyhow::{anyhow, Context as _};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One workload's pair of bars.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The workload.
    pub name: String,
    /// ZooKeeper's median.
    pub zookeeper: Option<f64>,
    /// zk-node's median.
    pub zk_node: Option<f64>,
}

/// What the chart shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChartData {
    /// ops/s (sessions/s for sessions).
    pub throughput: Vec<Group>,
    /// p99 latency in ms.
    pub p99: Vec<Group>,
}

const ZK_COLOR: RGBColor = RGBColor(0x4c, 0x72, 0xb0);
const OURS_COLOR: RGBColor = RGBColor(0xdd, 0x84, 0x52);
const FONT: &str = "sans-serif";

/// Registers the TTF at `path` as the chart's font; false if it cannot be read or parsed.
pub fn register_font(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    // plotters keeps fonts for the life of the process.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font(FONT, FontStyle::Normal, bytes).is_ok()
}

/// Draws the chart to `out` (PNG, 1200×900). `text`: whether a font was registered.
pub fn draw(data: &ChartData, out: &Path, text: bool, title: &str) -> anyhow::Result<()> {
    let root = BitMapBackend::new(out, (1200, 900)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let body = if text {
        root.titled(title, (FONT, 26)).map_err(|e| anyhow!("{e}"))?
    } else {
        root.clone()
    };
    let (top, bottom) = body.split_vertically(430);
    panel(
        &top,
        &data.throughput,
        "throughput (ops/s; sessions/s for sessions)",
        text,
    )?;
    panel(&bottom, &data.p99, "p99 latency (ms)", text)?;
    root.present()
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

fn panel(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    groups: &[Group],
    caption: &str,
    text: bool,
) -> anyhow::Result<()> {
    let n = groups.len().max(1);
    let ymax = groups
        .iter()
        .flat_map(|g| [g.zookeeper, g.zk_node])
        .flatten()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max)
        .max(1e-9)
        * 1.15;
    let mut builder = ChartBuilder::on(area);
    builder.margin(20);
    if text {
        builder
            .caption(caption, (FONT, 20))
            .x_label_area_size(40)
            .y_label_area_size(80);
    } else {
        builder.x_label_area_size(5).y_label_area_size(5);
    }
    let mut chart = builder
        .build_cartesian_2d(0f64..n as f64, 0f64..ymax)
        .map_err(|e| anyhow!("{e}"))?;
    {
        let mut mesh = chart.configure_mesh();
        mesh.disable_x_mesh()
            .x_labels(0)
            .light_line_style(WHITE.mix(0.0));
        if text {
            mesh.y_labels(8)
                .label_style((FONT, 14))
                .y_label_formatter(&|v| crate::compare::fmt_num(*v));
        } else {
            mesh.y_labels(0);
        }
        mesh.draw().map_err(|e| anyhow!("{e}"))?;
    }
    let bars = |pick: fn(&Group) -> Option<f64>, offset: f64, color: RGBColor| {
        groups
            .iter()
            .enumerate()
            .filter_map(move |(i, g)| pick(g).map(|v| (i, v)))
            .map(move |(i, v)| {
                let x0 = i as f64 + offset;
                Rectangle::new([(x0, 0.0), (x0 + 0.36, v)], color.filled())
            })
    };
    let zk = chart
        .draw_series(bars(|g| g.zookeeper, 0.12, ZK_COLOR))
        .map_err(|e| anyhow!("{e}"))?;
    if text {
        zk.label("ZooKeeper 3.8")
            .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], ZK_COLOR.filled()));
    }
    let ours = chart
        .draw_series(bars(|g| g.zk_node, 0.52, OURS_COLOR))
        .map_err(|e| anyhow!("{e}"))?;
    if text {
        ours.label("zk-node")
            .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], OURS_COLOR.filled()));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font((FONT, 15))
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        // Values over the bars and workload names under each group.
        let value_style =
            TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
        for (i, g) in groups.iter().enumerate() {
            for (v, off) in [(g.zookeeper, 0.30), (g.zk_node, 0.70)] {
                if let Some(v) = v {
                    chart
                        .draw_series(std::iter::once(Text::new(
                            crate::compare::fmt_num(v),
                            (i as f64 + off, v),
                            value_style.clone(),
                        )))
                        .map_err(|e| anyhow!("{e}"))?;
                }
            }
        }
        let name_style =
            TextStyle::from((FONT, 16).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        // backend_coord is in the image's pixels; the area draws relative to its corner.
        let (bx, by) = area.get_base_pixel();
        for (i, g) in groups.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
            area.draw(&Text::new(
                g.name.clone(),
                (px - bx, py - by + 8),
                name_style.clone(),
            ))
            .map_err(|e| anyhow!("{e}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> ChartData {
        let g = |n: &str, a, b| Group {
            name: n.into(),
            zookeeper: a,
            zk_node: b,
        };
        ChartData {
            throughput: vec![
                g("create", Some(9000.0), Some(7000.0)),
                g("get", Some(40000.0), None),
            ],
            p99: vec![g("create", Some(12.5), Some(20.0))],
        }
    }

    #[test]
    fn draws_a_png_without_a_font() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("c.png");
        draw(&data(), &out, false, "t").expect("drawn");
        let bytes = std::fs::read(&out).expect("written");
        assert_eq!(&bytes[1..4], b"PNG");
    }

    #[test]
    fn draws_a_png_with_the_debian_font_when_installed() {
        let font = Path::new("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf");
        if !register_font(font) {
            return; // fonts-dejavu-core not installed here: the no-font test covers drawing.
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("c.png");
        draw(&data(), &out, true, "zk-node vs ZooKeeper").expect("drawn");
        assert!(std::fs::metadata(&out).expect("written").len() > 1000);
    }

    #[test]
    fn a_missing_font_is_reported() {
        assert!(!register_font(Path::new("/nonexistent/font.ttf")));
    }
}
