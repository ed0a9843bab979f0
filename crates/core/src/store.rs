//! Every location is an object-store URL.
//!
//! Plain paths become `file://` URLs (relative ones against a base directory); `file://`,
//! `memory://`, `s3://`, `s3a://`, `az://`, `azure://`, `abfs://`, `abfss://`, `gs://` and
//! `http(s)://` URLs go to the matching `object_store` backend. Credentials and endpoints come
//! from the usual environment variables (`AWS_ACCESS_KEY_ID`, `AWS_ENDPOINT_URL`,
//! `AWS_ALLOW_HTTP`, `AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_USE_EMULATOR`, ...).
//!
//! `memory://NAME/` stores live for the whole process, so one run can write and a later call
//! in the same process (a test, `touchstone query`) can read.
//!
//! ```
//! use touchstone_core::store::{resolve_url, join};
//! let base = std::path::Path::new("/srv/touchstone");
//! assert_eq!(resolve_url("warehouse", base).unwrap().as_str(), "file:///srv/touchstone/warehouse/");
//! assert_eq!(resolve_url("memory://wh", base).unwrap().as_str(), "memory://wh/");
//! let wh = resolve_url("s3://bucket/wh", base).unwrap();
//! assert_eq!(join(&wh, "marts/fct_touchpoints").unwrap().as_str(), "s3://bucket/wh/marts/fct_touchpoints/");
//! ```

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use object_store::ObjectStore;
use object_store::memory::InMemory;
use object_store::path::Path as StorePath;
use url::Url;

/// Why a location cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The text is neither a path nor a URL Touchstone understands.
    #[error("'{location}' is not a valid path or URL: {reason}")]
    InvalidUrl {
        /// What the user wrote.
        location: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A URL scheme no backend handles.
    #[error(
        "unsupported URL scheme '{scheme}' in '{location}'; use a path or one of file://, memory://, s3://, az://, abfss://, gs://, http(s)://"
    )]
    UnsupportedScheme {
        /// The scheme.
        scheme: String,
        /// The URL.
        location: String,
    },
    /// The backend refused the configuration (missing credentials, bad endpoint...).
    #[error("cannot open '{location}': {source}")]
    Backend {
        /// The URL.
        location: String,
        /// The backend's error.
        #[source]
        source: object_store::Error,
    },
}

/// Turns what a user wrote into an absolute URL that ends with `/` (a "directory").
///
/// Relative paths resolve against `base` (normally the current directory).
pub fn resolve_url(location: &str, base: &Path) -> Result<Url, StoreError> {
    let mut url = resolve_location(location, base)?;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// Like [`resolve_url`] but keeps the URL as written (a file, or a glob pattern).
pub fn resolve_location(location: &str, base: &Path) -> Result<Url, StoreError> {
    let invalid = |reason: &str| StoreError::InvalidUrl {
        location: location.to_string(),
        reason: reason.to_string(),
    };
    if location.trim().is_empty() {
        return Err(invalid("it is empty"));
    }
    let looks_like_url = location.split_once("://").is_some_and(|(scheme, _)| {
        scheme.len() > 1
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+')
    });
    if !looks_like_url {
        let path = Path::new(location);
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            base.join(path)
        };
        let normal = normalize(&absolute);
        let mut text = normal.to_string_lossy().into_owned();
        if location.ends_with('/') && !text.ends_with('/') {
            text.push('/');
        }
        // Escape only what a URL path cannot hold; glob characters stay readable.
        let encoded: String = text
            .chars()
            .flat_map(|c| match c {
                ' ' => "%20".chars().collect::<Vec<_>>(),
                '#' => "%23".chars().collect(),
                '%' => "%25".chars().collect(),
                c => vec![c],
            })
            .collect();
        return Url::parse(&format!("file://{encoded}")).map_err(|e| invalid(&e.to_string()));
    }
    let url = Url::parse(location).map_err(|e| invalid(&e.to_string()))?;
    match url.scheme() {
        "file" | "memory" | "s3" | "s3a" | "az" | "azure" | "abfs" | "abfss" | "adl" | "gs"
        | "http" | "https" => Ok(url),
        other => Err(StoreError::UnsupportedScheme {
            scheme: other.to_string(),
            location: location.to_string(),
        }),
    }
}

/// `base` (a directory URL) joined with a relative path, as a directory URL.
pub fn join(base: &Url, relative: &str) -> Result<Url, StoreError> {
    let relative = relative.trim_matches('/');
    let joined = if relative.is_empty() {
        base.clone()
    } else {
        base.join(&format!("{relative}/"))
            .map_err(|e| StoreError::InvalidUrl {
                location: format!("{base}{relative}"),
                reason: e.to_string(),
            })?
    };
    Ok(joined)
}

/// A file URL's local path, when it is one.
pub fn local_path(url: &Url) -> Option<PathBuf> {
    (url.scheme() == "file")
        .then(|| url.to_file_path().ok())
        .flatten()
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

static MEMORY_STORES: LazyLock<Mutex<HashMap<String, Arc<InMemory>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The store for `url` and the path of `url` inside it.
///
/// `memory://NAME` always returns the same in-process store for the same NAME.
pub fn open(url: &Url) -> Result<(Arc<dyn ObjectStore>, StorePath), StoreError> {
    let backend = |source| StoreError::Backend {
        location: url.to_string(),
        source,
    };
    match url.scheme() {
        "memory" => {
            let name = url.host_str().unwrap_or_default().to_string();
            let store = {
                let mut stores = MEMORY_STORES.lock().unwrap_or_else(|e| e.into_inner());
                Arc::clone(
                    stores
                        .entry(name)
                        .or_insert_with(|| Arc::new(InMemory::new())),
                )
            };
            let path = StorePath::from_url_path(url.path()).map_err(|e| backend(e.into()))?;
            Ok((store, path))
        }
        "s3" | "s3a" => {
            let store = object_store::aws::AmazonS3Builder::from_env()
                .with_url(url.as_str())
                .build()
                .map_err(backend)?;
            let path = StorePath::from_url_path(url.path()).map_err(|e| backend(e.into()))?;
            Ok((Arc::new(store), path))
        }
        "az" | "azure" | "abfs" | "abfss" | "adl" => {
            let store = object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(url.as_str())
                .build()
                .map_err(backend)?;
            // `az://container/path`: the container is the host, the object path the URL path.
            let path = StorePath::from_url_path(url.path()).map_err(|e| backend(e.into()))?;
            Ok((Arc::new(store), path))
        }
        "gs" => {
            let store = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_url(url.as_str())
                .build()
                .map_err(backend)?;
            let path = StorePath::from_url_path(url.path()).map_err(|e| backend(e.into()))?;
            Ok((Arc::new(store), path))
        }
        _ => {
            let (store, path) = object_store::parse_url(url).map_err(backend)?;
            Ok((Arc::from(store), path))
        }
    }
}

/// The URL of the store's root for `url` (scheme and authority, path `/`).
pub fn store_root(url: &Url) -> Url {
    let mut root = url.clone();
    root.set_path("/");
    root.set_query(None);
    root.set_fragment(None);
    root
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt;
    use object_store::ObjectStoreExt;

    use super::*;

    #[test]
    fn paths_become_file_urls() {
        let base = Path::new("/a/b");
        assert_eq!(
            resolve_location("x/../y.csv", base).unwrap().as_str(),
            "file:///a/b/y.csv"
        );
        assert_eq!(
            resolve_location("/abs/z.csv", base).unwrap().as_str(),
            "file:///abs/z.csv"
        );
        assert_eq!(
            resolve_location("raw/*.csv", base).unwrap().path(),
            "/a/b/raw/*.csv"
        );
        assert_eq!(
            resolve_url("dir with space", base).unwrap().as_str(),
            "file:///a/b/dir%20with%20space/"
        );
        assert!(matches!(
            resolve_location("ftp://host/x", base),
            Err(StoreError::UnsupportedScheme { .. })
        ));
        assert!(resolve_location("", base).is_err());
    }

    #[tokio::test]
    async fn memory_stores_are_shared_by_name() {
        let url = Url::parse("memory://shared-test/dir/").unwrap();
        let (store, path) = open(&url).unwrap();
        store
            .put(
                &path.clone().join("f.txt"),
                bytes::Bytes::from_static(b"hi").into(),
            )
            .await
            .unwrap();
        let (again, _) = open(&url).unwrap();
        let listed: Vec<_> = again.list(Some(&path)).try_collect().await.unwrap();
        assert_eq!(listed.len(), 1);
        let (other, _) = open(&Url::parse("memory://other-test/dir/").unwrap()).unwrap();
        let listed: Vec<_> = other.list(Some(&path)).try_collect().await.unwrap();
        assert!(listed.is_empty());
    }
}
