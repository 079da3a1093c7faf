//! One exchange on the wire: a pooled connection (or a new one), the request, and the
//! answer read whole or as a stream — every body read capped, so a 50 MB answer or an
//! endless one ends as a classified outcome, never a stall.

use super::attempt::{Attempt, Prepared, Spoken};
use super::http;
use super::retry_after::retry_after;
use super::route::Route;
use super::stream::read_stream;
use super::MAX_BODY_BYTES;
use crate::outcome::Outcome;
use bytes::Bytes;
use http_body_util::BodyExt;
use std::fmt;
use std::time::Duration;
use tokio::time::Instant;

/// Sends the request on a pooled connection (or a new one) and reads the answer.
/// `answered` is stamped the moment the answer is complete, before any clean-up.
pub(super) async fn exchange(
    route: &Route,
    req: Prepared,
    a: &mut Attempt,
    answered: &mut Option<Instant>,
) -> Result<(), (Outcome, String)> {
    // A fresh connection comes with where its task leaves why it ended. Opening one is
    // rare and its future large: boxed, so that every call's future stays small.
    let (mut sender, mut ended) = match route.pool.take_idle() {
        Some(s) => (s, None),
        None => Box::pin(route.pool.open()).await.map_err(connect_failure)?,
    };
    let resp = loop {
        let sent = match sender.ready().await {
            Ok(()) => sender.send(route.request(&req, sender.is_h2())).await,
            Err(e) => Err(e),
        };
        match sent {
            Ok(r) => break r,
            // A kept-alive connection the server had already closed: the request never
            // left, so send it on a fresh connection (once).
            Err(e) if ended.is_none() && (e.is_canceled() || e.is_closed()) => {
                let (s, e) = Box::pin(route.pool.connect())
                    .await
                    .map_err(connect_failure)?;
                (sender, ended) = (s, Some(e));
            }
            Err(e) => return Err(send_failure(&e, ended.as_ref()).await),
        }
    };
    a.http_version = Some(if resp.version() == hyper::Version::HTTP_2 {
        Spoken::Http2
    } else {
        Spoken::Http1
    });
    let status = resp.status().as_u16();
    a.status = Some(status);
    route.note_mock(resp.headers());
    if let Some(r) = route.format.served_region(resp.headers()) {
        a.extra_mut().served_region =
            Some(crate::plan::regions::canonical(&r).unwrap_or("unrecognized"));
    }
    if let Some(t) = super::timing::ServerTimings::of(resp.headers()) {
        a.extra_mut().server_timing = Some(t);
    }
    let too_large = resp
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY_BYTES as u64);
    if !(200..300).contains(&status) {
        a.retry_after = retry_after(resp.headers(), route.endpoint.retry.max);
    }
    let (parts, mut body) = resp.into_parts();
    if !(200..300).contains(&status) {
        let headers = parts.headers;
        let bytes = match read_capped(&mut body, 64 << 10).await {
            Ok(b) => {
                route.pool.give_back(sender);
                b
            }
            Err(ReadError::TooLarge(_, partial)) | Err(ReadError::Broken(_, partial)) => {
                partial.into()
            }
        };
        let (outcome, name) = route.format.error_outcome(status, &headers, &bytes);
        // One line, whatever the endpoint sent (an HTML error page, say).
        let text = String::from_utf8_lossy(&bytes);
        let snippet: String = text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(200)
            .collect();
        // OpenAI's and Azure's "you have used your quota" 429: not a rate limit.
        a.quota_exhausted = status == 429 && snippet.contains("insufficient_quota");
        let name = name.map_or(String::new(), |n| format!(" {n}"));
        return Err((outcome, format!("HTTP {status}{name}: {snippet}")));
    }
    if too_large {
        return Err((
            Outcome::Protocol,
            format!("the response body is larger than {MAX_BODY_BYTES} bytes"),
        ));
    }
    if req.stream {
        read_stream(route.format, &mut body, a).await?;
        *answered = Some(Instant::now());
        // Read what follows `[DONE]` (the end of the chunked body) so the connection can
        // serve the next call; a server that keeps it open loses the connection.
        if tokio::time::timeout(Duration::from_millis(100), read_capped(&mut body, 64 << 10))
            .await
            .is_ok_and(|r| r.is_ok())
        {
            route.pool.give_back(sender);
        }
        Ok(())
    } else {
        let bytes = read_capped(&mut body, MAX_BODY_BYTES)
            .await
            .map_err(|e| (e.outcome(), e.to_string()))?;
        *answered = Some(Instant::now());
        route.pool.give_back(sender);
        // No time to first token here: a whole body has no first token to time.
        let whole = route
            .format
            .parse_body(&bytes, req.keep_text)
            .map_err(|m| (Outcome::Protocol, m))?;
        a.usage = whole.usage;
        a.text = whole.text;
        a.finish = whole.finish;
        if let Some(ms) = whole.server_ms {
            let x = a.extra_mut();
            x.server_timing = super::timing::ServerTimings::with_body_latency(x.server_timing, ms);
        }
        if !whole.reasoning.is_empty() || whole.tool_call.is_some() {
            let x = a.extra_mut();
            x.reasoning = whole.reasoning;
            x.tool_call = whole.tool_call;
        }
        Ok(())
    }
}

/// Why a request found no response. TLS 1.3 refuses a missing client certificate only
/// after the handshake, as the first response: the fresh connection's task then ends
/// with that refusal, given a moment to say so.
async fn send_failure(e: &hyper::Error, ended: Option<&http::Ended>) -> (Outcome, String) {
    let tls = |why: String| (Outcome::Tls, format!("TLS: {why}"));
    if let Some(why) = super::tls::failure(e) {
        return tls(why);
    }
    if let Some(ended) = ended {
        for _ in 0..10 {
            if let Some(why) = ended.get() {
                if let Some(t) = why.strip_prefix("TLS: ") {
                    return tls(t.to_string());
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    // An answer came but was not HTTP as a chat endpoint speaks it (a head over hyper's
    // limit, an unreadable status line): the endpoint's wire, not the network.
    if e.is_parse() || e.is_parse_status() || e.is_parse_too_large() {
        return (
            Outcome::Protocol,
            format!(
                "the response is not readable HTTP: {}",
                http::error_chain(e)
            ),
        );
    }
    (
        Outcome::Connect,
        format!("no response: {}", http::error_chain(e)),
    )
}

fn connect_failure(e: http::ConnectError) -> (Outcome, String) {
    let outcome = match e.kind {
        http::Failed::Connect => Outcome::Connect,
        http::Failed::Tls => Outcome::Tls,
        http::Failed::Proxy => Outcome::Proxy,
    };
    (outcome, e.message)
}

/// Why a body could not be read whole; carries what was read.
#[derive(Debug)]
enum ReadError {
    TooLarge(usize, Vec<u8>),
    Broken(String, Vec<u8>),
}

impl ReadError {
    fn outcome(&self) -> Outcome {
        match self {
            ReadError::TooLarge(..) => Outcome::Protocol,
            ReadError::Broken(..) => Outcome::StreamCut,
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::TooLarge(n, _) => write!(f, "the response body is larger than {n} bytes"),
            ReadError::Broken(m, _) => write!(f, "the response body broke off: {m}"),
        }
    }
}

/// Reads the body to its end, refusing to hold more than `cap` bytes. A body that came
/// in one frame (most whole answers) is handed back as it came, without a copy.
async fn read_capped<B>(body: &mut B, cap: usize) -> Result<Bytes, ReadError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::error::Error + 'static,
{
    let mut first: Option<Bytes> = None;
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ReadError::Broken(http::error_chain(&e), Vec::new()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let held = first.as_ref().map_or(0, Bytes::len) + out.len();
        if held + data.len() > cap {
            let mut partial = first.take().map_or_else(Vec::new, Vec::from);
            partial.extend_from_slice(&out);
            return Err(ReadError::TooLarge(cap, partial));
        }
        match first.take() {
            None if out.is_empty() => first = Some(data),
            None => out.extend_from_slice(&data),
            Some(f) => {
                out.reserve(f.len() + data.len());
                out.extend_from_slice(&f);
                out.extend_from_slice(&data);
            }
        }
    }
    Ok(first.unwrap_or_else(|| Bytes::from(out)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::StreamBody;
    use hyper::body::Frame;

    fn body(
        parts: &[&'static str],
    ) -> impl hyper::body::Body<Data = Bytes, Error = std::io::Error> + Unpin {
        let frames: Vec<Result<Frame<Bytes>, std::io::Error>> = parts
            .iter()
            .map(|p| Ok(Frame::data(Bytes::from_static(p.as_bytes()))))
            .collect();
        StreamBody::new(futures_util::stream::iter(frames))
    }

    #[tokio::test]
    async fn a_body_is_read_whole_in_one_frame_or_several() {
        for parts in [
            &[][..],
            &["{\"a\":1}"],
            &["{\"a\"", ":1}"],
            &["{", "\"a\"", ":1", "}"],
        ] {
            let read = read_capped(&mut body(parts), 64).await.unwrap();
            assert_eq!(read, parts.concat().as_bytes(), "{parts:?}");
        }
    }

    #[tokio::test]
    async fn a_body_over_its_cap_is_refused_with_what_was_read() {
        for parts in [
            &["0123456789"][..],
            &["01234", "56789"],
            &["012", "345", "6789"],
        ] {
            match read_capped(&mut body(parts), 9).await {
                Err(ReadError::TooLarge(9, partial)) => {
                    assert!(
                        b"0123456789".starts_with(&partial) && partial.len() < 10,
                        "{parts:?}"
                    )
                }
                other => panic!("{parts:?}: {other:?}"),
            }
        }
        assert_eq!(
            &read_capped(&mut body(&["01234", "5678"]), 9).await.unwrap()[..],
            b"012345678"
        );
    }
}
