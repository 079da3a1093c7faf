//! Entry points for fuzzing, shared by the cargo-fuzz targets under `fuzz/` (libFuzzer,
//! `benches/fuzz.sh`) and the property tests of `tests/drill/fuzz.rs` (stable, in the
//! normal test suite). Each takes arbitrary bytes, drives one reader of untrusted input
//! and panics only when one of the invariants it states is broken: an input that panics
//! here is a bug, and is kept as a regression case in the tests.

use crate::client::sse::{Flow, SseParser};
use crate::client::{format, StreamStep};
use crate::plan::provider::PROVIDERS;
use crate::plan::Plan;
use crate::scenario;
use crate::usage::read::{read_text, Format, Read};
use std::collections::BTreeMap;

/// The scenario loader: leading lines `--set PATH=VALUE` are overrides, the rest is the
/// scenario. Loading either gives a plan or an error with a message of one line that
/// names the file.
pub fn scenario(data: &[u8]) {
    let mut sets = Vec::new();
    let mut rest = data;
    while let Some(line) = rest.strip_prefix(b"--set ") {
        let end = line.iter().position(|b| *b == b'\n').unwrap_or(line.len());
        sets.push(String::from_utf8_lossy(&line[..end]).into_owned());
        rest = line.get(end + 1..).unwrap_or_default();
    }
    let checked = |e: scenario::ScenarioError| {
        assert!(!e.message.is_empty(), "an error without a message: {e:?}");
        assert!(
            !e.message.contains('\n'),
            "an error of several lines: {e:?}"
        );
        assert_eq!(
            e.file, "fuzz.yaml",
            "an error that does not name the file: {e:?}"
        );
    };
    match scenario::parse("fuzz.yaml", rest.to_vec(), &sets) {
        Ok((sc, source)) => {
            if let Err(e) = Plan::from_scenario(&sc, &source) {
                checked(e)
            }
        }
        Err(e) => checked(e),
    }
}

/// Largest SSE event the stream target allows: small, so that inputs reach the bound.
const FUZZ_EVENT_BYTES: usize = 4096;

/// A provider's stream: the first byte picks the provider and the second the size of the
/// chunks the rest arrives in. The SSE parser gives the same events, or the same error,
/// whatever the chunking; it never holds more than its bound plus one chunk; and every
/// event decodes to steps or an error, never a panic.
pub fn stream(data: &[u8]) {
    let [p, chunk, body @ ..] = data else { return };
    let provider = PROVIDERS[*p as usize % PROVIDERS.len()].provider;
    let whole = sse_events(body, body.len().max(1));
    let chunked = sse_events(body, 1 + *chunk as usize % 64);
    assert_eq!(
        whole, chunked,
        "the events depend on how the bytes were cut"
    );
    let decoder = format(provider);
    let mut steps: Vec<StreamStep> = Vec::new();
    for (event, data) in whole.0.iter() {
        steps.clear();
        if let Err(e) = decoder.stream_event(event, data, &mut steps) {
            assert!(!e.contains('\n'), "an error of several lines: {e:?}");
        }
    }
}

type Events = (Vec<(String, String)>, Option<String>);

/// AWS event-stream framing (Bedrock's streams): the first byte picks the size of the
/// chunks the rest arrives in. The parser gives the same messages, or the same error,
/// whatever the chunking, and never holds more than its bound plus one chunk; Bedrock's
/// decoder turns each message into steps or an error of one line, never a panic.
pub fn eventstream(data: &[u8]) {
    let [chunk, body @ ..] = data else { return };
    let whole = aws_messages(body, body.len().max(1));
    let chunked = aws_messages(body, 1 + *chunk as usize % 64);
    assert_eq!(
        whole, chunked,
        "the messages depend on how the bytes were cut"
    );
}

fn aws_messages(body: &[u8], chunk: usize) -> Events {
    let bedrock = format(crate::plan::Provider::Bedrock);
    let mut parser = crate::client::eventstream::EventStreamParser::new(FUZZ_EVENT_BYTES);
    in_chunks(body, chunk, |piece, out| {
        let fed = parser.feed(piece, |m| {
            assert!(
                m.payload.len() <= FUZZ_EVENT_BYTES,
                "a message over the bound"
            );
            out.push((
                format!("{} {} {}", m.message_type, m.kind, m.error_message),
                String::from_utf8_lossy(m.payload).into_owned(),
            ));
            // Decoded as the stream reader hands it to Bedrock's decoder.
            if let Some(data) = m.text() {
                let mut steps: Vec<StreamStep> = Vec::new();
                if let Err(e) = bedrock.stream_event(&m.event_name(), data, &mut steps) {
                    assert!(!e.contains('\n'), "an error of several lines: {e:?}");
                }
            }
            Flow::Continue
        });
        (parser.buffered(), fed.map(drop).map_err(|e| e.to_string()))
    })
}

fn sse_events(body: &[u8], chunk: usize) -> Events {
    let mut parser = SseParser::new(FUZZ_EVENT_BYTES);
    in_chunks(body, chunk, |piece, out| {
        let fed = parser.feed(piece, |e, d| {
            assert!(d.len() <= FUZZ_EVENT_BYTES, "an event over the bound");
            out.push((e.to_string(), d.to_string()));
            Flow::Continue
        });
        (parser.buffered(), fed.map(drop).map_err(|e| e.to_string()))
    })
}

/// Feeds `body` to a parser in pieces of `chunk` bytes (`feed` returns what the parser
/// holds after a piece, and its error): what it yields up to its first error, never
/// more held than the bound plus one piece.
fn in_chunks(
    body: &[u8],
    chunk: usize,
    mut feed: impl FnMut(&[u8], &mut Vec<(String, String)>) -> (usize, Result<(), String>),
) -> Events {
    let mut out = Vec::new();
    for piece in body.chunks(chunk) {
        let (held, fed) = feed(piece, &mut out);
        assert!(held <= FUZZ_EVENT_BYTES + chunk, "the parser kept too much");
        if let Err(e) = fed {
            return (out, Some(e));
        }
    }
    (out, None)
}

/// A provider's whole (non-streaming) body: the first byte picks the provider and whether
/// the text is kept. It decodes to usage and a finish reason, or an error of one line.
pub fn whole(data: &[u8]) {
    let [p, body @ ..] = data else { return };
    let provider = PROVIDERS[*p as usize % PROVIDERS.len()].provider;
    if let Err(e) = format(provider).parse_body(body, p & 0x80 != 0) {
        assert!(!e.contains('\n'), "an error of several lines: {e:?}");
    }
}

/// A usage log (`usage import`, a replay's trace): the first byte picks the format. Rows
/// that cannot be read are skipped and counted with their line; a log with none is an
/// error of one line that names the file.
pub fn usage(data: &[u8]) {
    let [f, body @ ..] = data else { return };
    let format = [
        Format::Jsonl,
        Format::Csv,
        Format::Litellm,
        Format::Servicenow,
    ][*f as usize % 4];
    let text = String::from_utf8_lossy(body);
    let mut out = Read::default();
    match read_text(
        "fuzz.log",
        &text,
        format,
        &BTreeMap::new(),
        Some("feature"),
        &mut out,
    ) {
        Ok(()) => assert!(!out.rows.is_empty(), "a log read with no rows"),
        Err(e) => {
            assert!(
                e.starts_with("fuzz.log"),
                "an error that does not name the file: {e:?}"
            );
            assert!(!e.contains('\n'), "an error of several lines: {e:?}");
        }
    }
    for p in &out.problems {
        assert!(
            p.starts_with("fuzz.log"),
            "a skipped row without its place: {p:?}"
        );
    }
    assert!(out.problems.len() as u64 <= out.skipped);
}
