//! Following an API's cursors through every page of a listing, once for
//! every provider.

use std::future::Future;

use super::ProviderError;

/// A listing longer than this many pages is taken to be an API that keeps
/// answering the same cursor, not a real collection.
const MAX_PAGES: usize = 10_000;

/// Every row of a cursor-paginated listing: `fetch(cursor)` returns one
/// page and the cursor of the next (`None` after the last).
pub async fn all_pages<T, F, Fut>(mut fetch: F) -> Result<Vec<T>, ProviderError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<String>), ProviderError>>,
{
    let mut rows = Vec::new();
    let mut cursor = None;
    for _ in 0..MAX_PAGES {
        let (page, next) = fetch(cursor.clone()).await?;
        rows.extend(page);
        match next.filter(|n| !n.is_empty()) {
            Some(next) if Some(&next) == cursor.as_ref() => break,
            Some(next) => cursor = Some(next),
            None => return Ok(rows),
        }
    }
    Err(ProviderError::Invalid(format!(
        "a listing kept giving the same next page (or more than {MAX_PAGES} pages); stopped reading it"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_is_read_until_the_cursor_runs_out() {
        let pages = futures::executor::block_on(all_pages(|cursor: Option<String>| async move {
            Ok(match cursor.as_deref() {
                None => (vec![1, 2], Some("b".to_string())),
                Some("b") => (vec![3], Some("c".to_string())),
                _ => (vec![4], None),
            })
        }));
        assert_eq!(pages.ok(), Some(vec![1, 2, 3, 4]));
    }

    #[test]
    fn a_cursor_that_repeats_itself_stops_the_listing() {
        let pages = futures::executor::block_on(all_pages(|_| async { Ok((vec![1], Some("same".to_string()))) }));
        assert!(pages.is_err());
    }
}
