//! A stream's token event with its text cut out. Every token of a stream differs only in
//! its text, so the event is made once (`Wire::stream_token` with a marker for the text)
//! and split around the marker; each token is then the prefix, its text escaped as JSON
//! escapes it, and the suffix: the same bytes as `stream_token`, without building and
//! serializing a JSON value per token (at 200,000 tokens a second, that was a fifth of
//! the mock's time).

use crate::chat::{Meta, Wire};
use axum::body::Bytes;
use bytes::{BufMut, BytesMut};

/// A text no answer contains, escaped by serde_json to `MARK_ESCAPED`.
const MARK: &str = "\u{1}llm-drill-token\u{1}";
const MARK_ESCAPED: &[u8] = b"\\u0001llm-drill-token\\u0001";

pub(crate) struct TokenTemplate {
    prefix: Bytes,
    suffix: Bytes,
}

impl TokenTemplate {
    /// The template of `wire`'s token events for this answer, when its text appears once
    /// in them (always, for the wires the mock speaks).
    pub(crate) fn new(wire: &dyn Wire, meta: &Meta) -> Option<TokenTemplate> {
        if !wire.templated() {
            return None;
        }
        let event = wire.stream_token(meta, MARK);
        let at = memchr::memmem::find(&event, MARK_ESCAPED)?;
        let rest = at + MARK_ESCAPED.len();
        if memchr::memmem::find(&event[rest..], MARK_ESCAPED).is_some() {
            return None;
        }
        Some(TokenTemplate {
            prefix: event.slice(..at),
            suffix: event.slice(rest..),
        })
    }

    /// The event of one token of `text`.
    pub(crate) fn event(&self, text: &str) -> Bytes {
        let mut out = BytesMut::with_capacity(self.prefix.len() + text.len() + self.suffix.len());
        self.append(&mut out, text);
        out.freeze()
    }

    pub(crate) fn append(&self, out: &mut BytesMut, text: &str) {
        out.put_slice(&self.prefix);
        if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
            out.put_slice(text.as_bytes());
        } else {
            // What serde_json writes inside the quotes, exactly.
            let quoted = serde_json::to_string(text).unwrap_or_default();
            out.put_slice(&quoted.as_bytes()[1..quoted.len() - 1]);
        }
        out.put_slice(&self.suffix);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::ANSWER_WORDS;

    #[test]
    fn events_equal_the_wires_own_byte_for_byte() {
        let wires: [&dyn Wire; 3] = [
            &crate::openai::OpenAi,
            &crate::openai::Azure,
            &crate::anthropic::Anthropic,
        ];
        let texts = ANSWER_WORDS.iter().copied().chain([
            "{\"query\": \"a \\\\ b\"}",
            "tab\there",
            "line\nbreak",
            "\u{7}bell",
            "日本語 🙂",
            "",
        ]);
        let texts: Vec<&str> = texts.collect();
        for wire in wires {
            for tool_call in [false, true] {
                let meta = Meta {
                    tool_call,
                    ..Meta::default()
                };
                let t = TokenTemplate::new(wire, &meta).expect("a template");
                for text in &texts {
                    assert_eq!(t.event(text), wire.stream_token(&meta, text), "{text:?}");
                }
            }
        }
    }
}
