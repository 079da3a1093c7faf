//! The scenario's value forms: durations written as `250ms`, `8s`, `2m`, and the
//! "plain value or distribution" form (`32`, `{mean, stddev}`, `{min, max}`, ...).
//!
//! Parsing only: what a distribution means at run time is the plan's business.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

/// A duration as written in a scenario: a number followed by `us`, `ms`, `s`, `m` or `h`.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct DurationStr(pub Duration);

/// Parses `250ms`, `1.5s`, `2m`, `1h`, `800us`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let expected = || format!("expected a duration such as 250ms, 8s or 2m, found `{s}`");
    if num.is_empty() {
        return Err(expected());
    }
    let n: f64 = num.parse().map_err(|_| expected())?;
    let secs = match unit.trim() {
        "us" | "µs" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        "" => return Err(format!("`{s}` has no unit: write e.g. {n}s or {n}ms")),
        _ => return Err(expected()),
    };
    // Ten years is far beyond any run; anything larger is a typo, and would overflow.
    if !secs.is_finite() || secs > 315_360_000.0 {
        return Err(format!("duration `{s}` is too large"));
    }
    Ok(Duration::from_secs_f64(secs))
}

impl<'de> Deserialize<'de> for DurationStr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UnitStr {
            expecting: "a duration such as 250ms, 8s or 2m",
            parse: |v| parse_duration(v).map(DurationStr),
            bare: |v| format!("`{v}` has no unit: write e.g. {v}s or {v}ms"),
        })
    }
}

/// Visits a value written as a string with its unit (`250ms`, `5%`); a bare number is
/// refused with `bare(number)`, which tells the user what to add.
struct UnitStr<T> {
    expecting: &'static str,
    parse: fn(&str) -> Result<T, String>,
    bare: fn(&str) -> String,
}

impl<T> Visitor<'_> for UnitStr<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expecting)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.parse)(v).map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        Err(E::custom((self.bare)(&v.to_string())))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        Err(E::custom((self.bare)(&v.to_string())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        Err(E::custom((self.bare)(&v.to_string())))
    }
}

/// A percentage written as `5%` (or `2.5%`), held as a fraction (0.05).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Percent(pub f64);

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UnitStr {
            expecting: "a percentage such as 5%",
            parse: |v| {
                let n: Option<f64> = v
                    .trim()
                    .strip_suffix('%')
                    .and_then(|n| n.trim().parse().ok());
                match n {
                    Some(n) if n.is_finite() => Ok(Percent(n / 100.0)),
                    _ => Err(format!("expected a percentage such as 5%, found `{v}`")),
                }
            },
            bare: |v| format!("write a percentage with its sign, e.g. `{v}%`"),
        })
    }
}

/// A quantity given either as a plain value or as a distribution.
#[derive(Clone, Debug, PartialEq)]
pub enum Dist<T> {
    Fixed(T),
    /// `{mean, stddev}` with optional `min`/`max`; `{min, max}` alone is uniform.
    Spread {
        mean: Option<T>,
        stddev: Option<T>,
        min: Option<T>,
        max: Option<T>,
    },
    /// Measured quantiles: `{p50, p95, p99, max}` (any of p10, p25, p50, p75, p90, p95,
    /// p99, with `max` and optionally `min`), as `(probability, value)`.
    Quantiles(Vec<(f64, T)>),
}

/// The quantile keys a distribution may give, and their probabilities.
pub const QUANTILE_KEYS: [(&str, f64); 7] = [
    ("p10", 0.10),
    ("p25", 0.25),
    ("p50", 0.50),
    ("p75", 0.75),
    ("p90", 0.90),
    ("p95", 0.95),
    ("p99", 0.99),
];

impl<T> Dist<T> {
    pub fn map<U>(&self, f: impl Fn(&T) -> U) -> Dist<U> {
        match self {
            Dist::Fixed(v) => Dist::Fixed(f(v)),
            Dist::Spread {
                mean,
                stddev,
                min,
                max,
            } => Dist::Spread {
                mean: mean.as_ref().map(&f),
                stddev: stddev.as_ref().map(&f),
                min: min.as_ref().map(&f),
                max: max.as_ref().map(&f),
            },
            Dist::Quantiles(q) => Dist::Quantiles(q.iter().map(|(p, v)| (*p, f(v))).collect()),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Dist<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> V<T> {
            fn fixed<E: de::Error>(d: impl Deserializer<'de, Error = E>) -> Result<Dist<T>, E> {
                T::deserialize(d).map(Dist::Fixed)
            }
        }
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Dist<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value, or a distribution {mean, stddev, min, max}")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dist<T>, E> {
                Self::fixed(de::value::U64Deserializer::new(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dist<T>, E> {
                Self::fixed(de::value::I64Deserializer::new(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Dist<T>, E> {
                Self::fixed(de::value::F64Deserializer::new(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Dist<T>, E> {
                Self::fixed(de::value::StrDeserializer::new(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Dist<T>, A::Error> {
                let (mut mean, mut stddev, mut min, mut max) = (None, None, None, None);
                let mut quantiles: Vec<(f64, T)> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if let Some((_, p)) = QUANTILE_KEYS.iter().find(|(k, _)| *k == key) {
                        if quantiles.iter().any(|(q, _)| q == p) {
                            return Err(de::Error::custom(format!("duplicate key `{key}`")));
                        }
                        quantiles.push((*p, map.next_value()?));
                        continue;
                    }
                    let slot = match key.as_str() {
                        "mean" => &mut mean,
                        "stddev" => &mut stddev,
                        "min" => &mut min,
                        "max" => &mut max,
                        other => {
                            return Err(de::Error::unknown_field(
                                other,
                                &[
                                    "mean", "stddev", "min", "max", "p10", "p25", "p50", "p75",
                                    "p90", "p95", "p99",
                                ],
                            ))
                        }
                    };
                    if slot.is_some() {
                        return Err(de::Error::custom(format!("duplicate key `{key}`")));
                    }
                    *slot = Some(map.next_value()?);
                }
                if !quantiles.is_empty() {
                    if mean.is_some() || stddev.is_some() {
                        return Err(de::Error::custom(
                            "give quantiles (p50, p95, ...) or `mean`/`stddev`, not both",
                        ));
                    }
                    let Some(max) = max else {
                        return Err(de::Error::custom(
                            "quantiles need `max` (and take `min`, else 0)",
                        ));
                    };
                    quantiles.sort_by(|a, b| a.0.total_cmp(&b.0));
                    if let Some(min) = min {
                        quantiles.insert(0, (0.0, min));
                    }
                    quantiles.push((1.0, max));
                    return Ok(Dist::Quantiles(quantiles));
                }
                if mean.is_none() && (min.is_none() || max.is_none()) {
                    return Err(de::Error::custom(
                        "a distribution needs `mean`, or both `min` and `max`",
                    ));
                }
                if mean.is_none() && stddev.is_some() {
                    return Err(de::Error::custom("`stddev` needs a `mean`"));
                }
                Ok(Dist::Spread {
                    mean,
                    stddev,
                    min,
                    max,
                })
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("800us"), Ok(Duration::from_micros(800)));
        assert!(parse_duration("10").unwrap_err().contains("no unit"));
        assert!(parse_duration("ten seconds").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("1e400s").is_err());
        assert!(parse_duration("99999999999h")
            .unwrap_err()
            .contains("too large"));
    }
}
