//! Readable synthetic text cut to an exact token count, from a corpus shipped in the repo
//! (`corpus.txt`): no downloads, and the count the endpoint reports matches the plan.

use mock_server::tokens::{Encoding, ANSWER_WORDS};
use rand::Rng;
use std::sync::OnceLock;

const CORPUS: &str = include_str!("corpus.txt");

/// The corpus encoded once per encoding.
pub struct PromptText {
    encoding: Encoding,
    ids: Vec<u32>,
}

static CL100K: OnceLock<PromptText> = OnceLock::new();
static O200K: OnceLock<PromptText> = OnceLock::new();

impl PromptText {
    pub fn get(encoding: Encoding) -> &'static PromptText {
        let cell = match encoding {
            Encoding::Cl100kBase => &CL100K,
            Encoding::O200kBase => &O200K,
        };
        cell.get_or_init(|| PromptText {
            encoding,
            ids: encoding.bpe().encode_ordinary(CORPUS),
        })
    }

    /// Text of exactly `n` tokens, starting at a random place in the corpus (wrapping).
    pub fn text<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> String {
        if n == 0 {
            return String::new();
        }
        let start = rng.random_range(0..self.ids.len());
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
    fn text_is_readable_corpus_prose() {
        let t = PromptText::get(Encoding::Cl100kBase).text(200, &mut ChaCha8Rng::seed_from_u64(1));
        assert!(t.split_whitespace().count() > 100);
        assert!(t.is_ascii());
    }
}
