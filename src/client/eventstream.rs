//! A pure, incremental parser of AWS's event-stream framing
//! (`application/vnd.amazon.eventstream`), in which Bedrock streams an answer: bytes in,
//! messages out. Each message is a prelude (total length, headers length, their CRC-32),
//! typed headers, a payload and the CRC-32 of all of it. Knows the framing only, not
//! Bedrock's JSON. Bounded, like the SSE parser: a message larger than the bound, a
//! length that cannot be, or a CRC that does not match is an error, never a wait for
//! bytes that will not come.

use super::sse::Flow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventStreamError {
    TooLarge(usize),
    PreludeCrc,
    MessageCrc,
    Malformed(&'static str),
}

impl std::fmt::Display for EventStreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge(n) => write!(f, "an event-stream message is larger than {n} bytes"),
            Self::PreludeCrc => f.write_str("an event-stream message's prelude fails its CRC"),
            Self::MessageCrc => f.write_str("an event-stream message fails its CRC"),
            Self::Malformed(why) => write!(f, "a malformed event-stream message: {why}"),
        }
    }
}

/// One message: its string headers that say what it is, and its payload.
#[derive(Debug, Default, PartialEq)]
pub struct Message<'a> {
    /// `:message-type`: `event`, `exception` or `error`.
    pub message_type: &'a str,
    /// `:event-type` of an event, `:exception-type` of an exception, `:error-code` of
    /// an error.
    pub kind: &'a str,
    /// `:error-message` of an error.
    pub error_message: &'a str,
    pub payload: &'a [u8],
}

impl<'a> Message<'a> {
    /// The name a provider's decoder is given: an event's `:event-type`, or
    /// `exception:<type>` and `error:<code>` for the other kinds.
    pub fn event_name(&self) -> std::borrow::Cow<'a, str> {
        match self.message_type {
            "event" => self.kind.into(),
            kind => format!("{kind}:{}", self.kind).into(),
        }
    }

    /// What it carries as text: an error's `:error-message`, else its payload; `None`
    /// when the payload is not UTF-8.
    pub fn text(&self) -> Option<&'a str> {
        match self.message_type {
            "error" => Some(self.error_message),
            _ => std::str::from_utf8(self.payload).ok(),
        }
    }
}

/// Prelude (12) and message CRC (4).
const OVERHEAD: usize = 16;

pub struct EventStreamParser {
    buf: Vec<u8>,
    max_message_bytes: usize,
}

impl EventStreamParser {
    pub fn new(max_message_bytes: usize) -> Self {
        EventStreamParser {
            buf: Vec::new(),
            max_message_bytes,
        }
    }

    /// Bytes held for a message not yet complete.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Feeds a chunk; calls `on_message` for each complete message. Returns
    /// `Flow::Stop` if the callback asked to stop.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        mut on_message: impl FnMut(&Message<'_>) -> Flow,
    ) -> Result<Flow, EventStreamError> {
        self.buf.extend_from_slice(chunk);
        let mut at = 0;
        let flow = loop {
            let rest = &self.buf[at..];
            if rest.len() < 12 {
                break Flow::Continue;
            }
            let total = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            let headers_len = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
            let prelude_crc = u32::from_be_bytes([rest[8], rest[9], rest[10], rest[11]]);
            if crc32fast::hash(&rest[..8]) != prelude_crc {
                return Err(EventStreamError::PreludeCrc);
            }
            if total > self.max_message_bytes {
                return Err(EventStreamError::TooLarge(self.max_message_bytes));
            }
            if total < OVERHEAD || headers_len > total - OVERHEAD {
                return Err(EventStreamError::Malformed("its lengths do not add up"));
            }
            if rest.len() < total {
                break Flow::Continue;
            }
            let whole = &rest[..total];
            let crc = u32::from_be_bytes(whole[total - 4..].try_into().expect("4 bytes"));
            if crc32fast::hash(&whole[..total - 4]) != crc {
                return Err(EventStreamError::MessageCrc);
            }
            let message = decode(
                &whole[12..12 + headers_len],
                &whole[12 + headers_len..total - 4],
            )?;
            at += total;
            if on_message(&message) == Flow::Stop {
                break Flow::Stop;
            }
        };
        self.buf.drain(..at);
        Ok(flow)
    }
}

/// The headers that say what a message is, skipping the others by their type.
fn decode<'a>(mut h: &'a [u8], payload: &'a [u8]) -> Result<Message<'a>, EventStreamError> {
    let bad = EventStreamError::Malformed;
    let mut m = Message {
        payload,
        ..Message::default()
    };
    let take = |h: &mut &'a [u8], n: usize| -> Result<&'a [u8], EventStreamError> {
        if h.len() < n {
            return Err(bad("a header runs past its message"));
        }
        let (a, b) = h.split_at(n);
        *h = b;
        Ok(a)
    };
    while !h.is_empty() {
        let name_len = take(&mut h, 1)?[0] as usize;
        let name = std::str::from_utf8(take(&mut h, name_len)?)
            .map_err(|_| bad("a header name is not UTF-8"))?;
        let value: Option<&str> = match take(&mut h, 1)?[0] {
            0 | 1 => None,
            2 => take(&mut h, 1).map(|_| None)?,
            3 => take(&mut h, 2).map(|_| None)?,
            4 => take(&mut h, 4).map(|_| None)?,
            5 | 8 => take(&mut h, 8).map(|_| None)?,
            9 => take(&mut h, 16).map(|_| None)?,
            t @ (6 | 7) => {
                let len = take(&mut h, 2)?;
                let bytes = take(&mut h, u16::from_be_bytes([len[0], len[1]]) as usize)?;
                (t == 7)
                    .then(|| std::str::from_utf8(bytes))
                    .transpose()
                    .map_err(|_| bad("a string header is not UTF-8"))?
            }
            _ => return Err(bad("a header has an unknown type")),
        };
        match (name, value) {
            (":message-type", Some(v)) => m.message_type = v,
            (":event-type" | ":exception-type" | ":error-code", Some(v)) => m.kind = v,
            (":error-message", Some(v)) => m.error_message = v,
            _ => {}
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &[u8] = include_bytes!("../../tests/fixtures/eventstream/converse-stream.bin");
    const THROTTLED: &[u8] =
        include_bytes!("../../tests/fixtures/eventstream/throttled-mid-stream.bin");

    /// (message type, kind, payload) of each message, fed in chunks of `n` bytes.
    fn messages(bytes: &[u8], n: usize) -> Vec<(String, String, String)> {
        let mut p = EventStreamParser::new(1 << 20);
        let mut out = Vec::new();
        for chunk in bytes.chunks(n) {
            p.feed(chunk, |m| {
                out.push((
                    m.message_type.to_string(),
                    m.kind.to_string(),
                    String::from_utf8(m.payload.to_vec()).unwrap(),
                ));
                Flow::Continue
            })
            .unwrap();
        }
        assert_eq!(p.buffered(), 0);
        out
    }

    /// The messages botocore's own parser read from the same bytes.
    #[test]
    fn frames_parse_to_what_botocore_reads_in_them_in_any_chunking() {
        let want: serde_json::Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/eventstream/messages.json"
        ))
        .unwrap();
        for (name, bytes) in [
            ("converse-stream", ANSWER),
            ("throttled-mid-stream", THROTTLED),
        ] {
            let expected: Vec<(String, String, String)> = want[name]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    let h = &m["headers"];
                    let kind = h[":event-type"]
                        .as_str()
                        .or(h[":exception-type"].as_str())
                        .unwrap();
                    (
                        h[":message-type"].as_str().unwrap().to_string(),
                        kind.to_string(),
                        m["payload"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            for n in [1, 7, 64, bytes.len()] {
                assert_eq!(messages(bytes, n), expected, "{name} in chunks of {n}");
            }
        }
    }

    #[test]
    fn a_cut_message_waits_and_a_damaged_one_is_refused() {
        let mut p = EventStreamParser::new(1 << 20);
        let mut seen = 0;
        p.feed(&ANSWER[..ANSWER.len() - 3], |_| {
            seen += 1;
            Flow::Continue
        })
        .unwrap();
        assert_eq!(
            (seen, p.buffered() > 0),
            (6, true),
            "six whole, the seventh held"
        );
        for (at, err) in [
            (5, EventStreamError::PreludeCrc),
            (40, EventStreamError::MessageCrc),
        ] {
            let mut bad = ANSWER.to_vec();
            bad[at] ^= 0x20;
            let r = EventStreamParser::new(1 << 20).feed(&bad, |_| Flow::Continue);
            assert_eq!(r, Err(err), "byte {at}");
        }
        let r = EventStreamParser::new(100).feed(ANSWER, |_| Flow::Continue);
        assert_eq!(r, Err(EventStreamError::TooLarge(100)));
        // A prelude with a valid CRC and impossible lengths.
        let mut prelude = [0u8; 12];
        prelude[3] = 10;
        let crc = crc32fast::hash(&prelude[..8]).to_be_bytes();
        prelude[8..].copy_from_slice(&crc);
        let r = EventStreamParser::new(1 << 20).feed(&prelude, |_| Flow::Continue);
        assert!(matches!(r, Err(EventStreamError::Malformed(_))), "{r:?}");
    }
}
