//! Whole lines out of a byte stream that arrives in chunks, for the streaming filters of
//! pg_dump scripts (`roles::RoleFilter`, `script::Restrictor`).

/// The unfinished last line of what was pushed so far.
#[derive(Debug, Default)]
pub struct LineBuffer {
    pending: Vec<u8>,
}

impl LineBuffer {
    /// Calls `on_line` for each line (with its `\n`) that `chunk` completes, in order.
    pub fn push(&mut self, chunk: &[u8], mut on_line: impl FnMut(&[u8])) {
        let mut rest = chunk;
        while let Some(newline) = rest.iter().position(|&byte| byte == b'\n') {
            let (line, after) = rest.split_at(newline + 1);
            if self.pending.is_empty() {
                on_line(line);
            } else {
                let mut whole = std::mem::take(&mut self.pending);
                whole.extend_from_slice(line);
                on_line(&whole);
            }
            rest = after;
        }
        self.pending.extend_from_slice(rest);
    }

    /// The end of the stream: the last line if it had no `\n` (empty otherwise).
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_chunks_come_out_whole() {
        let mut buffer = LineBuffer::default();
        let mut lines = Vec::new();
        for chunk in [&b"SELE"[..], b"CT 1;\nSELECT", b" 2;\n\nCOPY", b" t"] {
            buffer.push(chunk, |line| lines.push(line.to_vec()));
        }
        assert_eq!(
            lines,
            [
                b"SELECT 1;\n".to_vec(),
                b"SELECT 2;\n".to_vec(),
                b"\n".to_vec()
            ]
        );
        assert_eq!(buffer.finish(), b"COPY t");
        assert!(buffer.finish().is_empty());
    }
}
