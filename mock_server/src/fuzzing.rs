//! Entry point for fuzzing the mock's request reading, shared by the cargo-fuzz target
//! under `fuzz/` and the property tests: the first byte picks the wire format, the rest
//! is the request body. A body is read into a request or refused with an error of one
//! line, and the prompt the mock counts in it equals the planner's tiktoken count.

use crate::chat::Wire;
use crate::count;
use crate::tokens::Encoding;

pub fn request(data: &[u8]) {
    let [w, body @ ..] = data else { return };
    let wire: &dyn Wire = match w % 5 {
        0 => &crate::openai::OpenAi,
        1 => &crate::openai::Azure,
        2 => &crate::anthropic::Anthropic,
        3 => &crate::bedrock::CONVERSE,
        _ => &crate::gemini::VERTEX,
    };
    let ask = match wire.parse(body) {
        Ok(ask) => ask,
        Err(e) => {
            assert!(!e.contains('\n'), "an error of several lines: {e:?}");
            return;
        }
    };
    for enc in [Encoding::Cl100kBase, Encoding::O200kBase] {
        let messages = || ask.messages.iter().map(|(r, t)| (r.as_str(), t.as_str()));
        assert_eq!(
            count::chat_prompt_tokens(enc, messages()),
            enc.chat_prompt_tokens(messages()),
            "{enc}: the mock's count differs from tiktoken's"
        );
        if let Some(tools) = &ask.tools {
            assert_eq!(count::count(enc, tools), enc.count(tools), "{enc}: tools");
        }
    }
}
