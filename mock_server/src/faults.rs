//! The fault schedule of one endpoint: rate limits, server errors, outages, added
//! latency, cut streams and deprecation, each in a time window and/or with a probability.
//! One type serves both sides: the mock acts the faults out as real HTTP behaviour, and
//! llm-drill's client injects the same schedule before a request leaves for a real
//! endpoint (nothing is sent, nothing is billed).
//!
//! Pure decisions from (time into the run, request number): no clock, no I/O, so the
//! same seed always faults the same requests.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutageMode {
    /// Connections are refused (the mock closes them before any response).
    Refuse,
    /// Requests are accepted and never answered.
    Hang,
    /// Every request is answered 503.
    Unavailable,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delay {
    /// Before the first token: everything after moves with it.
    Ttft,
    /// After the last token, before the answer ends.
    End,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// 429 with the provider's body and `retry-after` headers.
    RateLimit {
        retry_after: Duration,
    },
    /// The status (500, 502, 503, 529, ...) with the provider's body.
    ServerError {
        status: u16,
    },
    Outage {
        mode: OutageMode,
    },
    Latency {
        add: Duration,
        to: Delay,
    },
    /// The stream stops after this many tokens (which were generated and billed).
    StreamCut {
        after_tokens: Option<u32>,
    },
    /// The model is gone: 404 (or 410) `model_not_found`.
    Deprecated {
        status: u16,
    },
}

impl FaultKind {
    /// As written in a scenario's `kind`.
    pub fn key(&self) -> &'static str {
        match self {
            FaultKind::RateLimit { .. } => "rate_limit",
            FaultKind::ServerError { .. } => "server_error",
            FaultKind::Outage { .. } => "outage",
            FaultKind::Latency { .. } => "latency",
            FaultKind::StreamCut { .. } => "stream_cut",
            FaultKind::Deprecated { .. } => "deprecated",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub kind: FaultKind,
    /// Active from this far into the run...
    pub from: Duration,
    /// ...until this far (to the end when absent).
    pub until: Option<Duration>,
    /// Share of requests in the window it hits (1 = all).
    pub probability: f64,
}

impl Fault {
    pub fn active(&self, at: Duration) -> bool {
        at >= self.from && self.until.is_none_or(|u| at < u)
    }
}

/// What the faults do to one request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decision {
    /// Refuse, hang, or answer with an error instead of the answer.
    pub fail: Option<Failure>,
    pub add_ttft: Duration,
    pub add_end: Duration,
    /// Cut the answer after this many tokens.
    pub cut_after: Option<u32>,
    /// The kinds that hit, for the counts.
    pub hits: Vec<&'static str>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Failure {
    Refuse,
    Hang,
    /// An error status: 429 (with its wait), 5xx, or 404/410 for a deprecated model.
    Status {
        status: u16,
        retry_after: Option<Duration>,
        deprecated: bool,
    },
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultSchedule {
    pub faults: Vec<Fault>,
    pub seed: u64,
}

impl FaultSchedule {
    pub fn is_empty(&self) -> bool {
        self.faults.is_empty()
    }

    /// Whether connections are being refused at `at`.
    pub fn refusing(&self, at: Duration) -> bool {
        self.faults.iter().any(|f| {
            matches!(
                f.kind,
                FaultKind::Outage {
                    mode: OutageMode::Refuse
                }
            ) && f.active(at)
        })
    }

    /// What the faults do to request number `index`, arriving `at` into the run. The
    /// strongest failure wins (outage, then deprecation, rate limit, server error);
    /// latency and cuts apply to answers that still go out.
    pub fn decide(&self, at: Duration, index: u64) -> Decision {
        let mut d = Decision::default();
        let mut rank = 0;
        for (i, f) in self.faults.iter().enumerate() {
            if !f.active(at) || !hits(self.seed, i as u64, index, f.probability) {
                continue;
            }
            let (r, fail) = match &f.kind {
                FaultKind::Outage { mode } => (
                    4,
                    Some(match mode {
                        OutageMode::Refuse => Failure::Refuse,
                        OutageMode::Hang => Failure::Hang,
                        OutageMode::Unavailable => Failure::Status {
                            status: 503,
                            retry_after: None,
                            deprecated: false,
                        },
                    }),
                ),
                FaultKind::Deprecated { status } => (
                    3,
                    Some(Failure::Status {
                        status: *status,
                        retry_after: None,
                        deprecated: true,
                    }),
                ),
                FaultKind::RateLimit { retry_after } => (
                    2,
                    Some(Failure::Status {
                        status: 429,
                        retry_after: Some(*retry_after),
                        deprecated: false,
                    }),
                ),
                FaultKind::ServerError { status } => (
                    1,
                    Some(Failure::Status {
                        status: *status,
                        retry_after: None,
                        deprecated: false,
                    }),
                ),
                FaultKind::Latency { add, to } => {
                    match to {
                        Delay::Ttft => d.add_ttft += *add,
                        Delay::End => d.add_end += *add,
                    }
                    (0, None)
                }
                FaultKind::StreamCut { after_tokens } => {
                    d.cut_after = Some(after_tokens.unwrap_or(u32::MAX));
                    (0, None)
                }
            };
            d.hits.push(f.kind.key());
            if fail.is_some() && r > rank {
                rank = r;
                d.fail = fail;
            }
        }
        d
    }
}

/// A seeded coin for fault `fault` on request `index`.
fn hits(seed: u64, fault: u64, index: u64, probability: f64) -> bool {
    if probability >= 1.0 {
        return true;
    }
    let mut z = seed
        ^ fault.wrapping_mul(0xD6E8_FEB8_6659_FD93)
        ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    ((z >> 11) as f64 / (1u64 << 53) as f64) < probability
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(faults: Vec<Fault>) -> FaultSchedule {
        FaultSchedule { faults, seed: 3 }
    }

    #[test]
    fn windows_and_precedence() {
        let sec = Duration::from_secs;
        let sched = s(vec![
            Fault {
                kind: FaultKind::Outage {
                    mode: OutageMode::Refuse,
                },
                from: sec(20),
                until: Some(sec(35)),
                probability: 1.0,
            },
            Fault {
                kind: FaultKind::RateLimit {
                    retry_after: sec(2),
                },
                from: sec(0),
                until: None,
                probability: 1.0,
            },
        ]);
        assert!(!sched.refusing(sec(19)));
        assert!(sched.refusing(sec(20)));
        assert!(!sched.refusing(sec(35)));
        assert_eq!(sched.decide(sec(25), 1).fail, Some(Failure::Refuse));
        assert!(matches!(
            sched.decide(sec(5), 1).fail,
            Some(Failure::Status { status: 429, .. })
        ));
    }

    #[test]
    fn probabilities_are_seeded_and_close() {
        let sched = s(vec![Fault {
            kind: FaultKind::ServerError { status: 503 },
            from: Duration::ZERO,
            until: None,
            probability: 0.1,
        }]);
        let hit = (0..20_000)
            .filter(|i| sched.decide(Duration::from_secs(1), *i).fail.is_some())
            .count();
        assert!((1_800..2_200).contains(&hit), "{hit}");
        let again = (0..20_000)
            .filter(|i| sched.decide(Duration::from_secs(1), *i).fail.is_some())
            .count();
        assert_eq!(hit, again);
    }
}
