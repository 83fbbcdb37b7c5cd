//! Turning the server's error position into a line and column of the file.

/// 1-based (line, column) of the character at 1-based character `position` in `text`.
/// Columns count characters, as PostgreSQL's positions do. `None` when the position
/// lies outside `text`.
pub fn line_column(text: &str, position: usize) -> Option<(usize, usize)> {
    if position == 0 {
        return None;
    }
    let mut line = 1;
    let mut column = 1;
    for (index, character) in text.chars().enumerate() {
        if index + 1 == position {
            return Some((line, column));
        }
        if character == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    // PostgreSQL may point just past the end (e.g. "syntax error at end of input").
    (position == text.chars().count() + 1).then_some((line, column))
}

/// The number of characters in `text` before byte offset `byte_offset`.
pub fn char_count_before(text: &str, byte_offset: usize) -> usize {
    text[..byte_offset].chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_character() {
        assert_eq!(line_column("SELECT 1", 1), Some((1, 1)));
    }

    #[test]
    fn later_lines_restart_columns() {
        let text = "CREATE TABLE a ();\nSELEC 1;\n";
        assert_eq!(line_column(text, 20), Some((2, 1)));
        assert_eq!(line_column(text, 22), Some((2, 3)));
    }

    #[test]
    fn counts_characters_not_bytes() {
        let text = "-- é\nSELECT x";
        // 'S' is the 6th character (the é is one character, two bytes).
        assert_eq!(line_column(text, 6), Some((2, 1)));
    }

    #[test]
    fn end_of_input_and_out_of_range() {
        assert_eq!(line_column("SELECT", 7), Some((1, 7)));
        assert_eq!(line_column("SELECT", 8), None);
        assert_eq!(line_column("SELECT", 0), None);
    }

    #[test]
    fn char_count_before_multibyte() {
        assert_eq!(char_count_before("éa", 2), 1);
        assert_eq!(char_count_before("éa", 3), 2);
    }
}
