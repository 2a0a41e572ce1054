//! An incremental scanner that finds the first element of the first array in a streamed JSON
//! document: for a `learning_plan`, the first module.
//!
//! It is fed the text as it arrives and looks at each byte once, tracking only nesting depth and
//! whether it is inside a string, so it costs nothing noticeable beside the stream.
//! It reports the byte range of the first element when its closing brace arrives; opening bytes
//! alone (`{"modules":[{"title":"x"`) report nothing.

/// Scanner state.
#[derive(Debug, Default, Clone)]
pub struct FirstElementScanner {
    scanned: usize,
    depth: u32,
    in_string: bool,
    escaped: bool,
    array_open: bool,
    start: Option<usize>,
    found: Option<(usize, usize)>,
}

impl FirstElementScanner {
    /// Scans what `text` gained since the last call (the caller appends to one buffer) and returns
    /// the byte range of the first element once it is complete.
    pub fn feed(&mut self, text: &str) -> Option<(usize, usize)> {
        if self.found.is_some() {
            return self.found;
        }
        let bytes = text.as_bytes();
        let from = self.scanned.min(bytes.len());
        for (offset, &b) in bytes.get(from..).unwrap_or_default().iter().enumerate() {
            let at = from + offset;
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => {
                    self.depth += 1;
                    if b == b'[' && self.depth == 2 && !self.array_open {
                        self.array_open = true;
                    } else if self.array_open && self.depth == 3 && self.start.is_none() {
                        self.start = Some(at);
                    }
                }
                b'}' | b']' => {
                    if let (Some(start), 3) = (self.start, self.depth) {
                        self.found = Some((start, at + 1));
                        self.scanned = at + 1;
                        return self.found;
                    }
                    self.depth = self.depth.saturating_sub(1);
                }
                _ => {}
            }
        }
        self.scanned = bytes.len();
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_in_pieces(doc: &str, piece: usize) -> Option<String> {
        let mut scanner = FirstElementScanner::default();
        let mut buf = String::new();
        let chars: Vec<char> = doc.chars().collect();
        for chunk in chars.chunks(piece) {
            buf.extend(chunk);
            if let Some((a, b)) = scanner.feed(&buf) {
                return Some(buf[a..b].to_owned());
            }
        }
        None
    }

    #[test]
    fn opening_bytes_alone_find_nothing() {
        let mut s = FirstElementScanner::default();
        assert_eq!(s.feed(r#"{"modules":[{"title":"x""#), None);
    }

    #[test]
    fn the_first_module_is_found_when_its_brace_closes() {
        let doc = r#"{"modules":[{"title":"a } ] \" tricky","estimated_minutes":30,"tasks":[{"title":"t","estimated_minutes":5}]},{"title":"b"}]}"#;
        for piece in [1, 2, 3, 7, 1000] {
            let first = feed_in_pieces(doc, piece).unwrap();
            assert!(
                first.starts_with(r#"{"title":"a } ] \" tricky""#),
                "{first}"
            );
            assert!(first.ends_with("}]}"), "{first}");
            let v: serde_json::Value = serde_json::from_str(&first).unwrap();
            assert_eq!(v["tasks"][0]["title"], "t");
        }
    }

    #[test]
    fn an_empty_array_finds_nothing() {
        let mut s = FirstElementScanner::default();
        assert_eq!(s.feed(r#"{"modules":[]}"#), None);
    }
}
