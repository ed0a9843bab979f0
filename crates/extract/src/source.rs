//! Finding a source's files: a file, a directory (every file below it) or a glob, on any
//! object store.
//!
//! Glob patterns use `*` (within one path segment), `**` (any depth), `?`, `[...]` and
//! `{a,b}`. Hidden files (`.name`) and Delta/Spark bookkeeping (`_name`) are skipped when
//! listing a directory or glob.

use std::sync::Arc;

use futures::TryStreamExt;
use globset::{GlobBuilder, GlobMatcher};
use object_store::path::Path as StorePath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use touchstone_core::store;
use url::Url;

/// One file of a source.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Its URL (for messages and lineage).
    pub url: Url,
    /// Its metadata (size, last modified, e_tag).
    pub meta: ObjectMeta,
}

/// Why a source's files cannot be listed.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// The URL cannot be opened.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The glob pattern is malformed.
    #[error("'{pattern}' is not a valid glob pattern: {reason}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// Why.
        reason: String,
    },
    /// Listing failed.
    #[error("cannot list {location}: {source}")]
    List {
        /// Where.
        location: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
}

/// The files `location` names, sorted by path. An empty list means nothing matched.
pub async fn list_files(
    location: &Url,
) -> Result<(Arc<dyn ObjectStore>, Vec<SourceFile>), ListError> {
    let listing = list_source(location).await?;
    Ok((listing.store, listing.files))
}

/// A source's files, and the files beside them that its pattern leaves out.
pub struct Listing {
    /// The store the files are in.
    pub store: Arc<dyn ObjectStore>,
    /// The files to read, sorted by path.
    pub files: Vec<SourceFile>,
    /// Files under the pattern's directory that it does not match (a glob only), sorted: a
    /// user who drops `events.json` next to `*.ndjson` files is told it was not read.
    pub ignored: Vec<Url>,
}

/// The compression suffixes read transparently: a pattern matches its compressed variants
/// (`*.ndjson` also matches `day.ndjson.gz`).
const COMPRESSED: [&str; 4] = [".gz", ".gzip", ".zst", ".zstd"];

fn without_compression(name: &str) -> Option<&str> {
    let lower = name.to_ascii_lowercase();
    COMPRESSED
        .iter()
        .find(|suffix| lower.ends_with(*suffix))
        .map(|suffix| &name[..name.len() - suffix.len()])
}

/// The files `location` names (a file, a directory, or a glob that also matches the
/// compressed variants of what it names), and for a glob the files it leaves out.
pub async fn list_source(location: &Url) -> Result<Listing, ListError> {
    let decoded_path = percent_decode(location.path());
    let glob_at = decoded_path.find(['*', '?', '[', '{']);
    let mut base = location.clone();
    let matcher: Option<GlobMatcher> = match glob_at {
        Some(at) => {
            let dir_end = decoded_path[..at].rfind('/').map_or(0, |i| i + 1);
            base.set_path(&decoded_path[..dir_end]);
            let pattern = decoded_path.trim_start_matches('/').to_string();
            let glob = GlobBuilder::new(&pattern)
                .literal_separator(true)
                .build()
                .map_err(|e| ListError::Pattern {
                    pattern: decoded_path.clone(),
                    reason: e.kind().to_string(),
                })?;
            Some(glob.compile_matcher())
        }
        None => None,
    };
    let (store, path) = store::open(&base)?;
    let list_error = |source| ListError::List {
        location: base.to_string(),
        source,
    };

    if matcher.is_none() && !location.path().ends_with('/') {
        match store.head(&path).await {
            Ok(meta) => {
                let file = SourceFile {
                    url: file_url(location, &meta.location),
                    meta,
                };
                return Ok(Listing {
                    store,
                    files: vec![file],
                    ignored: Vec::new(),
                });
            }
            Err(object_store::Error::NotFound { .. }) => {}
            // Some stores (local directories) answer head() on a directory with an error other
            // than NotFound; fall through to listing it.
            Err(_) => {}
        }
    }
    let prefix = if path.as_ref().is_empty() {
        None
    } else {
        Some(&path)
    };
    let visible_files: Vec<ObjectMeta> = store
        .list(prefix)
        .map_err(list_error)
        .try_filter(|meta| futures::future::ready(visible(&meta.location, &path)))
        .try_collect()
        .await?;
    let mut files = Vec::new();
    let mut ignored = Vec::new();
    for meta in visible_files {
        let name = meta.location.as_ref();
        let keep = matcher.as_ref().is_none_or(|m| {
            m.is_match(name) || without_compression(name).is_some_and(|n| m.is_match(n))
        });
        let url = file_url(location, &meta.location);
        if keep {
            files.push(SourceFile { url, meta });
        } else {
            ignored.push(url);
        }
    }
    files.sort_by(|a, b| a.meta.location.cmp(&b.meta.location));
    ignored.sort();
    Ok(Listing {
        store,
        files,
        ignored,
    })
}

fn visible(location: &StorePath, under: &StorePath) -> bool {
    let relative = location.prefix_match(under);
    match relative {
        Some(parts) => parts
            .into_iter()
            .all(|p| !p.as_ref().starts_with('.') && !p.as_ref().starts_with('_')),
        None => true,
    }
}

fn file_url(template: &Url, location: &StorePath) -> Url {
    let mut url = template.clone();
    url.set_path(&format!("/{location}"));
    url
}

fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(v) = u8::from_str_radix(&path[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads a whole object.
pub async fn read_bytes(
    store: &dyn ObjectStore,
    file: &SourceFile,
) -> Result<bytes::Bytes, ListError> {
    let result = store
        .get(&file.meta.location)
        .await
        .map_err(|source| ListError::List {
            location: file.url.to_string(),
            source,
        })?;
    result.bytes().await.map_err(|source| ListError::List {
        location: file.url.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn touch(dir: &Path, rel: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    async fn names(location: &str, base: &Path) -> Vec<String> {
        let url = store::resolve_location(location, base).unwrap();
        let (_, files) = list_files(&url).await.unwrap();
        files
            .iter()
            .map(|f| {
                f.url
                    .path()
                    .trim_start_matches(&format!("{}/", base.display()))
                    .to_string()
            })
            .collect()
    }

    #[tokio::test]
    async fn files_directories_and_globs() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        touch(base, "raw/salesforce/Contact.csv");
        touch(base, "raw/salesforce/Order.csv.gz");
        touch(base, "raw/salesforce/.hidden.csv");
        touch(base, "raw/web/events-2026-08-01.ndjson");
        touch(base, "raw/web/2026/events-2026-08-02.ndjson");
        touch(base, "raw/web/_SUCCESS");
        assert_eq!(
            names("raw/salesforce/Contact.csv", base).await,
            ["raw/salesforce/Contact.csv"]
        );
        assert_eq!(
            names("raw/salesforce", base).await,
            ["raw/salesforce/Contact.csv", "raw/salesforce/Order.csv.gz"]
        );
        assert_eq!(
            names("raw/web/*.ndjson", base).await,
            ["raw/web/events-2026-08-01.ndjson"]
        );
        assert_eq!(
            names("raw/web/**/*.ndjson", base).await,
            [
                "raw/web/2026/events-2026-08-02.ndjson",
                "raw/web/events-2026-08-01.ndjson"
            ]
        );
        assert!(names("raw/nope.csv", base).await.is_empty());
        assert!(names("raw/web/*.csv", base).await.is_empty());
    }

    #[tokio::test]
    async fn memory_store_listing() {
        let url = Url::parse("memory://list-test/raw/").unwrap();
        let (store, path) = store::open(&url).unwrap();
        store
            .put(
                &path.clone().join("a.json"),
                bytes::Bytes::from_static(b"{}").into(),
            )
            .await
            .unwrap();
        let (_, files) = list_files(&Url::parse("memory://list-test/raw/*.json").unwrap())
            .await
            .unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].url.as_str(), "memory://list-test/raw/a.json");
    }
}
