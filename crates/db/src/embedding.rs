//! Deterministic stand-in embeddings: no model, the same text always gives the same vector.
//!
//! Each component comes from a SHA-256 stream seeded with the text, so vectors of different
//! texts are unrelated and nearly orthogonal, like real embeddings of unrelated passages.
//! The vector is normalised, so cosine distance (`<=>`) behaves as with a real model.

use sha2::{Digest, Sha256};

/// The dimension of Nelo's embeddings: the `vector(1536)` columns of the schema.
pub const DIMENSIONS: usize = 1536;

/// The name recorded in the `model` column of rows whose vector comes from [`pseudo_embedding`].
pub const PSEUDO_MODEL: &str = "nelo-pseudo-sha256-v1";

/// A unit vector of [`DIMENSIONS`] components derived from `text` alone.
pub fn pseudo_embedding(text: &str) -> Vec<f32> {
    let seed = Sha256::digest(text.as_bytes());
    let mut components = Vec::with_capacity(DIMENSIONS);
    let mut block: u64 = 0;
    while components.len() < DIMENSIONS {
        let digest = Sha256::new()
            .chain_update(seed)
            .chain_update(block.to_le_bytes())
            .finalize();
        for word in digest.chunks_exact(4) {
            let value = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
            // Uniform in [-1, 1].
            components.push((f64::from(value) / f64::from(u32::MAX) * 2.0 - 1.0) as f32);
        }
        block += 1;
    }
    components.truncate(DIMENSIONS);
    normalise(&mut components);
    components
}

/// The pgvector text form of `vector`, `[x,y,...]`, to bind as text and cast with `::vector`.
pub fn vector_literal(vector: &[f32]) -> String {
    let components: Vec<String> = vector.iter().map(f32::to_string).collect();
    format!("[{}]", components.join(","))
}

fn normalise(vector: &mut [f32]) {
    let norm = vector
        .iter()
        .map(|component| f64::from(*component).powi(2))
        .sum::<f64>()
        .sqrt();
    if norm > 0.0 {
        for component in vector.iter_mut() {
            *component = (f64::from(*component) / norm) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(vector: &[f32]) -> f64 {
        vector
            .iter()
            .map(|c| f64::from(*c).powi(2))
            .sum::<f64>()
            .sqrt()
    }

    fn cosine(left: &[f32], right: &[f32]) -> f64 {
        left.iter()
            .zip(right)
            .map(|(l, r)| f64::from(*l) * f64::from(*r))
            .sum::<f64>()
            / (norm(left) * norm(right))
    }

    #[test]
    fn same_text_gives_the_same_unit_vector() {
        let first = pseudo_embedding("The lamp turned all night.");
        let second = pseudo_embedding("The lamp turned all night.");
        assert_eq!(first, second);
        assert_eq!(first.len(), DIMENSIONS);
        assert!((norm(&first) - 1.0).abs() < 1e-5, "norm {}", norm(&first));
    }

    #[test]
    fn different_texts_give_nearly_orthogonal_vectors() {
        let lamp = pseudo_embedding("The lamp turned all night.");
        let harbour = pseudo_embedding("The harbour froze in January.");
        assert_ne!(lamp, harbour);
        assert!(cosine(&lamp, &harbour).abs() < 0.15);
    }

    #[test]
    fn literal_is_pgvector_text_form() {
        assert_eq!(vector_literal(&[0.5, -1.0, 0.25]), "[0.5,-1,0.25]");
        let literal = vector_literal(&pseudo_embedding("x"));
        assert_eq!(literal.matches(',').count(), DIMENSIONS - 1);
    }
}
