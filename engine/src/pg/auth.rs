//! Who may connect: one user and password, checked with SCRAM-SHA-256 (the
//! password never crosses the wire, and the server keeps only its salted
//! hash).
//!
//! Credentials come from the environment or a file — never from
//! revintel.toml, which is shared and committed.

use datafusion_postgres::pgwire::api::auth::sasl::scram::{gen_salted_password, SCRAM_ITERATIONS};
use datafusion_postgres::pgwire::api::auth::{AuthSource, LoginInfo, Password};
use datafusion_postgres::pgwire::error::PgWireResult;
use rand::RngCore;
use std::path::{Path, PathBuf};

/// The variable naming the user (default `revintel`).
pub const USER_ENV: &str = "REVINTEL_PG_USER";
/// The variable holding the password.
pub const PASSWORD_ENV: &str = "REVINTEL_PG_PASSWORD";
/// The variable naming a file whose first line is the password.
pub const PASSWORD_FILE_ENV: &str = "REVINTEL_PG_PASSWORD_FILE";
/// The user when none is named.
pub const DEFAULT_USER: &str = "revintel";

/// Why the credentials could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error(
        "no password for the PostgreSQL endpoint: set ${PASSWORD_ENV}, or ${PASSWORD_FILE_ENV} \
         or --password-file to a file holding it (never revintel.toml)"
    )]
    Missing,
    #[error("{}: cannot read the password file: {source}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: the password is empty")]
    Empty { origin: String },
}

/// The one login the endpoint accepts.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"…")
            .finish()
    }
}

impl Credentials {
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            user: user.into(),
            password: password.into(),
        }
    }

    /// From `file` if given, else `$REVINTEL_PG_PASSWORD_FILE`, else
    /// `$REVINTEL_PG_PASSWORD`; the user from `$REVINTEL_PG_USER`.
    pub fn from_env(file: Option<&Path>) -> Result<Credentials, CredentialsError> {
        let user = std::env::var(USER_ENV)
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_USER.to_string());
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os(PASSWORD_FILE_ENV).map(PathBuf::from));
        let (password, origin) = match file {
            Some(path) => {
                let text =
                    std::fs::read_to_string(&path).map_err(|source| CredentialsError::File {
                        path: path.clone(),
                        source,
                    })?;
                let first = text.lines().next().unwrap_or("").to_string();
                (first, path.display().to_string())
            }
            None => (
                std::env::var(PASSWORD_ENV).map_err(|_| CredentialsError::Missing)?,
                format!("${PASSWORD_ENV}"),
            ),
        };
        if password.is_empty() {
            return Err(CredentialsError::Empty { origin });
        }
        Ok(Credentials { user, password })
    }
}

/// What SCRAM checks a login against: the salted password of the one
/// user. Any other user name gets the hash of a random password, so a
/// wrong name fails exactly like a wrong password.
#[derive(Debug)]
pub struct ScramSecrets {
    user: String,
    salt: Vec<u8>,
    salted: Vec<u8>,
    decoy: Vec<u8>,
}

impl ScramSecrets {
    pub fn new(credentials: &Credentials) -> ScramSecrets {
        let mut rng = rand::rng();
        let mut salt = vec![0u8; 16];
        rng.fill_bytes(&mut salt);
        let mut random = [0u8; 32];
        rng.fill_bytes(&mut random);
        let decoy_password: String = random.iter().map(|b| format!("{b:02x}")).collect();
        ScramSecrets {
            user: credentials.user.clone(),
            salted: gen_salted_password(&credentials.password, &salt, SCRAM_ITERATIONS),
            decoy: gen_salted_password(&decoy_password, &salt, SCRAM_ITERATIONS),
            salt,
        }
    }
}

#[async_trait::async_trait]
impl AuthSource for ScramSecrets {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let hash = if login.user() == Some(self.user.as_str()) {
            &self.salted
        } else {
            &self.decoy
        };
        Ok(Password::new(Some(self.salt.clone()), hash.clone()))
    }
}
