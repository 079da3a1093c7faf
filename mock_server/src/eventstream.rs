//! AWS's event-stream framing (`application/vnd.amazon.eventstream`), the encoding side:
//! how the mock frames Bedrock's stream events. A message is a prelude (total length,
//! headers length, their CRC-32), string headers (`:event-type`, `:content-type`,
//! `:message-type`), the payload, and the CRC-32 of all of it.
//!
//! llm-drill's parser is checked apart from this, against frames botocore reads; this
//! encoder is checked to give those same bytes.

use bytes::{BufMut, Bytes, BytesMut};

/// The content type of an event-stream response.
pub const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// One message of string headers and a payload.
pub fn message(headers: &[(&str, &str)], payload: &[u8]) -> Bytes {
    let headers_len: usize = headers
        .iter()
        .map(|(n, v)| 1 + n.len() + 1 + 2 + v.len())
        .sum();
    let total = 12 + headers_len + payload.len() + 4;
    let mut out = BytesMut::with_capacity(total);
    out.put_u32(total as u32);
    out.put_u32(headers_len as u32);
    out.put_u32(crc32fast::hash(&out[..8]));
    for (name, value) in headers {
        out.put_u8(name.len() as u8);
        out.put_slice(name.as_bytes());
        // Type 7: a string, its length in two bytes.
        out.put_u8(7);
        out.put_u16(value.len() as u16);
        out.put_slice(value.as_bytes());
    }
    out.put_slice(payload);
    out.put_u32(crc32fast::hash(&out));
    out.freeze()
}

/// An event of type `kind` with a JSON payload.
pub fn event(kind: &str, payload: &serde_json::Value) -> Bytes {
    message(
        &[
            (":event-type", kind),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.to_string().as_bytes(),
    )
}

/// An exception mid-stream (`throttlingException`, `modelStreamErrorException`...).
pub fn exception(kind: &str, message_text: &str) -> Bytes {
    message(
        &[
            (":exception-type", kind),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        serde_json::json!({ "message": message_text })
            .to_string()
            .as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The frames of the fixture botocore reads (tests/fixtures/eventstream/), encoded
    /// again from the messages botocore decoded from them: the same bytes.
    #[test]
    fn encodes_the_frames_botocore_reads() {
        let fixture = include_bytes!("../../tests/fixtures/eventstream/converse-stream.bin");
        let decoded: serde_json::Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/eventstream/messages.json"
        ))
        .unwrap();
        let mut again = Vec::new();
        for m in decoded["converse-stream"].as_array().unwrap() {
            let h = &m["headers"];
            let headers: Vec<(&str, &str)> = [":event-type", ":content-type", ":message-type"]
                .iter()
                .map(|k| (*k, h[*k].as_str().unwrap()))
                .collect();
            again.extend_from_slice(&message(
                &headers,
                m["payload"].as_str().unwrap().as_bytes(),
            ));
        }
        assert_eq!(again, fixture.to_vec());
    }
}
