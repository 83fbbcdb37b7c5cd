//! Prisma's migration checksum: lowercase hex SHA-256 of `migration.sql`.

use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of `bytes`, as Prisma stores it in `_prisma_migrations.checksum`.
pub fn checksum(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    // By table into a string of the right size: `status` makes one per migration file.
    let mut text = String::with_capacity(64);
    for byte in Sha256::digest(bytes) {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// Whether `stored` is the checksum of `bytes`, or of `bytes` with its line endings
/// converted CRLF -> LF or LF -> CRLF (a Windows checkout is not a modification).
pub fn checksum_matches(stored: &str, bytes: &[u8], bytes_checksum: &str) -> bool {
    if stored.eq_ignore_ascii_case(bytes_checksum) {
        return true;
    }
    let to_lf = crlf_to_lf(bytes);
    if to_lf != bytes && stored.eq_ignore_ascii_case(&checksum(&to_lf)) {
        return true;
    }
    let to_crlf = lf_to_crlf(&to_lf);
    to_crlf != bytes && stored.eq_ignore_ascii_case(&checksum(&to_crlf))
}

fn crlf_to_lf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'\r' && bytes.get(index + 1) == Some(&b'\n') {
            index += 1;
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    out
}

fn lf_to_crlf(lf_bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(lf_bytes.len() + lf_bytes.len() / 16);
    for &byte in lf_bytes {
        if byte == b'\n' {
            out.push(b'\r');
        }
        out.push(byte);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_sha256() {
        assert_eq!(
            checksum(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn line_ending_variants_match_both_ways() {
        let lf = b"CREATE TABLE a (id int);\nSELECT 1;\n";
        let crlf = b"CREATE TABLE a (id int);\r\nSELECT 1;\r\n";
        assert!(checksum_matches(&checksum(lf), crlf, &checksum(crlf)));
        assert!(checksum_matches(&checksum(crlf), lf, &checksum(lf)));
        assert!(checksum_matches(&checksum(lf), lf, &checksum(lf)));
    }

    #[test]
    fn different_content_does_not_match() {
        let original = b"SELECT 1;\n";
        let edited = b"SELECT 2;\n";
        assert!(!checksum_matches(
            &checksum(original),
            edited,
            &checksum(edited)
        ));
    }

    #[test]
    fn uppercase_stored_checksum_matches() {
        let bytes = b"SELECT 1;";
        let upper = checksum(bytes).to_uppercase();
        assert!(checksum_matches(&upper, bytes, &checksum(bytes)));
    }
}
