//! An incremental scanner that finds the elements of the first array in a streamed JSON
//! document, one after the other: for a `learning_plan`, its modules.
//!
//! It is fed the text as it arrives and looks at each byte once, tracking only nesting depth and
//! whether it is inside a string, so it costs nothing noticeable beside the stream.
//! It reports the byte range of each element when its closing brace arrives; opening bytes
//! alone (`{"modules":[{"title":"x"`) report nothing. The first element decides the adaptive
//! deadline; every element is a module preview (issue #11). Fed a `learning_module` answer (one
//! module, whose first array is its tasks), it finds each task (issue #21: the module's drafts).

/// Scanner state.
#[derive(Debug, Default, Clone)]
pub struct ElementScanner {
    scanned: usize,
    depth: u32,
    in_string: bool,
    escaped: bool,
    array_open: bool,
    array_closed: bool,
    start: Option<usize>,
}

impl ElementScanner {
    /// Scans what `text` gained since the last call (the caller appends to one buffer) and
    /// returns the byte range of the next complete element, if one closed. Call it again until it
    /// returns `None`: one chunk may complete several elements.
    pub fn next_element(&mut self, text: &str) -> Option<(usize, usize)> {
        if self.array_closed {
            return None;
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
                    if self.depth == 3
                        && let Some(start) = self.start.take()
                    {
                        self.depth = 2;
                        self.scanned = at + 1;
                        return Some((start, at + 1));
                    }
                    if self.depth == 2 && self.array_open {
                        self.array_closed = true;
                        self.scanned = at + 1;
                        return None;
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

    /// Every element found, feeding `doc` in pieces of `piece` characters.
    fn elements_in_pieces(doc: &str, piece: usize) -> Vec<String> {
        let mut scanner = ElementScanner::default();
        let mut buf = String::new();
        let mut found = Vec::new();
        let chars: Vec<char> = doc.chars().collect();
        for chunk in chars.chunks(piece) {
            buf.extend(chunk);
            while let Some((a, b)) = scanner.next_element(&buf) {
                found.push(buf[a..b].to_owned());
            }
        }
        found
    }

    fn feed_in_pieces(doc: &str, piece: usize) -> Option<String> {
        elements_in_pieces(doc, piece).into_iter().next()
    }

    #[test]
    fn opening_bytes_alone_find_nothing() {
        let mut s = ElementScanner::default();
        assert_eq!(s.next_element(r#"{"modules":[{"title":"x""#), None);
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
        let mut s = ElementScanner::default();
        assert_eq!(s.next_element(r#"{"modules":[]}"#), None);
    }

    #[test]
    fn every_element_is_found_in_order_whatever_the_chunking() {
        let doc = r#"{"modules":[{"title":"a ] }","tasks":[{"t":1},{"t":2}]},{"title":"b \" {"},{"title":"c","tasks":[]}],"tail":[{"x":1}]}"#;
        for piece in [1, 2, 5, 13, 1000] {
            let found = elements_in_pieces(doc, piece);
            assert_eq!(found.len(), 3, "piece {piece}: {found:?}");
            let titles: Vec<String> = found
                .iter()
                .map(|f| serde_json::from_str::<serde_json::Value>(f).unwrap()["title"].to_string())
                .collect();
            assert_eq!(titles, [r#""a ] }""#, r#""b \" {""#, r#""c""#]);
        }
    }

    #[test]
    fn in_a_single_module_the_tasks_are_the_elements() {
        let doc = r#"{"title":"M [1]","estimated_minutes":30,"description":"{x}","tasks":[{"title":"a","estimated_minutes":5,"description":null},{"title":"b ]}","estimated_minutes":5,"description":"\\"}]}"#;
        for piece in [1, 4, 1000] {
            let found = elements_in_pieces(doc, piece);
            assert_eq!(found.len(), 2, "piece {piece}: {found:?}");
            let v: serde_json::Value = serde_json::from_str(&found[1]).unwrap();
            assert_eq!(v["title"], "b ]}");
        }
    }

    proptest::proptest! {
        /// Whatever the texts and the chunking, a module's tasks are found, each exactly as it
        /// was written, in order.
        #[test]
        fn a_modules_tasks_are_found_whatever_the_texts_and_chunks(
            title in "\\PC{0,20}",
            tasks in proptest::collection::vec(("\\PC{0,20}", proptest::option::of("[ -~]{0,20}"), 5u32..=120), 0..8),
            piece in 1usize..40,
        ) {
            let tasks: Vec<serde_json::Value> = tasks
                .iter()
                .map(|(t, d, m)| serde_json::json!({"title": t, "estimated_minutes": m, "description": d}))
                .collect();
            let doc = serde_json::json!({"title": title, "estimated_minutes": 30, "description": null, "tasks": tasks});
            let text = serde_json::to_string(&doc).unwrap();
            let found: Vec<serde_json::Value> = elements_in_pieces(&text, piece)
                .iter()
                .map(|f| serde_json::from_str(f).unwrap())
                .collect();
            proptest::prop_assert_eq!(found, tasks);
        }
    }

    #[test]
    fn a_chunk_that_closes_several_elements_reports_each() {
        let mut s = ElementScanner::default();
        let text = r#"{"modules":[{"a":1},{"b":2},{"c""#;
        assert_eq!(s.next_element(text), Some((12, 19)));
        assert_eq!(s.next_element(text), Some((20, 27)));
        assert_eq!(s.next_element(text), None);
        let text = format!("{text}:3}}]}}");
        assert_eq!(s.next_element(&text), Some((28, 35)));
        assert_eq!(s.next_element(&text), None);
    }
}
