//! The pipeline lock: a lease object in the warehouse, `_touchstone/lock/<pipeline>.json`,
//! written only with conditional PUTs so that two runs of one pipeline never write at once.
//!
//! - **Acquire**: `PutMode::Create` of the lease (owner, run id, expiry). When the object
//!   exists, it is read: a lease that was released, or has expired, or whose holder the caller
//!   knows to be gone, is taken over with `PutMode::Update` on the ETag/version just read, so of
//!   two runs taking over one stale lease exactly one wins. A live lease is [`LockError::Held`].
//! - **Renew**: `PutMode::Update` with the version the holder last wrote; a
//!   precondition failure means another run took the lease over ([`LockError::Lost`]).
//! - **Release**: an update (same precondition) that marks the lease released.
//!
//! S3, Azure Blob, GCS and the in-memory store implement both conditional modes. The local file
//! system implements `Create` but not `Update`; there an update is done under a short-lived
//! guard object (itself created with `PutMode::Create`) that makes read-compare-write atomic
//! among Touchstone processes.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use touchstone_load::Warehouse;
//! use touchstone_load::lock::{Lease, Lock, LockError};
//! let wh = Warehouse::open(&url::Url::parse("memory://lock-doc/")?)?;
//! let now = chrono::DateTime::parse_from_rfc3339("2026-08-01T00:00:00Z")?.to_utc();
//! let lease = |run: &str| Lease::new("p", "host:1", run, now, chrono::Duration::seconds(60));
//! let lock = Lock::new(&wh, "p")?;
//! let held = lock.acquire(lease("run-1"), now, |_| false).await?;
//! assert!(matches!(lock.acquire(lease("run-2"), now, |_| false).await, Err(LockError::Held { .. })));
//! held.release(&lock).await?;
//! lock.acquire(lease("run-2"), now, |_| false).await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use object_store::path::Path as StorePath;
use object_store::{
    ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload, UpdateVersion,
};
use serde::{Deserialize, Serialize};

use crate::{LoadError, TableKind, Warehouse};

/// What a lease says: who holds the pipeline, for which run, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The pipeline the lease is for.
    pub pipeline: String,
    /// Who holds it: `host:pid`.
    pub owner: String,
    /// The run holding it.
    pub run_id: String,
    /// When the holder first acquired it.
    pub acquired_at: DateTime<Utc>,
    /// When it expires unless renewed.
    pub expires_at: DateTime<Utc>,
    /// The holder let it go (its run finished).
    #[serde(default)]
    pub released: bool,
}

impl Lease {
    /// A lease for `run_id` by `owner`, from `now` for `ttl`.
    pub fn new(
        pipeline: &str,
        owner: &str,
        run_id: &str,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> Self {
        Lease {
            pipeline: pipeline.to_string(),
            owner: owner.to_string(),
            run_id: run_id.to_string(),
            acquired_at: now,
            expires_at: now + ttl,
            released: false,
        }
    }

    /// Whether the lease has expired at `now`.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }
}

/// Why the lock could not be taken or kept.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another run holds the pipeline's lease.
    #[error(
        "pipeline '{}' is locked by run {} ({}) until {}; wait for it (`--wait`) or, if that run \
         is gone, for its lease to expire ({})",
        lease.pipeline, lease.run_id, lease.owner, lease.expires_at.to_rfc3339(), location
    )]
    Held {
        /// The lease object's URL.
        location: String,
        /// The lease as read.
        lease: Box<Lease>,
    },
    /// The lease was taken over by another run (this one did not renew it in time).
    #[error("the lease {location} was taken over by another run: {detail}")]
    Lost {
        /// The lease object's URL.
        location: String,
        /// What was found.
        detail: String,
    },
    /// The lease object is not a lease.
    #[error(
        "{location} is not a Touchstone lease ({detail}); delete it if no run of the pipeline is going on"
    )]
    Corrupt {
        /// The lease object's URL.
        location: String,
        /// The parser's message.
        detail: String,
    },
    /// The store failed.
    #[error("the lease {location}: {source}")]
    Store {
        /// The lease object's URL.
        location: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
    /// The warehouse could not be opened.
    #[error(transparent)]
    Load(#[from] Box<LoadError>),
}

/// The lease object of one pipeline in one warehouse.
#[derive(Debug, Clone)]
pub struct Lock {
    store: Arc<dyn ObjectStore>,
    path: StorePath,
    guard: StorePath,
    location: String,
}

/// A lease this process holds, with the version it last wrote (the precondition of its next
/// update).
#[derive(Debug, Clone)]
pub struct Held {
    /// The lease as written.
    pub lease: Lease,
    version: UpdateVersion,
    /// The lease this one replaced when it was taken over (expired or its holder gone).
    pub took_over: Option<Lease>,
}

impl Held {
    /// Extends the lease to `now + ttl`; fails with [`LockError::Lost`] when another run took it.
    pub async fn renew(
        &mut self,
        lock: &Lock,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> Result<(), LockError> {
        let mut lease = self.lease.clone();
        lease.expires_at = now + ttl;
        self.version = lock.update(&self.version, &lease).await?;
        self.lease = lease;
        Ok(())
    }

    /// Marks the lease released, so the next run takes it at once.
    pub async fn release(&self, lock: &Lock) -> Result<(), LockError> {
        let mut lease = self.lease.clone();
        lease.released = true;
        lock.update(&self.version, &lease).await.map(|_| ())
    }
}

/// Attempts at a local-file-system update before the guard is considered abandoned.
const GUARD_ATTEMPTS: u32 = 400;

impl Lock {
    /// The lock of `pipeline` in `wh`.
    pub fn new(wh: &Warehouse, pipeline: &str) -> Result<Self, LockError> {
        let name = format!("{pipeline}.json");
        let dir = wh
            .root_path
            .clone()
            .join(TableKind::System.prefix())
            .join("lock");
        let location = wh
            .root()
            .join(&format!("{}/lock/{name}", TableKind::System.prefix()))
            .map(|u| u.to_string())
            .unwrap_or_else(|_| format!("{}_touchstone/lock/{name}", wh.root()));
        Ok(Lock {
            store: Arc::clone(&wh.store),
            path: dir.clone().join(name.as_str()),
            guard: dir.join(format!("{name}.update")),
            location,
        })
    }

    /// The lease object's URL.
    pub fn location(&self) -> &str {
        &self.location
    }

    fn store_error(&self, source: object_store::Error) -> LockError {
        LockError::Store {
            location: self.location.clone(),
            source,
        }
    }

    fn payload(&self, lease: &Lease) -> Result<PutPayload, LockError> {
        serde_json::to_vec_pretty(lease)
            .map(PutPayload::from)
            .map_err(|e| LockError::Corrupt {
                location: self.location.clone(),
                detail: e.to_string(),
            })
    }

    /// The lease as stored and its version; `None` when there is none.
    pub async fn read(&self) -> Result<Option<(Lease, UpdateVersion)>, LockError> {
        let result = match self.store.get(&self.path).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.store_error(e)),
        };
        let version = UpdateVersion {
            e_tag: result.meta.e_tag.clone(),
            version: result.meta.version.clone(),
        };
        let bytes = result.bytes().await.map_err(|e| self.store_error(e))?;
        let lease = serde_json::from_slice(&bytes).map_err(|e| LockError::Corrupt {
            location: self.location.clone(),
            detail: e.to_string(),
        })?;
        Ok(Some((lease, version)))
    }

    /// Takes the lease for `lease.run_id`: creates it, or takes over one that is released,
    /// expired at `now`, or `gone` (its holder is known to have died). Fails with
    /// [`LockError::Held`] while another run holds it.
    pub async fn acquire(
        &self,
        lease: Lease,
        now: DateTime<Utc>,
        gone: impl Fn(&Lease) -> bool,
    ) -> Result<Held, LockError> {
        // The object can vanish between a failed create and the read (deleted by hand); try
        // again a few times.
        for _ in 0..5 {
            let create = PutOptions {
                mode: PutMode::Create,
                ..PutOptions::default()
            };
            match self
                .store
                .put_opts(&self.path, self.payload(&lease)?, create)
                .await
            {
                Ok(put) => {
                    return Ok(Held {
                        lease,
                        version: UpdateVersion {
                            e_tag: put.e_tag,
                            version: put.version,
                        },
                        took_over: None,
                    });
                }
                Err(object_store::Error::AlreadyExists { .. }) => {}
                Err(e) => return Err(self.store_error(e)),
            }
            let Some((current, version)) = self.read().await? else {
                continue;
            };
            let free = current.released || current.expired(now) || gone(&current);
            if !free {
                return Err(LockError::Held {
                    location: self.location.clone(),
                    lease: Box::new(current),
                });
            }
            match self.update(&version, &lease).await {
                Ok(version) => {
                    return Ok(Held {
                        lease,
                        version,
                        took_over: (!current.released).then_some(current),
                    });
                }
                // Another run took it over first: it holds it now.
                Err(LockError::Lost { .. }) => {
                    return match self.read().await? {
                        Some((winner, _)) => Err(LockError::Held {
                            location: self.location.clone(),
                            lease: Box::new(winner),
                        }),
                        None => continue,
                    };
                }
                Err(e) => return Err(e),
            }
        }
        Err(LockError::Lost {
            location: self.location.clone(),
            detail: "the lease object kept disappearing while it was being taken".into(),
        })
    }

    /// Writes `lease` if the stored object is still at `expected`; [`LockError::Lost`] if not.
    async fn update(
        &self,
        expected: &UpdateVersion,
        lease: &Lease,
    ) -> Result<UpdateVersion, LockError> {
        let options = PutOptions {
            mode: PutMode::Update(expected.clone()),
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(&self.path, self.payload(lease)?, options)
            .await
        {
            Ok(put) => Ok(UpdateVersion {
                e_tag: put.e_tag,
                version: put.version,
            }),
            Err(
                object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. },
            ) => Err(self.lost()),
            Err(object_store::Error::NotImplemented { .. }) => {
                self.guarded_update(expected, lease).await
            }
            Err(e) => Err(self.store_error(e)),
        }
    }

    fn lost(&self) -> LockError {
        LockError::Lost {
            location: self.location.clone(),
            detail: "the lease changed since this run last wrote it".into(),
        }
    }

    /// A conditional update for stores without `PutMode::Update` (the local file system): under
    /// a guard object created with `PutMode::Create`, compare the stored version and overwrite.
    /// A guard left by a process killed inside this section is removed after a few seconds.
    async fn guarded_update(
        &self,
        expected: &UpdateVersion,
        lease: &Lease,
    ) -> Result<UpdateVersion, LockError> {
        let create = || PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        let mut attempts = 0;
        loop {
            match self
                .store
                .put_opts(&self.guard, PutPayload::from_static(b"update\n"), create())
                .await
            {
                Ok(_) => break,
                Err(object_store::Error::AlreadyExists { .. }) => {
                    attempts += 1;
                    if attempts >= GUARD_ATTEMPTS {
                        // Held for ~10 s: its holder died inside the section.
                        let _ = self.store.delete(&self.guard).await;
                        attempts = 0;
                    }
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                Err(e) => return Err(self.store_error(e)),
            }
        }
        let result = async {
            let meta = match self.store.head(&self.path).await {
                Ok(meta) => meta,
                Err(object_store::Error::NotFound { .. }) => return Err(self.lost()),
                Err(e) => return Err(self.store_error(e)),
            };
            if meta.e_tag != expected.e_tag {
                return Err(self.lost());
            }
            let put = self
                .store
                .put(&self.path, self.payload(lease)?)
                .await
                .map_err(|e| self.store_error(e))?;
            Ok(UpdateVersion {
                e_tag: put.e_tag,
                version: put.version,
            })
        }
        .await;
        let removed = self.store.delete(&self.guard).await;
        let version = result?;
        removed.map_err(|e| self.store_error(e))?;
        Ok(version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn lease(run: &str, now: DateTime<Utc>) -> Lease {
        Lease::new("p", "host:1", run, now, chrono::Duration::seconds(60))
    }

    async fn contention(wh: Warehouse) {
        let lock = Lock::new(&wh, "p").unwrap();
        let now = t("2026-08-01T00:00:00Z");
        let mut a = lock.acquire(lease("a", now), now, |_| false).await.unwrap();
        assert!(a.took_over.is_none());
        // Held: a second run is refused and told who holds it.
        match lock.acquire(lease("b", now), now, |_| false).await {
            Err(LockError::Held { lease, .. }) => assert_eq!(lease.run_id, "a"),
            other => panic!("{other:?}"),
        }
        // Renewed, it stays held past its first expiry.
        let later = now + chrono::Duration::seconds(50);
        a.renew(&lock, later, chrono::Duration::seconds(60))
            .await
            .unwrap();
        let after_first_expiry = now + chrono::Duration::seconds(70);
        assert!(matches!(
            lock.acquire(lease("b", after_first_expiry), after_first_expiry, |_| {
                false
            })
            .await,
            Err(LockError::Held { .. })
        ));
        // Expired: taken over, and the old holder learns it lost the lease.
        let stale = now + chrono::Duration::seconds(200);
        let b = lock
            .acquire(lease("b", stale), stale, |_| false)
            .await
            .unwrap();
        assert_eq!(b.took_over.as_ref().map(|l| l.run_id.as_str()), Some("a"));
        assert!(matches!(
            a.renew(&lock, stale, chrono::Duration::seconds(60)).await,
            Err(LockError::Lost { .. })
        ));
        assert!(matches!(
            a.release(&lock).await,
            Err(LockError::Lost { .. })
        ));
        // A holder known to be gone is taken over before expiry.
        let c = lock
            .acquire(lease("c", stale), stale, |l| l.run_id == "b")
            .await;
        let c = c.unwrap();
        // Released: the next run takes it at once, and says it took over nothing.
        c.release(&lock).await.unwrap();
        let d = lock
            .acquire(lease("d", stale), stale, |_| false)
            .await
            .unwrap();
        assert!(d.took_over.is_none());
        assert_eq!(lock.read().await.unwrap().unwrap().0.run_id, "d");
    }

    #[tokio::test]
    async fn lease_lifecycle_in_memory() {
        contention(Warehouse::open(&url::Url::parse("memory://lock-mem/wh").unwrap()).unwrap())
            .await;
    }

    #[tokio::test]
    async fn lease_lifecycle_on_the_local_file_system() {
        let dir = tempfile::tempdir().unwrap();
        contention(Warehouse::open(&url::Url::from_directory_path(dir.path()).unwrap()).unwrap())
            .await;
    }

    /// Many runs taking over one expired lease at once: exactly one wins each round.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_winner_among_racing_takeovers() {
        let dir = tempfile::tempdir().unwrap();
        for url in [
            url::Url::parse("memory://lock-race/wh").unwrap(),
            url::Url::from_directory_path(dir.path()).unwrap(),
        ] {
            let wh = Warehouse::open(&url).unwrap();
            let lock = Lock::new(&wh, "p").unwrap();
            let mut now = t("2026-08-01T00:00:00Z");
            lock.acquire(lease("first", now), now, |_| false)
                .await
                .unwrap();
            for round in 0..10 {
                now += chrono::Duration::seconds(120);
                let tasks: Vec<_> = (0..6)
                    .map(|i| {
                        let lock = lock.clone();
                        tokio::spawn(async move {
                            lock.acquire(lease(&format!("r{round}-{i}"), now), now, |_| false)
                                .await
                        })
                    })
                    .collect();
                let mut winners = 0;
                for task in tasks {
                    match task.await.unwrap() {
                        Ok(_) => winners += 1,
                        Err(LockError::Held { .. }) => {}
                        Err(e) => panic!("{url} round {round}: {e}"),
                    }
                }
                assert_eq!(winners, 1, "{url} round {round}");
            }
        }
    }

    #[tokio::test]
    async fn a_corrupt_lease_is_named() {
        let wh = Warehouse::open(&url::Url::parse("memory://lock-bad/wh").unwrap()).unwrap();
        let lock = Lock::new(&wh, "p").unwrap();
        wh.store
            .put(&lock.path, PutPayload::from_static(b"not json"))
            .await
            .unwrap();
        let now = t("2026-08-01T00:00:00Z");
        let err = lock
            .acquire(lease("a", now), now, |_| false)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("_touchstone/lock/p.json"), "{err}");
        assert!(matches!(err, LockError::Corrupt { .. }));
    }
}
