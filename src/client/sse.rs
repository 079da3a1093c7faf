//! A pure, incremental Server-Sent Events parser: bytes in, `(event, data)` out.
//!
//! Knows the SSE line format only (`data:`, `event:`, comments, blank-line dispatch), not
//! any provider's JSON. Bounded: an event larger than `max_event_bytes` is an error, so a
//! misbehaving endpoint cannot make the harness buffer without limit.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseError {
    EventTooLarge(usize),
    InvalidUtf8,
}

impl std::fmt::Display for SseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SseError::EventTooLarge(n) => write!(f, "an SSE event is larger than {n} bytes"),
            SseError::InvalidUtf8 => f.write_str("an SSE line is not valid UTF-8"),
        }
    }
}

/// What a callback tells the parser after each event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

pub struct SseParser {
    buf: Vec<u8>,
    event: String,
    data: String,
    has_data: bool,
    max_event_bytes: usize,
}

impl SseParser {
    pub fn new(max_event_bytes: usize) -> Self {
        SseParser {
            buf: Vec::new(),
            event: String::new(),
            data: String::new(),
            has_data: false,
            max_event_bytes,
        }
    }

    /// Bytes held back for a line not yet complete.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Feeds a chunk; calls `on_event(event_name, data)` for each complete event.
    /// Returns `Flow::Stop` if the callback asked to stop.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        mut on_event: impl FnMut(&str, &str) -> Flow,
    ) -> Result<Flow, SseError> {
        self.buf.extend_from_slice(chunk);
        let mut consumed = 0;
        let mut flow = Flow::Continue;
        while let Some(nl) = self.buf[consumed..].iter().position(|b| *b == b'\n') {
            let end = consumed + nl;
            // A line over the bound is refused whether it came in one chunk or many.
            if nl > self.max_event_bytes {
                return Err(SseError::EventTooLarge(self.max_event_bytes));
            }
            let mut line = &self.buf[consumed..end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            consumed = end + 1;
            if line.is_empty() {
                if self.has_data {
                    let name = if self.event.is_empty() {
                        "message"
                    } else {
                        self.event.as_str()
                    };
                    flow = on_event(name, &self.data);
                }
                self.data.clear();
                self.event.clear();
                self.has_data = false;
                if flow == Flow::Stop {
                    break;
                }
                continue;
            }
            if line[0] == b':' {
                continue;
            }
            let line = std::str::from_utf8(line).map_err(|_| SseError::InvalidUtf8)?;
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line, ""),
            };
            match field {
                "data" => {
                    if self.has_data {
                        self.data.push('\n');
                    }
                    self.data.push_str(value);
                    self.has_data = true;
                    if self.data.len() > self.max_event_bytes {
                        return Err(SseError::EventTooLarge(self.max_event_bytes));
                    }
                }
                "event" => {
                    self.event.clear();
                    self.event.push_str(value);
                }
                _ => {}
            }
        }
        self.buf.drain(..consumed);
        if self.buf.len() > self.max_event_bytes {
            return Err(SseError::EventTooLarge(self.max_event_bytes));
        }
        Ok(flow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(chunks: &[&[u8]]) -> Vec<(String, String)> {
        let mut p = SseParser::new(1 << 20);
        let mut out = vec![];
        for c in chunks {
            p.feed(c, |e, d| {
                out.push((e.to_string(), d.to_string()));
                Flow::Continue
            })
            .unwrap();
        }
        out
    }

    #[test]
    fn events_split_anywhere_reassemble() {
        let whole: &[u8] = b"data: {\"a\":1}\n\n: keep-alive\n\nevent: ping\ndata: x\ndata: y\r\n\r\ndata: [DONE]\n\n";
        let expected = vec![
            ("message".to_string(), "{\"a\":1}".to_string()),
            ("ping".to_string(), "x\ny".to_string()),
            ("message".to_string(), "[DONE]".to_string()),
        ];
        assert_eq!(collect(&[whole]), expected);
        for cut in 1..whole.len() {
            assert_eq!(
                collect(&[&whole[..cut], &whole[cut..]]),
                expected,
                "cut at {cut}"
            );
        }
        let bytes: Vec<&[u8]> = whole.chunks(1).collect();
        assert_eq!(collect(&bytes), expected);
    }

    #[test]
    fn incomplete_event_is_not_dispatched() {
        assert!(collect(&[b"data: partial"]).is_empty());
    }

    #[test]
    fn oversized_events_are_refused() {
        let mut p = SseParser::new(16);
        let r = p.feed(&[b'x'; 64], |_, _| Flow::Continue);
        assert_eq!(r, Err(SseError::EventTooLarge(16)));
        let mut p = SseParser::new(16);
        let r = p.feed(b"data: 0123456789\ndata: 0123456789\n", |_, _| {
            Flow::Continue
        });
        assert_eq!(r, Err(SseError::EventTooLarge(16)));
    }
}
