//! The fuzz targets (`llm_drill::fuzzing`, `mock_server::fuzzing`) as property tests on
//! stable: each runs a few thousand inputs made by mutating real ones (the shipped
//! scenarios, recorded streams, usage logs) with proptest, which shrinks a failure to a
//! small input. The long campaign is `benches/fuzz.sh` (cargo-fuzz, libFuzzer); every
//! input it finds that breaks an invariant is kept in `regressions` below.

use proptest::prelude::*;
use proptest::sample::select;
use std::path::Path;

/// Cases per target: a few thousand, a few seconds each in a debug build.
const CASES: u32 = 2000;

/// One edit of the input: (kind, position, length, dictionary word, other seed).
type Edit = (u8, usize, usize, &'static str, usize);

fn edit(mut data: Vec<u8>, (kind, at, len, word, _): Edit, other: &[u8]) -> Vec<u8> {
    let at = if data.is_empty() {
        0
    } else {
        at % (data.len() + 1)
    };
    let len = len % 64;
    let end = (at + len).min(data.len());
    match kind % 8 {
        0 if at < data.len() => data[at] ^= 1 << (len % 8),
        1 => {
            data.drain(at..end);
        }
        2 => {
            data.splice(at..at, word.bytes());
        }
        3 => {
            let copy = data[at..end].to_vec();
            data.splice(at..at, copy);
        }
        4 if at < data.len() => data[at] = b"\0\xff\n\r:\"{}[]-# \t\\"[len % 15],
        5 => data.truncate(at),
        6 if !other.is_empty() => {
            let from = at % other.len();
            let to = (from + len * 8).min(other.len());
            data.splice(at..at, other[from..to].iter().copied());
        }
        _ => data.splice(0..0, word.bytes()).for_each(drop),
    }
    data
}

/// Inputs made from `seeds`, each with up to 8 edits drawn from `words`.
fn mutated(seeds: Vec<Vec<u8>>, words: &'static [&'static str]) -> BoxedStrategy<Vec<u8>> {
    let n = seeds.len();
    (
        0..n,
        prop::collection::vec(
            (
                any::<u8>(),
                any::<usize>(),
                any::<usize>(),
                select(words),
                0..n,
            ),
            0..8,
        ),
    )
        .prop_map(move |(i, edits)| {
            edits.into_iter().fold(seeds[i].clone(), |data, e| {
                let other = &seeds[e.4];
                edit(data, e, other)
            })
        })
        .boxed()
}

fn files(dir: &str, ext: &str) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut paths: Vec<_> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read(p).expect("readable"))
        .collect()
}

fn with_prefix(seeds: Vec<Vec<u8>>, prefixes: &[u8]) -> Vec<Vec<u8>> {
    seeds
        .into_iter()
        .enumerate()
        .map(|(i, s)| [&[prefixes[i % prefixes.len()]][..], &s].concat())
        .collect()
}

const YAML_WORDS: &[&str] = &[
    "--set load.rate=-1\n",
    "--set duration=1ms\n",
    "--set load.mode=replay\n",
    "--set endpoints.x.provider=anthropic\n",
    "--set features.f.prompt.user_tokens={min: 9, max: 1}\n",
    "--set thresholds=[]\n",
    "--set a..b=1\n",
    "\n  ",
    ": ",
    "- ",
    "{",
    "}",
    "[",
    "]",
    "&a ",
    "*a",
    "<<: *a\n",
    "!!binary ",
    "1e308",
    "-1",
    "0",
    "18446744073709551616",
    "null",
    "~",
    "'",
    "\"",
    "|\n",
    "#",
    "\t",
    "\u{feff}",
    "rate: ",
    "stages:\n  - ",
    "duration: ",
    "mode: closed\n",
    "mock: {}\n",
    "faults:\n  - ",
    "sessions:\n  turns: ",
    "side_by_side:\n  ",
    "retry: ",
    "fallback: [",
    "output_tokens: ",
    "region: ",
    "999999999999h",
    "0s",
    "NaN",
];

const SSE_WORDS: &[&str] = &[
    "data: ",
    "event: ",
    "\n\n",
    "\r\n",
    "\n",
    ":",
    "data: [DONE]\n\n",
    "{\"choices\":[{\"delta\":{\"content\":\"x\"}}]}",
    "{\"usage\":{\"prompt_tokens\":-1}}",
    "\"finish_reason\":\"",
    "event: error\n",
    "\u{fffd}",
    "null",
    "1e999",
    "\\ud800",
    "{",
    "}",
    "[",
    "]",
];

const JSON_WORDS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    "\"",
    ":",
    "null",
    "true",
    "1e999",
    "-0",
    "18446744073709551616",
    "\\u0000",
    "\\ud800",
    "\"content\":",
    "\"messages\":[",
    "\"role\":\"user\"",
    "\"tools\":[",
    "\"usage\":",
    "\"prompt_tokens\":",
    "\"startTime\":\"2026-13-40T99:00:00Z\"",
    "\"metadata\":",
    "\n",
    ",,",
    "\"\"",
    ". ",
    "? ",
    "日本. ",
    "  \n ",
    "'s",
];

/// Pieces of event-stream frames: header names and the length bytes of big messages.
const EVENTSTREAM_WORDS: &[&str] = &[
    ":message-type",
    ":event-type",
    "exception",
    "\u{7}\u{0}\u{5}",
    "\u{0}\u{0}\u{ff}\u{ff}",
    "\u{0}\u{0}\u{0}\u{10}",
];

fn scenario_seeds() -> Vec<Vec<u8>> {
    let mut s = files("scenarios", "yaml");
    s.extend(files("tests/bad_scenarios", "yaml"));
    s
}

fn stream_seeds() -> Vec<Vec<u8>> {
    // Each recorded stream, once per provider and chunk size.
    with_prefix(files("tests/fixtures/sse", "txt"), &[0, 1, 2, 7, 64, 129])
}

fn eventstream_seeds() -> Vec<Vec<u8>> {
    // Each recorded Bedrock stream, at several chunk sizes.
    with_prefix(files("tests/fixtures/eventstream", "bin"), &[0, 6, 63])
}

fn body_seeds() -> Vec<Vec<u8>> {
    let openai = br#"{"id":"c","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#;
    let anthropic = br#"{"id":"m","type":"message","role":"assistant","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":1}}"#;
    with_prefix(
        vec![openai.to_vec(), anthropic.to_vec()],
        &[0, 2, 128, 130, 1],
    )
}

fn usage_seeds() -> Vec<Vec<u8>> {
    let litellm = files("scenarios/traces", "json")
        .into_iter()
        .map(|t| t[..t.len().min(4000)].to_vec());
    let jsonl = br#"{"timestamp":"2026-11-23T09:00:00Z","feature":"kb","prompt_tokens":10,"completion_tokens":5,"latency":1.5,"status":200}
{"timestamp":1795000000,"feature":"kb","session":"s1","prompt_tokens":12,"completion_tokens":6}"#;
    let csv = b"timestamp,feature,prompt_tokens,completion_tokens,latency,status\n2026-11-23T09:00:00Z,kb,10,5,1.5,200\n2026-11-23T09:00:01Z,chat,11,6,,429\n";
    let servicenow = br#"{"records":[{"sys_created_on":"2026-11-23 09:00:00","capability":"summarize","prompt_tokens":"10","completion_tokens":"5","response_time":"1500","status":"success"}]}"#;
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    for t in litellm {
        seeds.push([&[2u8][..], &t].concat());
    }
    seeds.push([&[0u8][..], &jsonl[..]].concat());
    seeds.push([&[1u8][..], &csv[..]].concat());
    seeds.push([&[3u8][..], &servicenow[..]].concat());
    seeds.push([&[3u8][..], &csv[..]].concat());
    seeds
}

fn request_seeds() -> Vec<Vec<u8>> {
    let openai = br#"{"model":"gpt-4o","messages":[{"role":"system","content":"Be brief. Answer well."},{"role":"user","content":"Why? Because it is. Fine!"}],"max_tokens":5,"stream":true,"stream_options":{"include_usage":true},"tools":[{"type":"function","function":{"name":"f","parameters":{}}}]}"#;
    let parts = br#"{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"One. Two."}]}],"max_completion_tokens":5,"reasoning_effort":"low"}"#;
    let anthropic = br#"{"model":"claude-sonnet-4","system":[{"type":"text","text":"Be brief."}],"messages":[{"role":"user","content":[{"type":"text","text":"Hi. There."}]}],"max_tokens":5,"thinking":{"type":"enabled","budget_tokens":1024}}"#;
    vec![
        [&[0u8][..], &openai[..]].concat(),
        [&[1u8][..], &parts[..]].concat(),
        [&[2u8][..], &anthropic[..]].concat(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn scenario_loader(data in mutated(scenario_seeds(), YAML_WORDS)) {
        llm_drill::fuzzing::scenario(&data);
    }

    #[test]
    fn stream_parsers(data in mutated(stream_seeds(), SSE_WORDS)) {
        llm_drill::fuzzing::stream(&data);
    }

    #[test]
    fn event_stream_frames(data in mutated(eventstream_seeds(), EVENTSTREAM_WORDS)) {
        llm_drill::fuzzing::eventstream(&data);
    }

    #[test]
    fn whole_bodies(data in mutated(body_seeds(), JSON_WORDS)) {
        llm_drill::fuzzing::whole(&data);
    }

    #[test]
    fn usage_importers(data in mutated(usage_seeds(), JSON_WORDS)) {
        llm_drill::fuzzing::usage(&data);
    }

    #[test]
    fn mock_requests(data in mutated(request_seeds(), JSON_WORDS)) {
        mock_server::fuzzing::request(&data);
    }
}

/// Inputs the fuzzers found that broke an invariant, kept once fixed.
mod regressions {
    #[test]
    fn a_long_sse_line_is_refused_whatever_the_chunking() {
        // A 5,000-byte comment line: refused when it came in pieces, and so also when it
        // came whole (it was read past the bound then).
        let mut data = vec![0u8, 3];
        data.extend(std::iter::repeat_n(b':', 5000));
        data.extend(b"\ndata: {}\n\n");
        llm_drill::fuzzing::stream(&data);
    }

    #[test]
    fn a_gemini_answer_without_candidates_is_reported_on_one_line() {
        // cargo-fuzz's find (fuzz/artifacts/whole/crash-6e8c…): Vertex's "no candidates"
        // error quoted the body raw, newlines and all.
        let body = b":\r\r{}\t\r\t\t \n\n\n\n\n\n\n\n\n\n\n\n\n ";
        llm_drill::fuzzing::whole(body);
    }

    #[test]
    fn invalid_json_with_a_newline_is_reported_on_one_line() {
        // proptest's first find: the body's start was quoted raw into the error.
        let body = b"\x00{\"id\":\"c\",\"choices\":[{\"ind\n{\":0}]}";
        llm_drill::fuzzing::whole(body);
    }
}
