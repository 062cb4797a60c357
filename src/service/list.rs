//! Listing: prefix, delimiter (common prefixes), markers, paging.
//!
//! Keys are visited in UTF-8 byte order straight from the bucket's ordered tree, starting at the
//! first key that can qualify; a common prefix is emitted once and then skipped over by seeking
//! past every key that starts with it, so a page costs O(page size) however large the bucket.

use super::{Service, ServiceError};
use crate::storage::records::ObjectRecord;

#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// Exclusive lower bound: StartAfter, Marker, or a continuation token's key.
    pub after: Option<String>,
    pub max_keys: usize,
}

#[derive(Debug, Default)]
pub struct ListPage {
    pub objects: Vec<(String, ObjectRecord)>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
    /// The last key or common prefix in this page (for NextMarker / continuation tokens).
    pub last: Option<String>,
}

/// The smallest byte string greater than every string starting with `p` (`None`: no such
/// string, `p` is all 0xFF).
fn prefix_successor(p: &[u8]) -> Option<Vec<u8>> {
    let mut v = p.to_vec();
    while let Some(last) = v.pop() {
        if last < 0xFF {
            v.push(last + 1);
            return Some(v);
        }
    }
    None
}

impl Service {
    pub fn list_objects(
        &self,
        bucket: &str,
        params: &ListParams,
    ) -> Result<ListPage, ServiceError> {
        let mut page = ListPage::default();
        if params.max_keys == 0 {
            // Still an error for a missing bucket.
            self.head_bucket(bucket)?;
            return Ok(page);
        }
        let prefix = params.prefix.as_bytes();
        let mut start: Vec<u8> = prefix.to_vec();
        if let Some(after) = &params.after
            && after.as_bytes() >= start.as_slice()
        {
            // First key strictly after `after`.
            start = after.as_bytes().to_vec();
            start.push(0);
        }
        'seek: loop {
            let iter = self.store.list_objects_from(bucket, &start)?;
            for item in iter {
                let (key, record) = item?;
                let kb = key.as_bytes();
                if !kb.starts_with(prefix) {
                    break 'seek;
                }
                if let Some(d) = params.delimiter.as_deref().filter(|d| !d.is_empty())
                    && let Some(pos) = key[prefix.len()..].find(d)
                {
                    let cp = &key[..prefix.len() + pos + d.len()];
                    let skip_to = prefix_successor(cp.as_bytes());
                    let already = params.after.as_deref().is_some_and(|a| a >= cp);
                    if !already {
                        if page.objects.len() + page.common_prefixes.len() >= params.max_keys {
                            page.truncated = true;
                            break 'seek;
                        }
                        page.common_prefixes.push(cp.to_string());
                        page.last = Some(cp.to_string());
                    }
                    match skip_to {
                        Some(s) => {
                            start = s;
                            continue 'seek;
                        }
                        None => break 'seek,
                    }
                }
                if page.objects.len() + page.common_prefixes.len() >= params.max_keys {
                    page.truncated = true;
                    break 'seek;
                }
                page.last = Some(key.clone());
                page.objects.push((key, record));
            }
            break;
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_successor;

    #[test]
    fn successor() {
        assert_eq!(prefix_successor(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(prefix_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff\xff"), None);
    }
}
