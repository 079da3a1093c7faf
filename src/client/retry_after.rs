//! How long an endpoint asks the client to wait: `retry-after-ms` (Azure, OpenAI), else
//! `retry-after` in seconds or as an HTTP date. Whatever a header says, the answer is a
//! duration no longer than `cap` — never a panic, however large or odd the value.

use hyper::header::HeaderMap;
use std::time::{Duration, SystemTime};

/// The wait asked for, at most `cap`; `None` when no header says anything readable.
pub fn retry_after(headers: &HeaderMap, cap: Duration) -> Option<Duration> {
    retry_after_at(headers, cap, SystemTime::now())
}

fn retry_after_at(headers: &HeaderMap, cap: Duration, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        if let Some(d) = seconds(ms / 1000.0, cap) {
            return Some(d);
        }
    }
    let v = text("retry-after")?;
    if let Ok(secs) = v.parse::<f64>() {
        return seconds(secs, cap);
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO).min(cap))
}

/// A non-negative, finite number of seconds as a duration, capped before it is
/// converted (`Duration::from_secs_f64` panics past about 1.8e19 s).
fn seconds(secs: f64, cap: Duration) -> Option<Duration> {
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(secs.min(cap.as_secs_f64())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    const CAP: Duration = Duration::from_secs(5);

    #[test]
    fn milliseconds_win_over_seconds() {
        let h = headers(&[("retry-after-ms", "300"), ("retry-after", "5")]);
        assert_eq!(retry_after(&h, CAP), Some(Duration::from_millis(300)));
        let h = headers(&[("retry-after", "2")]);
        assert_eq!(retry_after(&h, CAP), Some(Duration::from_secs(2)));
        let h = headers(&[("retry-after-ms", "nonsense"), ("retry-after", "1.5")]);
        assert_eq!(retry_after(&h, CAP), Some(Duration::from_millis(1500)));
        assert_eq!(retry_after(&HeaderMap::new(), CAP), None);
    }

    #[test]
    fn issue_11_huge_and_odd_values_are_capped_never_a_panic() {
        for v in ["1e20", "1e300", "18446744073709551616", "inf"] {
            let h = headers(&[("retry-after", v)]);
            let got = retry_after(&h, CAP);
            assert!(got.is_none() || got == Some(CAP), "{v}: {got:?}");
            let h = headers(&[("retry-after-ms", v)]);
            let got = retry_after(&h, CAP);
            assert!(got.is_none() || got == Some(CAP), "{v} ms: {got:?}");
        }
        assert_eq!(
            retry_after(&headers(&[("retry-after", "1e20")]), CAP),
            Some(CAP)
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "-3")]), CAP), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "NaN")]), CAP), None);
    }

    #[test]
    fn http_dates_count_from_now() {
        let now = httpdate::parse_http_date("Tue, 01 Dec 2026 12:00:00 GMT").unwrap();
        let h = headers(&[("retry-after", "Tue, 01 Dec 2026 12:00:03 GMT")]);
        assert_eq!(retry_after_at(&h, CAP, now), Some(Duration::from_secs(3)));
        // In the past: no wait. Far in the future: the cap.
        let h = headers(&[("retry-after", "Tue, 01 Dec 2026 11:00:00 GMT")]);
        assert_eq!(retry_after_at(&h, CAP, now), Some(Duration::ZERO));
        let h = headers(&[("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT")]);
        assert_eq!(retry_after_at(&h, CAP, now), Some(CAP));
        let h = headers(&[("retry-after", "next tuesday")]);
        assert_eq!(retry_after_at(&h, CAP, now), None);
    }
}
