//! Readable synthetic text cut to an exact token count, from a corpus shipped in the repo
//! (`corpus.txt`): no downloads, and the count the endpoint reports matches the plan.

use mock_server::tokens::{Encoding, ANSWER_WORDS};
use rand::Rng;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// Text bytes each thread keeps of prompts already cut; beyond it texts are cut afresh.
const CACHE_BYTES: usize = 8 << 20;

/// Cut texts by (encoding, start, tokens), and the bytes they hold.
#[derive(Default)]
struct Cuts {
    texts: HashMap<(Encoding, u32, u32), Arc<str>>,
    bytes: usize,
}

thread_local! {
    /// Cutting re-encodes to check the count, which
    /// costs far more than a lookup, and calls of one feature reuse the same few cuts.
    static CUTS: RefCell<Cuts> = RefCell::new(Cuts::default());
}

const CORPUS: &str = include_str!("corpus.txt");

/// The corpus encoded once per encoding.
pub struct PromptText {
    encoding: Encoding,
    ids: Vec<u32>,
    /// Token positions where a sentence begins: prompts start there, as real text does.
    sentence_starts: Vec<u32>,
}

static CL100K: OnceLock<PromptText> = OnceLock::new();
static O200K: OnceLock<PromptText> = OnceLock::new();

impl PromptText {
    pub fn get(encoding: Encoding) -> &'static PromptText {
        let cell = match encoding {
            Encoding::Cl100kBase => &CL100K,
            Encoding::O200kBase => &O200K,
        };
        cell.get_or_init(|| {
            let ids = encoding.bpe().encode_ordinary(CORPUS);
            let sentence_starts = sentence_starts(encoding, &ids);
            PromptText {
                encoding,
                ids,
                sentence_starts,
            }
        })
    }

    /// Text of exactly `n` tokens, from the start of a random sentence of the corpus
    /// (wrapping around its end).
    pub fn text<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Arc<str> {
        if n == 0 {
            return Arc::from("");
        }
        let start = self.sentence_starts[rng.random_range(0..self.sentence_starts.len())];
        let key = (self.encoding, start, n as u32);
        if let Some(hit) = CUTS.with(|c| c.borrow().texts.get(&key).cloned()) {
            return hit;
        }
        let text: Arc<str> = self.cut(start as usize, n).into();
        CUTS.with(|c| {
            let cuts = &mut *c.borrow_mut();
            if cuts.bytes + text.len() <= CACHE_BYTES {
                cuts.bytes += text.len();
                cuts.texts.insert(key, text.clone());
            }
        });
        text
    }

    fn cut(&self, start: usize, n: usize) -> String {
        let mut take = n;
        // Cutting at token boundaries nearly always re-encodes to the same count; where a
        // merge across the cut changes it, nudge the cut and try again.
        for _ in 0..8 {
            let ids: Vec<u32> = self
                .ids
                .iter()
                .cycle()
                .skip(start)
                .take(take)
                .copied()
                .collect();
            let Ok(s) = self.encoding.bpe().decode(ids) else {
                break;
            };
            let got = self.encoding.count(&s);
            if got == n {
                return s;
            }
            take = (take as i64 + n as i64 - got as i64).max(1) as usize;
        }
        // Always exact: these words are one token each in every supported encoding.
        (0..n)
            .map(|i| ANSWER_WORDS[i % ANSWER_WORDS.len()])
            .collect()
    }
}

/// Positions of tokens that begin a sentence: the first token, and each token that
/// follows one ending in `.`, `?`, `!` or a line break.
fn sentence_starts(encoding: Encoding, ids: &[u32]) -> Vec<u32> {
    let bpe = encoding.bpe();
    let mut starts = vec![0u32];
    for (i, pair) in ids.windows(2).enumerate() {
        let prev = bpe.decode(vec![pair[0]]).unwrap_or_default();
        if prev.ends_with(['.', '?', '!', '\n']) {
            starts.push(i as u32 + 1);
        }
    }
    starts
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn texts_have_exact_token_counts() {
        for enc in [Encoding::Cl100kBase, Encoding::O200kBase] {
            let p = PromptText::get(enc);
            let mut rng = ChaCha8Rng::seed_from_u64(5);
            for n in [1, 2, 7, 64, 400, 1500, 5000] {
                for _ in 0..5 {
                    let t = p.text(n, &mut rng);
                    assert_eq!(enc.count(&t), n, "{enc} n={n}");
                }
            }
        }
    }

    #[test]
    fn prompts_begin_at_sentences() {
        let p = PromptText::get(Encoding::O200kBase);
        assert!(p.sentence_starts.len() >= 25, "{}", p.sentence_starts.len());
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..50 {
            let t = p.text(12, &mut rng);
            let first = t.trim_start().chars().next().unwrap();
            assert!(first.is_ascii_uppercase(), "{t:?}");
        }
    }

    #[test]
    fn text_is_readable_corpus_prose() {
        let t = PromptText::get(Encoding::Cl100kBase).text(200, &mut ChaCha8Rng::seed_from_u64(1));
        assert!(t.split_whitespace().count() > 100);
        assert!(t.is_ascii());
    }
}
