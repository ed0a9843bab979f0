//! The users file: who may connect, each with a salted SCRAM-SHA-256 hash of their password.
//!
//! One user a line, `#` comments and blank lines ignored:
//!
//! ```text
//! # name:mechanism:iterations:salt:salted password (base64)
//! analyst:SCRAM-SHA-256:4096:3q2+7w0bHh4lSm5A7M5gGQ==:Lk1c...
//! ```
//!
//! The hash is SCRAM's `SaltedPassword` (PBKDF2-HMAC-SHA-256 of the password with the salt,
//! RFC 5802), which the server needs to check a client's proof; the password itself is never
//! stored. Whoever holds the hash can authenticate as the user, so the file is written readable
//! by its owner only, like a private key. `touchstone serve add-user` writes it.
//!
//! ```
//! use touchstone_serve::users::UsersFile;
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("users");
//! UsersFile::add_user(&path, "analyst", "correct horse")?;
//! let users = UsersFile::load(&path)?;
//! assert!(users.check_password("analyst", "correct horse"));
//! assert!(!users.check_password("analyst", "wrong"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use datafusion_postgres::pgwire::api::auth::sasl::scram::gen_salted_password;
use datafusion_postgres::pgwire::api::auth::{AuthSource, LoginInfo, Password};
use datafusion_postgres::pgwire::error::PgWireResult;

use crate::ServeError;

/// The SCRAM iteration count of every hash Touchstone writes (PostgreSQL's default).
pub const ITERATIONS: usize = 4096;

const MECHANISM: &str = "SCRAM-SHA-256";

/// One user's salted hash.
#[derive(Clone, PartialEq, Eq)]
struct Hash {
    salt: Vec<u8>,
    salted_password: Vec<u8>,
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hash(..)")
    }
}

/// The users allowed to connect.
#[derive(Debug, Clone, Default)]
pub struct UsersFile {
    users: BTreeMap<String, Hash>,
    /// A hash no password matches, handed out for unknown names so that a client cannot tell an
    /// unknown user from a wrong password.
    decoy: Option<Arc<Hash>>,
}

impl UsersFile {
    /// Reads a users file; every malformed line is reported with its number.
    pub fn load(path: &Path) -> Result<UsersFile, ServeError> {
        let text = std::fs::read_to_string(path).map_err(|e| ServeError::Users {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let mut users = BTreeMap::new();
        let mut problems = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_line(line) {
                Ok((name, hash)) => {
                    users.insert(name, hash);
                }
                Err(why) => problems.push(format!("line {}: {why}", i + 1)),
            }
        }
        if !problems.is_empty() {
            return Err(ServeError::Users {
                path: path.to_path_buf(),
                message: problems.join("; "),
            });
        }
        Ok(UsersFile {
            users,
            decoy: Some(Arc::new(Hash {
                salt: random_bytes(),
                salted_password: random_bytes(),
            })),
        })
    }

    /// The user names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.users.keys().map(String::as_str)
    }

    /// Whether `password` is `name`'s (what a SCRAM exchange proves without sending it).
    pub fn check_password(&self, name: &str, password: &str) -> bool {
        self.users.get(name).is_some_and(|hash| {
            gen_salted_password(password, &hash.salt, ITERATIONS) == hash.salted_password
        })
    }

    /// Adds `name` with `password` to the users file at `path` (created, readable by its owner
    /// only, when missing), replacing the user's hash when the name is there already. Returns
    /// whether the user was new.
    pub fn add_user(path: &Path, name: &str, password: &str) -> Result<bool, ServeError> {
        let invalid = |message: String| ServeError::Users {
            path: path.to_path_buf(),
            message,
        };
        if !valid_name(name) {
            return Err(invalid(format!(
                "'{name}' is not a valid user name: use letters, digits, '_', '-' and '.'"
            )));
        }
        if password.is_empty() {
            return Err(invalid("the password is empty".into()));
        }
        let existing = if path.exists() {
            // Refuse to rewrite a file that does not parse: its lines would be lost.
            UsersFile::load(path)?;
            std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?
        } else {
            String::from(
                "# touchstone serve users: name:mechanism:iterations:salt:salted password\n",
            )
        };
        let salt = random_bytes();
        let salted = gen_salted_password(password, &salt, ITERATIONS);
        let entry = format!(
            "{name}:{MECHANISM}:{ITERATIONS}:{}:{}",
            STANDARD.encode(&salt),
            STANDARD.encode(&salted)
        );
        let mut replaced = false;
        let mut lines: Vec<String> = existing
            .lines()
            .map(|line| {
                if line.trim().split(':').next() == Some(name) && !line.trim().starts_with('#') {
                    replaced = true;
                    entry.clone()
                } else {
                    line.to_string()
                }
            })
            .collect();
        if !replaced {
            lines.push(entry);
        }
        write_private(path, &(lines.join("\n") + "\n")).map_err(|e| invalid(e.to_string()))?;
        Ok(!replaced)
    }

    /// The SCRAM password source for the server.
    pub(crate) fn auth_source(self: &Arc<Self>) -> Arc<dyn AuthSource> {
        Arc::new(UsersAuthSource(Arc::clone(self)))
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn parse_line(line: &str) -> Result<(String, Hash), String> {
    let parts: Vec<&str> = line.split(':').collect();
    let [name, mechanism, iterations, salt, salted] = parts.as_slice() else {
        return Err(format!(
            "expected name:{MECHANISM}:{ITERATIONS}:salt:hash, found {} fields",
            parts.len()
        ));
    };
    if !valid_name(name) {
        return Err(format!("'{name}' is not a valid user name"));
    }
    if *mechanism != MECHANISM {
        return Err(format!(
            "unknown mechanism '{mechanism}'; expected {MECHANISM}"
        ));
    }
    if iterations.parse::<usize>().ok() != Some(ITERATIONS) {
        return Err(format!(
            "iterations '{iterations}': hashes are made with {ITERATIONS} (write them with `touchstone serve add-user`)"
        ));
    }
    let decode = |what: &str, text: &str| {
        STANDARD
            .decode(text)
            .map_err(|e| format!("the {what} is not base64: {e}"))
    };
    let hash = Hash {
        salt: decode("salt", salt)?,
        salted_password: decode("hash", salted)?,
    };
    if hash.salt.is_empty() || hash.salted_password.len() != 32 {
        return Err("the salt is empty or the hash is not 32 bytes".into());
    }
    Ok((name.to_string(), hash))
}

fn random_bytes() -> Vec<u8> {
    rand::random::<[u8; 16]>().to_vec()
}

/// Writes `text` to `path` through a temporary file in the same directory, readable and
/// writable by the owner only, then renames it into place.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
        std::process::id()
    ));
    let mut file = options.open(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

#[derive(Debug)]
struct UsersAuthSource(Arc<UsersFile>);

#[async_trait]
impl AuthSource for UsersAuthSource {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let name = login.user().unwrap_or_default();
        let hash = match (self.0.users.get(name), &self.0.decoy) {
            (Some(hash), _) => hash.clone(),
            (None, Some(decoy)) => {
                tracing::info!(user = name, "unknown user tried to connect");
                decoy.as_ref().clone()
            }
            (None, None) => Hash {
                salt: random_bytes(),
                salted_password: random_bytes(),
            },
        };
        Ok(Password::new(Some(hash.salt), hash.salted_password))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_user_replaces_a_users_hash_and_keeps_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        assert!(UsersFile::add_user(&path, "ann", "one").unwrap());
        assert!(UsersFile::add_user(&path, "bob", "two").unwrap());
        assert!(!UsersFile::add_user(&path, "ann", "three").unwrap());
        let users = UsersFile::load(&path).unwrap();
        assert_eq!(users.names().collect::<Vec<_>>(), ["ann", "bob"]);
        assert!(users.check_password("ann", "three"));
        assert!(!users.check_password("ann", "one"));
        assert!(users.check_password("bob", "two"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("three") && !text.contains("two\n"), "{text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn salts_differ_so_equal_passwords_hash_differently() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        UsersFile::add_user(&path, "ann", "same").unwrap();
        UsersFile::add_user(&path, "bob", "same").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let hashes: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.rsplit(':').next().unwrap())
            .collect();
        assert_eq!(hashes.len(), 2);
        assert_ne!(hashes[0], hashes[1]);
    }

    #[test]
    fn malformed_lines_are_reported_with_their_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        std::fs::write(&path, "# users\nann:MD5:1:x:y\n\nbob\n").unwrap();
        let err = UsersFile::load(&path).unwrap_err().to_string();
        assert!(err.contains("line 2: unknown mechanism 'MD5'"), "{err}");
        assert!(err.contains("line 4: expected"), "{err}");
        // add-user refuses to rewrite it.
        assert!(UsersFile::add_user(&path, "cat", "pw").is_err());
    }

    #[test]
    fn bad_names_and_empty_passwords_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        assert!(UsersFile::add_user(&path, "a:b", "pw").is_err());
        assert!(UsersFile::add_user(&path, "", "pw").is_err());
        assert!(UsersFile::add_user(&path, "ann", "").is_err());
        assert!(!path.exists());
    }
}
