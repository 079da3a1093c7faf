//! The server's own timing, as endpoints and gateways report it in response headers:
//! what the model took by its own clock (`openai-processing-ms`, which OpenAI and Azure
//! OpenAI send), what a gateway says it added (LiteLLM's
//! `x-litellm-overhead-duration-ms`), what Envoy measured upstream
//! (`x-envoy-upstream-service-time`, also sent by Azure AI Foundry), W3C
//! `server-timing` (its `dur=` values, summed), and `req-cost-time` (sent by some
//! Chinese cloud gateways). All are milliseconds. Bedrock says it in its answer instead
//! (`metrics.latencyMs`), recorded under that name.

use hyper::HeaderMap;

/// The timings llm-drill reads, by their names as reported: headers, then Bedrock's
/// field of its answer.
pub const NAMES: [&str; 6] = [
    "openai-processing-ms",
    "x-litellm-overhead-duration-ms",
    "x-envoy-upstream-service-time",
    "server-timing",
    "req-cost-time",
    BODY_LATENCY,
];

/// Bedrock's own latency, from the answer's body (a stream's `metadata` event).
pub const BODY_LATENCY: &str = "metrics.latencyMs";

/// One attempt's reported timings, by `NAMES` index; NaN where the header was absent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ServerTimings(pub [f32; NAMES.len()]);

impl Default for ServerTimings {
    fn default() -> Self {
        ServerTimings([f32::NAN; NAMES.len()])
    }
}

impl ServerTimings {
    /// What `headers` report; `None` when they report nothing.
    pub fn of(headers: &HeaderMap) -> Option<ServerTimings> {
        let mut t = ServerTimings::default();
        let mut any = false;
        // One pass over the answer's few headers, comparing names, rather than a lookup
        // (the name parsed and hashed) for each of the five: every call does this.
        let mut seen = [false; NAMES.len()];
        for (name, value) in headers {
            let Some(i) = NAMES.iter().position(|n| *n == name.as_str()) else {
                continue;
            };
            // The first value of a name, as `HeaderMap::get` would give.
            if std::mem::replace(&mut seen[i], true) || NAMES[i] == BODY_LATENCY {
                continue;
            }
            let Ok(v) = value.to_str() else { continue };
            let ms = if NAMES[i] == "server-timing" {
                server_timing(v)
            } else {
                v.trim().parse::<f64>().ok()
            };
            if let Some(ms) = ms.filter(|m| m.is_finite() && *m >= 0.0) {
                t.0[i] = ms as f32;
                any = true;
            }
        }
        any.then_some(t)
    }

    /// Adds the latency an answer's body reported.
    pub fn with_body_latency(timings: Option<ServerTimings>, ms: f64) -> Option<ServerTimings> {
        if !ms.is_finite() || ms < 0.0 {
            return timings;
        }
        let mut t = timings.unwrap_or_default();
        t.0[NAMES.len() - 1] = ms as f32;
        Some(t)
    }

    /// The timings present, by `NAMES` index.
    pub fn present(&self) -> impl Iterator<Item = (usize, f64)> + '_ {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.is_nan())
            .map(|(i, v)| (i, *v as f64))
    }
}

/// The `dur=` values of a `server-timing` header, summed (`db;dur=53, app;dur=47.2`).
fn server_timing(v: &str) -> Option<f64> {
    let durs: Vec<f64> = v
        .split(',')
        .flat_map(|metric| metric.split(';'))
        .filter_map(|p| p.trim().strip_prefix("dur=")?.trim().parse().ok())
        .collect();
    (!durs.is_empty()).then(|| durs.iter().sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_timing_header_is_read_in_milliseconds() {
        let mut h = HeaderMap::new();
        h.insert("openai-processing-ms", "123".parse().unwrap());
        h.insert("x-litellm-overhead-duration-ms", "2.4".parse().unwrap());
        h.insert("x-envoy-upstream-service-time", " 45 ".parse().unwrap());
        h.insert(
            "server-timing",
            "upstream;dur=12.5, gw;desc=\"x\";dur=2".parse().unwrap(),
        );
        let t = ServerTimings::of(&h).unwrap();
        let got: Vec<(usize, f64)> = t
            .present()
            .map(|(i, v)| (i, (v * 10.0).round() / 10.0))
            .collect();
        assert_eq!(got, vec![(0, 123.0), (1, 2.4), (2, 45.0), (3, 14.5)]);
        h.clear();
        h.insert(
            "server-timing",
            "miss, db;desc=\"no duration\"".parse().unwrap(),
        );
        h.insert("openai-processing-ms", "soon".parse().unwrap());
        assert_eq!(ServerTimings::of(&h), None);
    }

    #[test]
    fn a_repeated_header_counts_by_its_first_value_and_the_body_name_is_not_a_header() {
        let mut h = HeaderMap::new();
        h.append("openai-processing-ms", "soon".parse().unwrap());
        h.append("openai-processing-ms", "5".parse().unwrap());
        h.append("x-envoy-upstream-service-time", "7".parse().unwrap());
        h.append("x-envoy-upstream-service-time", "9".parse().unwrap());
        h.append(
            BODY_LATENCY
                .to_lowercase()
                .as_str()
                .parse::<hyper::header::HeaderName>()
                .unwrap(),
            "3".parse().unwrap(),
        );
        let t = ServerTimings::of(&h).unwrap();
        let got: Vec<(usize, f64)> = t.present().collect();
        assert_eq!(got, vec![(2, 7.0)]);
    }
}
