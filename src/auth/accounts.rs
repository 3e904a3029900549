//! Accounts: sign-up, login with argon2-hashed passwords, short-lived access tokens and
//! revocable refresh tokens.
//!
//! Refresh tokens rotate: each is good once, and each login starts a family that every
//! refresh extends. A used refresh token presented again means it was stolen (or the
//! client is confused); following OAuth 2.0 security best current practice the whole
//! family is then revoked, with the access tokens issued in it, so whoever holds the newer
//! tokens has to sign in again. Logout revokes the family and the access token in hand.

use std::sync::Arc;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::persistence::{AccountRecord, AccountStore, RefreshRecord, RefreshUse, RevokedToken, StorageError};

use super::hashing::{Hashing, HashingError};
use super::{Credentials, Identity, JwtAuthenticator, Revocations, Role};

/// What a successful login or refresh returns.
#[derive(Debug, Clone, Serialize)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: &'static str,
    /// Seconds the access token is valid.
    pub expires_in: i64,
    /// Trade it at `/v1/auth/refresh` for new tokens; it works once.
    pub refresh_token: String,
    pub role: Role,
    pub subject: Uuid,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("email must look like name@example.com")]
    InvalidEmail,
    #[error("password must be 8 to 128 characters")]
    WeakPassword,
    #[error("name must be 1-200 characters, without control characters")]
    InvalidName,
    #[error("an account with this email exists")]
    EmailTaken,
    #[error("email or password is wrong")]
    BadCredentials,
    #[error("the refresh token is invalid, used or expired")]
    InvalidRefresh,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("the server is busy; retry in a moment")]
    Busy,
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

impl From<HashingError> for AccountError {
    fn from(error: HashingError) -> Self {
        match error {
            HashingError::Busy => AccountError::Busy,
            HashingError::Failed(why) => AccountError::Hashing(why),
        }
    }
}

pub struct Accounts {
    store: Arc<dyn AccountStore>,
    jwt: Arc<JwtAuthenticator>,
    revocations: Arc<Revocations>,
    hashing: Hashing,
    access_ttl_secs: i64,
    refresh_ttl_secs: i64,
}

/// A well-formed hash of a password nobody has, verified against when the email is
/// unknown, so a login takes as long whether or not the account exists.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("decoy password that matches nothing").unwrap_or_default())
}

fn hash(password: &str) -> Result<String, AccountError> {
    let salt = SaltString::generate(&mut OsRng);
    // `Argon2::default()` is argon2id with 19 MiB, 2 passes, 1 lane: OWASP's first choice.
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Hashing(e.to_string()))
}

fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

pub fn normalize_email(raw: &str) -> Result<String, AccountError> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        });
    if valid {
        Ok(email)
    } else {
        Err(AccountError::InvalidEmail)
    }
}

fn seconds_to_time(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_else(Utc::now)
}

impl Accounts {
    pub fn new(
        store: Arc<dyn AccountStore>,
        jwt: Arc<JwtAuthenticator>,
        revocations: Arc<Revocations>,
        hashing: Hashing,
        access_ttl_secs: i64,
    ) -> Self {
        Accounts { store, jwt, revocations, hashing, access_ttl_secs, refresh_ttl_secs: 30 * 24 * 3600 }
    }

    /// Load the durable deny-list into memory (at start).
    pub async fn load_revocations(&self) -> Result<usize, AccountError> {
        let revoked = self.store.revoked_access().await?;
        for token in &revoked {
            self.revocations.revoke(token.jti, token.expires_at.timestamp());
        }
        Ok(revoked.len())
    }

    /// Create an account acting as `subject` (a new customer id when `None`).
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        name: &str,
        role: Role,
        subject: Option<Uuid>,
    ) -> Result<AccountRecord, AccountError> {
        let email = normalize_email(email)?;
        if !(8..=128).contains(&password.chars().count()) {
            return Err(AccountError::WeakPassword);
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(AccountError::InvalidName);
        }
        // A taken email is refused before any hashing is spent on it (the insert below
        // still settles a race between two sign-ups).
        if self.store.account_by_email(&email).await?.is_some() {
            return Err(AccountError::EmailTaken);
        }
        let owned = password.to_owned();
        let password_hash = self.hashing.run(move || hash(&owned)).await??;
        let id = Uuid::new_v4();
        let account = AccountRecord {
            id,
            email,
            password_hash,
            role: role.as_str().to_owned(),
            subject: subject.unwrap_or(id),
            name: name.to_owned(),
            created_at: Utc::now(),
        };
        match self.store.create_account(&account).await {
            Err(StorageError::Conflict { .. }) => Err(AccountError::EmailTaken),
            other => other.map(|()| account).map_err(AccountError::from),
        }
    }

    /// Sign up a customer and log it in, with one hash.
    pub async fn sign_up(&self, email: &str, password: &str, name: &str) -> Result<Tokens, AccountError> {
        let account = self.register(email, password, name, Role::Customer, None).await?;
        self.tokens_for(&account, Uuid::new_v4()).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<Tokens, AccountError> {
        let account = match normalize_email(email) {
            Ok(email) => self.store.account_by_email(&email).await?,
            Err(_) => None,
        };
        let stored = account.as_ref().map(|a| a.password_hash.clone()).unwrap_or_else(|| decoy_hash().to_owned());
        let owned = password.to_owned();
        let matches = self.hashing.run(move || verify(&owned, &stored)).await?;
        match account {
            Some(account) if matches => self.tokens_for(&account, Uuid::new_v4()).await,
            _ => Err(AccountError::BadCredentials),
        }
    }

    /// New tokens for a refresh token, which is used up. A used one presented again
    /// revokes its whole family.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens, AccountError> {
        match self.store.take_refresh_token(&digest(refresh_token)).await? {
            RefreshUse::Taken { account, family } => {
                let account = self.store.account_by_id(account).await?.ok_or(AccountError::InvalidRefresh)?;
                self.tokens_for(&account, family).await
            }
            RefreshUse::Spent { family } => {
                tracing::warn!(%family, "a used refresh token was presented again: revoking its family");
                self.revoke_family(family).await?;
                Err(AccountError::InvalidRefresh)
            }
            RefreshUse::Unknown => Err(AccountError::InvalidRefresh),
        }
    }

    /// Log out: revoke the refresh token's family and the access token in hand (and so
    /// close the sockets opened with it). Revoking what is not live is not an error.
    pub async fn logout(&self, refresh_token: &str, access: Option<Credentials>) -> Result<(), AccountError> {
        if let Some(Credentials { jti: Some(jti), expires_at, .. }) = access {
            self.store.revoke_access(&RevokedToken { jti, expires_at: seconds_to_time(expires_at) }).await?;
            self.revocations.revoke(jti, expires_at);
        }
        match self.store.take_refresh_token(&digest(refresh_token)).await? {
            RefreshUse::Taken { family, .. } | RefreshUse::Spent { family } => self.revoke_family(family).await,
            RefreshUse::Unknown => Ok(()),
        }
    }

    async fn revoke_family(&self, family: Uuid) -> Result<(), AccountError> {
        for token in self.store.revoke_family(family).await? {
            self.revocations.revoke(token.jti, token.expires_at.timestamp());
        }
        Ok(())
    }

    async fn tokens_for(&self, account: &AccountRecord, family: Uuid) -> Result<Tokens, AccountError> {
        let role = Role::parse(&account.role).ok_or(AccountError::BadCredentials)?;
        let identity = Identity { role, subject: account.subject };
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let refresh_token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let (access_token, access_jti, access_expires) = self.jwt.issue_with_id(identity, self.access_ttl_secs);
        self.store
            .save_refresh_token(&RefreshRecord {
                hash: digest(&refresh_token),
                account: account.id,
                family,
                expires_at: Utc::now() + Duration::seconds(self.refresh_ttl_secs),
                access_jti,
                access_expires_at: seconds_to_time(access_expires),
            })
            .await?;
        Ok(Tokens {
            access_token,
            token_type: "Bearer",
            expires_in: self.access_ttl_secs,
            refresh_token,
            role,
            subject: account.subject,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(normalize_email("  Min@Example.COM ").unwrap(), "min@example.com");
        for bad in ["", "min", "min@", "@example.com", "min@example", "min @example.com", "min@.com", "m\u{0}n@x.com"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_hash_and_verify() {
        let stored = hash("correct horse").unwrap();
        assert!(verify("correct horse", &stored));
        assert!(!verify("wrong horse", &stored));
        assert!(!verify("correct horse", "not a hash"));
    }
}
