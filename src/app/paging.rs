//! Keyset pagination with opaque page tokens bound to the filters they were issued for.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{Error, Result};

/// Page size when the caller gives none.
pub const DEFAULT_PAGE_SIZE: i64 = 50;
/// Largest page; larger requests are served this many.
pub const MAX_PAGE_SIZE: i64 = 1000;

/// Where a page starts and how long it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Rows with ids above this one.
    pub after_id: i64,
    /// Rows in the page.
    pub size: i64,
    fingerprint: u64,
}

impl Page {
    /// Reads a caller's page size and token. `filters` is anything that identifies the
    /// filters of the listing, so that a token is refused with other filters.
    pub fn parse(page_size: i32, page_token: &str, filters: &impl std::fmt::Debug) -> Result<Page> {
        let fingerprint = fnv1a(format!("{filters:?}").as_bytes());
        let size = match i64::from(page_size) {
            size if size < 0 => {
                return Err(Error::invalid_field("page_size", "must not be negative"));
            }
            0 => DEFAULT_PAGE_SIZE,
            size => size.min(MAX_PAGE_SIZE),
        };
        if page_token.is_empty() {
            return Ok(Page { after_id: 0, size, fingerprint });
        }
        let invalid = || Error::invalid_field("page_token", "is not a token this listing issued");
        let decoded = URL_SAFE_NO_PAD.decode(page_token).map_err(|_| invalid())?;
        let text = String::from_utf8(decoded).map_err(|_| invalid())?;
        let (after_id, issued_for) = text.split_once('.').ok_or_else(invalid)?;
        let after_id: i64 = after_id.parse().map_err(|_| invalid())?;
        let issued_for = u64::from_str_radix(issued_for, 16).map_err(|_| invalid())?;
        if issued_for != fingerprint {
            return Err(Error::invalid_field("page_token", "was issued for other filters"));
        }
        Ok(Page { after_id, size, fingerprint })
    }

    /// Rows to fetch: one more than the page, to learn whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        self.size + 1
    }

    /// Cuts `rows` (fetched with [`Page::fetch_limit`]) to the page and returns the token of
    /// the next page, empty when this is the last.
    pub fn finish<T>(&self, rows: &mut Vec<T>, id_of: impl Fn(&T) -> i64) -> String {
        if rows.len() as i64 <= self.size {
            return String::new();
        }
        rows.truncate(self.size as usize);
        let last = rows.last().map(id_of).unwrap_or(self.after_id);
        URL_SAFE_NO_PAD.encode(format!("{last}.{:x}", self.fingerprint))
    }
}

/// FNV-1a: stable across processes and replicas, unlike the standard library's hasher seeds.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_are_bound_to_filters() {
        let page = Page::parse(2, "", &"layer=ODS").unwrap();
        let mut rows = vec![10, 11, 12];
        let token = page.finish(&mut rows, |id| *id);
        assert_eq!(rows, [10, 11]);
        let next = Page::parse(2, &token, &"layer=ODS").unwrap();
        assert_eq!(next.after_id, 11);
        assert!(Page::parse(2, &token, &"layer=DWD").is_err());
        assert!(Page::parse(2, "garbage", &"layer=ODS").is_err());
        assert!(Page::parse(-1, "", &"").is_err());
        assert_eq!(Page::parse(5000, "", &"").unwrap().size, MAX_PAGE_SIZE);
    }

    #[test]
    fn last_page_has_no_token() {
        let page = Page::parse(3, "", &()).unwrap();
        let mut rows = vec![1, 2, 3];
        assert_eq!(page.finish(&mut rows, |id| *id), "");
        assert_eq!(rows.len(), 3);
    }
}
