//! Paging of lists: the request and the page.

use uuid::Uuid;

/// A page of a list and the cursor of the next one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items, newest first.
    pub items: Vec<T>,
    /// Where the next page starts, or `None` on the last page.
    pub next_cursor: Option<Uuid>,
}

impl<T> Page<T> {
    /// The page of rows read newest first with [`PageRequest::fetch`]: the row past `size`, when
    /// there is one, only tells that more follow, and the last kept item is the cursor.
    pub(crate) fn from_fetched(mut items: Vec<T>, size: usize, id: impl Fn(&T) -> Uuid) -> Self {
        let more = items.len() > size;
        items.truncate(size);
        let next_cursor = if more { items.last().map(id) } else { None };
        Self { items, next_cursor }
    }
}

impl PageRequest {
    /// Items per page, clamped to 1–100.
    pub(crate) fn size(self) -> usize {
        usize::try_from(self.limit.clamp(1, 100)).unwrap_or(20)
    }

    /// Rows to read for a page: one more than [`Self::size`], to tell whether more follow.
    pub(crate) fn fetch(self) -> i64 {
        i64::from(self.limit.clamp(1, 100)) + 1
    }
}

/// Paging of a list: at most `limit` items older than `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Items per page (1–100).
    pub limit: u32,
    /// The previous page's `next_cursor`.
    pub after: Option<Uuid>,
}
