//! HdrHistogram interval logs (`.hlog`): per metric, one histogram per second and
//! endpoint (tagged with the endpoint's id), in the format HdrHistogram's Java tools and
//! HistogramLogAnalyzer read: a version line, the start time, the legend, then one
//! compressed histogram per line. Values are microseconds.
//!
//! Each interval is serialized when its second closes, and the lines go to an unnamed
//! file in the results folder once they pass [`SPOOL_BYTES`]: a day-long run's memory
//! holds neither a histogram per second nor the log's text (about 2 KB a second).

use super::{new_histogram, record_us, CallSample};
use crate::outcome::Outcome;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::time::Instant;

/// Interval lines held in memory before they are appended to the log's spool file.
pub const SPOOL_BYTES: usize = 64 * 1024;

/// One log's interval lines: in memory up to [`SPOOL_BYTES`], then appended to an
/// unnamed file (unlinked from the start, so a killed run leaves nothing behind). When
/// the file cannot be made or written, the lines stay in memory: none is ever lost.
struct Spool {
    dir: Option<PathBuf>,
    /// [`SPOOL_BYTES`], smaller in tests.
    limit: usize,
    buf: Vec<u8>,
    file: Option<File>,
    /// Bytes safely in the file.
    spilled: u64,
}

impl Spool {
    fn new(dir: Option<&Path>) -> Spool {
        Spool {
            dir: dir.map(Path::to_path_buf),
            limit: SPOOL_BYTES,
            buf: Vec::new(),
            file: None,
            spilled: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.spilled == 0 && self.buf.is_empty()
    }

    fn spill_when_full(&mut self) {
        if self.buf.len() < self.limit {
            return;
        }
        if self.file.is_none() {
            self.file = self
                .dir
                .as_deref()
                .and_then(|d| tempfile::tempfile_in(d).ok());
        }
        let Some(f) = &mut self.file else { return };
        if f.write_all(&self.buf).is_ok() {
            self.spilled += self.buf.len() as u64;
            self.buf.clear();
        } else if f.set_len(self.spilled).is_err() || f.seek(SeekFrom::End(0)).is_err() {
            // A half-written spill that cannot be cut back: stop spilling.
            self.file = None;
        }
    }

    /// Everything logged so far, in order.
    fn copy_to(&self, out: &mut dyn Write) -> io::Result<()> {
        if let Some(mut f) = self.file.as_ref() {
            f.seek(SeekFrom::Start(0))?;
            io::copy(&mut io::Read::take(f, self.spilled), out)?;
            f.seek(SeekFrom::End(0))?;
        }
        out.write_all(&self.buf)
    }
}

/// The metrics logged, in file order.
pub const METRICS: [&str; 4] = ["latency", "service_time", "ttft", "itl"];

pub struct IntervalLogs {
    tags: Vec<String>,
    second: Option<u64>,
    /// Per endpoint, per metric: the open interval.
    current: Vec<[Histogram<u64>; 4]>,
    /// Per metric: the log's interval lines so far.
    logs: [Spool; 4],
    serializer: V2DeflateSerializer,
}

impl IntervalLogs {
    /// Logs whose lines spill into unnamed files in `spool_dir` (the results folder), or
    /// stay in memory without one.
    pub fn new(endpoint_ids: &[String], spool_dir: Option<&Path>) -> IntervalLogs {
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
            logs: std::array::from_fn(|_| Spool::new(spool_dir)),
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
                if let Ok(mut w) = IntervalLogWriterBuilder::new()
                    .begin_log_with(&mut log.buf, &mut self.serializer)
                {
                    let _ = w.write_histogram(
                        h,
                        Duration::from_secs(second),
                        Duration::from_secs(1),
                        Tag::new(tag),
                    );
                }
                h.reset();
                log.spill_when_full();
            }
        }
    }

    /// Whether metric `i` logged any interval.
    pub fn has(&self, i: usize) -> bool {
        !self.logs[i].is_empty()
    }

    /// Writes the whole log of metric `i`: version, start time and legend, then the
    /// intervals.
    pub fn write(
        &self,
        i: usize,
        started: std::time::SystemTime,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        header(i, started, out)?;
        self.logs[i].copy_to(out)
    }
}

/// A log's first lines: what it is, its format version, start time and legend.
fn header(i: usize, started: std::time::SystemTime, out: &mut dyn Write) -> io::Result<()> {
    let epoch = started
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    write!(
        out,
        "#[llm-drill {} interval log: microseconds, one histogram per second and endpoint]\n#[Histogram log format version 1.3]\n#[StartTime: {epoch:.3} (seconds since epoch)]\n\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n",
        METRICS[i]
    )
}

/// Several shards' logs of metric `i` as one log: the histograms of each second and
/// endpoint tag added together. The shards started their schedules together
/// (`--start-at`), so their seconds are the same seconds; the log starts at the
/// earliest of their start times.
pub fn merge_logs(i: usize, logs: &[Vec<u8>], out: &mut dyn Write) -> Result<(), String> {
    use base64::Engine as _;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let mut started: Option<Duration> = None;
    let mut merged: std::collections::BTreeMap<(Duration, String), Histogram<u64>> =
        std::collections::BTreeMap::new();
    for (n, log) in logs.iter().enumerate() {
        for entry in IntervalLogIterator::new(log) {
            let entry = entry.map_err(|e| format!("{} of shard {n}: {e:?}", METRICS[i]))?;
            let h = match entry {
                LogEntry::Interval(h) => h,
                LogEntry::StartTime(t) => {
                    started = Some(started.map_or(t, |s| s.min(t)));
                    continue;
                }
                LogEntry::BaseTime(_) => continue,
            };
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(h.encoded_histogram())
                .map_err(|e| format!("{} of shard {n}: {e}", METRICS[i]))?;
            let hist = super::state::decode(&bytes)?;
            let tag = h.tag().map_or(String::new(), |t| t.as_str().to_string());
            match merged.entry((h.start_timestamp(), tag)) {
                std::collections::btree_map::Entry::Occupied(mut o) => {
                    super::state::add(o.get_mut(), &hist)
                }
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(hist);
                }
            }
        }
    }
    let mut lines = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    if let Ok(mut w) = IntervalLogWriterBuilder::new().begin_log_with(&mut lines, &mut serializer) {
        for ((at, tag), h) in &merged {
            let _ = w.write_histogram(h, *at, Duration::from_secs(1), Tag::new(tag));
        }
    }
    let started = std::time::UNIX_EPOCH + started.unwrap_or_default();
    header(i, started, out)
        .and_then(|()| out.write_all(&lines))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten minutes of seconds, logged with and without a spool folder (spilling every
    /// 4 KiB).
    fn ten_minutes(spool_dir: Option<&Path>) -> IntervalLogs {
        let mut logs = IntervalLogs::new(&["a".into(), "b, c".into()], spool_dir);
        for log in &mut logs.logs {
            log.limit = 4096;
        }
        let mut s = crate::recorder::tests::sample(0, 0, Outcome::Ok, &[(0, Outcome::Ok)]);
        let start = s.intended;
        for second in 0..600u64 {
            for (i, endpoint) in [0, 1, 0].into_iter().enumerate() {
                let at = start + Duration::from_millis(second * 1_000 + 1 + i as u64);
                s.endpoint = endpoint;
                s.intended = at;
                s.started = at;
                s.first_token = Some(at + Duration::from_micros(second + 1));
                s.end = at + Duration::from_micros(3 * second + 7);
                logs.record(start, &s);
            }
        }
        logs.flush();
        logs
    }

    fn written(logs: &IntervalLogs, i: usize) -> Vec<u8> {
        let mut out = Vec::new();
        logs.write(i, std::time::UNIX_EPOCH, &mut out).unwrap();
        out
    }

    #[test]
    fn a_spooled_log_is_written_whole_and_memory_keeps_only_its_tail() {
        let dir = tempfile::tempdir().unwrap();
        let spooled = ten_minutes(Some(dir.path()));
        let in_memory = ten_minutes(None);
        for (i, metric) in METRICS.iter().enumerate() {
            let log = written(&spooled, i);
            assert_eq!(log, written(&in_memory, i), "{metric}");
            // Two endpoints a second, each line read back by HdrHistogram's reader.
            let lines = hdrhistogram::serialization::interval_log::IntervalLogIterator::new(&log)
                .filter(|e| {
                    matches!(
                        e,
                        Ok(hdrhistogram::serialization::interval_log::LogEntry::Interval(_))
                    )
                })
                .count();
            assert_eq!(lines, 1_200, "{metric}");
            assert!(spooled.logs[i].spilled > 0, "{metric}");
            assert!(spooled.logs[i].buf.len() < 4096);
            assert_eq!(in_memory.logs[i].spilled, 0);
        }
        // Written twice, the same: writing leaves the spool where it was.
        assert_eq!(written(&spooled, 0), written(&spooled, 0));
        // The spool files are unnamed: nothing is left in the folder.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
