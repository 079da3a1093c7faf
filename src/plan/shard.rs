//! One shard of a run split over several processes (`--shard I/N`): which arrivals,
//! sessions and closed-mode users are this shard's, and its share of the spend guard.
//! Shard `I` of `N` takes every arrival and every user whose index is `I` modulo `N`,
//! so the shards' union is the single process's schedule, arrival for arrival, each
//! with the same session keys and so the same prompts.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// From 0, as Kubernetes' `JOB_COMPLETION_INDEX` counts.
    pub index: u32,
    pub count: u32,
}

/// Shards a run may be split into.
pub const MAX_SHARDS: u32 = 10_000;

impl Shard {
    /// The whole run, unsplit.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 || count > MAX_SHARDS {
            return Err(format!(
                "the number of shards must be 1 to {MAX_SHARDS}, not {count}"
            ));
        }
        if index >= count {
            return Err(format!(
                "shard {index}/{count}: shards are numbered from 0 to {}",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// `I/N`, as `--shard` and `LLM_DRILL_SHARD` give it.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("`{text}` is not a shard: write I/N, e.g. 0/4 (I from 0 to N-1)");
        let (i, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let i = i.trim().parse().map_err(|_| bad())?;
        let n = n.trim().parse().map_err(|_| bad())?;
        Shard::new(i, n)
    }

    /// Whether arrival, session or user number `i` (of the whole run) is this shard's.
    pub fn owns(&self, i: u64) -> bool {
        i % self.count as u64 == self.index as u64
    }

    /// This shard's part of a count split as evenly as it divides: the first
    /// `total % N` shards take one more.
    pub fn part(&self, total: u64) -> u64 {
        let n = self.count as u64;
        total / n + u64::from((self.index as u64) < total % n)
    }

    /// This shard's part of an amount of money.
    pub fn part_usd(&self, total: f64) -> f64 {
        total / self.count as f64
    }

    pub fn is_whole(&self) -> bool {
        self.count == 1
    }

    /// The shard a process runs, from the first source that names one: `--shard I/N`,
    /// then `LLM_DRILL_SHARD=I/N`, then Kubernetes' `JOB_COMPLETION_INDEX` with
    /// `--shards N`. None of them: not a shard (`None`). The values are passed in, so
    /// that this reads no environment itself.
    pub fn choose(
        flag: Option<&str>,
        shards: Option<u32>,
        env_shard: Option<&str>,
        job_completion_index: Option<&str>,
    ) -> Result<Option<Shard>, String> {
        if let Some(text) = flag {
            return Shard::parse(text)
                .map(Some)
                .map_err(|e| format!("--shard: {e}"));
        }
        if let Some(text) = env_shard.filter(|t| !t.trim().is_empty()) {
            return Shard::parse(text)
                .map(Some)
                .map_err(|e| format!("LLM_DRILL_SHARD: {e}"));
        }
        match (shards, job_completion_index) {
            (None, _) => Ok(None),
            (Some(n), Some(index)) => {
                let i = index.trim().parse().map_err(|_| {
                    format!("JOB_COMPLETION_INDEX: `{index}` is not a shard number")
                })?;
                Shard::new(i, n)
                    .map(Some)
                    .map_err(|e| format!("--shards with JOB_COMPLETION_INDEX: {e}"))
            }
            (Some(_), None) => Err(
                "--shards N takes this shard's number from JOB_COMPLETION_INDEX (set by a Kubernetes Indexed Job), which is not set: give --shard I/N instead".into(),
            ),
        }
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_refuse_with_the_reason() {
        assert_eq!(Shard::parse(" 3/4 "), Ok(Shard { index: 3, count: 4 }));
        for (bad, says) in [
            ("4/4", "numbered from 0 to 3"),
            ("1/0", "must be 1 to"),
            ("2", "write I/N"),
            ("a/4", "write I/N"),
            ("-1/4", "write I/N"),
            ("1/100000", "must be 1 to"),
        ] {
            let e = Shard::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn the_flag_comes_before_the_environment_and_kubernetes_index() {
        let pick = |f, n, e, j| Shard::choose(f, n, e, j);
        assert_eq!(pick(None, None, None, Some("3")), Ok(None));
        assert_eq!(
            pick(Some("1/2"), Some(8), Some("5/6"), Some("3")),
            Shard::new(1, 2).map(Some)
        );
        assert_eq!(
            pick(None, Some(8), Some("5/6"), Some("3")),
            Shard::new(5, 6).map(Some)
        );
        assert_eq!(
            pick(None, Some(8), None, Some("3")),
            Shard::new(3, 8).map(Some)
        );
        assert!(pick(None, Some(8), None, None)
            .unwrap_err()
            .contains("JOB_COMPLETION_INDEX"));
        assert!(pick(None, Some(8), None, Some("8"))
            .unwrap_err()
            .contains("0 to 7"));
        assert!(pick(None, None, Some("x"), None)
            .unwrap_err()
            .starts_with("LLM_DRILL_SHARD"));
        assert!(pick(Some("9/2"), None, None, None)
            .unwrap_err()
            .starts_with("--shard"));
    }

    #[test]
    fn the_shards_partition_every_index_and_every_count() {
        for n in 1..=7u32 {
            let shards: Vec<Shard> = (0..n).map(|i| Shard::new(i, n).unwrap()).collect();
            for i in 0..100u64 {
                assert_eq!(shards.iter().filter(|s| s.owns(i)).count(), 1, "{i} of {n}");
            }
            for total in [0u64, 1, 5, 63, 64, 1000] {
                let parts: Vec<u64> = shards.iter().map(|s| s.part(total)).collect();
                assert_eq!(parts.iter().sum::<u64>(), total, "{total} over {n}");
                let (lo, hi) = (parts.iter().min().unwrap(), parts.iter().max().unwrap());
                assert!(hi - lo <= 1, "{parts:?}");
                // The part is the number of indices below `total` the shard owns.
                for s in &shards {
                    assert_eq!(
                        s.part(total),
                        (0..total).filter(|&i| s.owns(i)).count() as u64
                    );
                }
            }
        }
    }
}
