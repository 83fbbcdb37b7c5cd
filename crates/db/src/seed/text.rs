//! What the seed derives from a scene's Markdown: its word count and its mentions.

/// Words in `markdown`: whitespace-separated tokens holding at least one letter or digit,
/// so Markdown markers (`>`, `*`, `---`) do not count.
pub fn word_count(markdown: &str) -> i32 {
    let words = markdown
        .split_whitespace()
        .filter(|token| token.chars().any(char::is_alphanumeric))
        .count();
    i32::try_from(words).unwrap_or(i32::MAX)
}

/// How many times `text` names an entity through any of `forms` (its name and aliases),
/// matching whole words, case-sensitively. Where forms overlap ("Mara Quill" and "Mara"),
/// the longest one counts once.
pub fn mention_count(text: &str, forms: &[&str]) -> i32 {
    let mut forms: Vec<&str> = forms
        .iter()
        .copied()
        .filter(|form| !form.is_empty())
        .collect();
    forms.sort_by_key(|form| std::cmp::Reverse(form.len()));
    let mut claimed = vec![false; text.len()];
    let mut count = 0;
    for form in forms {
        for (start, matched) in text.match_indices(form) {
            let end = start + matched.len();
            if is_word_boundary(text, start, end) && !claimed[start..end].contains(&true) {
                claimed[start..end].fill(true);
                count += 1;
            }
        }
    }
    count
}

fn is_word_boundary(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_count_skips_markdown_markers() {
        assert_eq!(word_count("> *If they ask you,* do not.\n\n---\n"), 6);
        assert_eq!(word_count(""), 0);
    }

    #[test]
    fn mention_count_matches_whole_words_and_prefers_the_longest_form() {
        let text = "Mara Quill went down. Mara ran. Marab is not her. Tobias met Mara.";
        assert_eq!(mention_count(text, &["Mara", "Mara Quill"]), 3);
        assert_eq!(mention_count(text, &["Toby"]), 0);
        assert_eq!(mention_count(text, &["Tobias", ""]), 1);
    }

    #[test]
    fn mention_count_is_case_sensitive() {
        assert_eq!(mention_count("the Light and the light", &["the Light"]), 1);
    }
}
