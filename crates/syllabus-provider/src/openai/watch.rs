//! The modules of a `learning_plan` answer watched as they stream: each valid one is sent as a
//! preview, and the first, when valid and on time, extends the call's deadline.

use serde_json::Value;
use syllabus_domain::plan::validate_module;
use tokio::time::Instant;

use crate::failure::AttemptFacts;
use crate::port::{ModulePreview, PreviewSender};
use crate::scan::ElementScanner;

/// For a `learning_plan` call: watch the modules as they stream, for the adaptive deadline and
/// for previews.
pub(super) struct ModuleWatch {
    scanner: ElementScanner,
    /// The next module's index.
    next: usize,
    /// Where valid modules go as previews; `None` once a module failed (the attempt will fail
    /// validation: its later modules are not shown) or when nobody listens.
    previews: Option<PreviewSender>,
}

impl ModuleWatch {
    /// Watches an answer from its start, sending previews to `previews` when given.
    pub(super) fn new(previews: Option<PreviewSender>) -> Self {
        Self {
            scanner: ElementScanner::default(),
            next: 0,
            previews,
        }
    }

    /// Looks at the modules completed since the last look: each valid one is sent as a preview;
    /// the first, when valid and `on_time`, extends the deadline (returns `true`, once).
    pub(super) fn look(
        &mut self,
        text: &str,
        started: Instant,
        on_time: bool,
        facts: &mut AttemptFacts,
    ) -> bool {
        if self.next > 0 && self.previews.is_none() {
            // The first module has decided the deadline and no preview is wanted any more: the
            // rest of the answer is not parsed twice.
            return false;
        }
        let mut extend = false;
        while let Some((from, to)) = self.scanner.next_element(text) {
            let index = self.next;
            self.next += 1;
            let module = text
                .get(from..to)
                .and_then(|s| serde_json::from_str::<Value>(s).ok())
                .and_then(|v| validate_module(&v, index).ok());
            let Some(module) = module else {
                // An invalid module fails the attempt; nothing after it is shown.
                self.previews = None;
                continue;
            };
            if index == 0 {
                let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                facts.first_module_ms = Some(elapsed_ms);
                if on_time {
                    extend = true;
                    facts.timeout_extended = true;
                    tracing::debug!(elapsed_ms, "first module complete: deadline extended");
                }
            }
            if index >= syllabus_domain::plan::MAX_MODULES {
                self.previews = None;
            }
            if let Some(tx) = &self.previews
                && tx.send(ModulePreview { index, module }).is_err()
            {
                self.previews = None;
            }
        }
        extend
    }
}
