//! HdrHistogram interval logs (`.hlog`): per metric, one histogram per second and
//! endpoint (tagged with the endpoint's id), in the format HdrHistogram's Java tools and
//! HistogramLogAnalyzer read: a version line, the start time, the legend, then one
//! compressed histogram per line. Values are microseconds.
//!
//! Each interval is serialized when its second closes, so memory holds the log text,
//! not a histogram per second.

use super::{new_histogram, record_us, CallSample};
use crate::outcome::Outcome;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;
use std::time::Duration;
use tokio::time::Instant;

/// The metrics logged, in file order.
pub const METRICS: [&str; 4] = ["latency", "service_time", "ttft", "itl"];

pub struct IntervalLogs {
    tags: Vec<String>,
    second: Option<u64>,
    /// Per endpoint, per metric: the open interval.
    current: Vec<[Histogram<u64>; 4]>,
    /// Per metric: the log's interval lines so far.
    pub logs: [Vec<u8>; 4],
    serializer: V2DeflateSerializer,
}

impl IntervalLogs {
    pub fn new(endpoint_ids: &[String]) -> IntervalLogs {
        IntervalLogs {
            // A tag may not hold spaces or commas.
            tags: endpoint_ids
                .iter()
                .map(|id| id.replace([' ', ','], "_"))
                .collect(),
            second: None,
            current: endpoint_ids
                .iter()
                .map(|_| std::array::from_fn(|_| new_histogram()))
                .collect(),
            logs: Default::default(),
            serializer: V2DeflateSerializer::new(),
        }
    }

    pub fn record(&mut self, start: Instant, s: &CallSample) {
        if s.outcome != Outcome::Ok {
            return;
        }
        let second = s.end.saturating_duration_since(start).as_secs();
        if self.second.is_some_and(|c| second > c) {
            self.flush();
        }
        self.second.get_or_insert(second);
        let Some(h) = self.current.get_mut(s.endpoint) else {
            return;
        };
        let us = |d: Duration| d.as_micros() as u64;
        record_us(&mut h[0], us(s.end.saturating_duration_since(s.intended)));
        record_us(&mut h[1], us(s.end.saturating_duration_since(s.started)));
        if let Some(ft) = s.first_token {
            record_us(&mut h[2], us(ft.saturating_duration_since(s.intended)));
        }
        for gap in &s.itl_us {
            record_us(&mut h[3], *gap);
        }
    }

    /// Writes the open second's histograms to the logs.
    pub fn flush(&mut self) {
        let Some(second) = self.second.take() else {
            return;
        };
        for (tag, hists) in self.tags.iter().zip(&mut self.current) {
            for (log, h) in self.logs.iter_mut().zip(hists.iter_mut()) {
                if h.is_empty() {
                    continue;
                }
                if let Ok(mut w) =
                    IntervalLogWriterBuilder::new().begin_log_with(log, &mut self.serializer)
                {
                    let _ = w.write_histogram(
                        h,
                        Duration::from_secs(second),
                        Duration::from_secs(1),
                        Tag::new(tag),
                    );
                }
                h.reset();
            }
        }
    }

    /// The whole log of metric `i`: version, start time and legend, then the intervals.
    pub fn render(&self, i: usize, started: std::time::SystemTime) -> Vec<u8> {
        let epoch = started
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let mut out = format!(
            "#[llm-drill {} interval log: microseconds, one histogram per second and endpoint]\n#[Histogram log format version 1.3]\n#[StartTime: {epoch:.3} (seconds since epoch)]\n\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n",
            METRICS[i]
        )
        .into_bytes();
        out.extend_from_slice(&self.logs[i]);
        out
    }
}
