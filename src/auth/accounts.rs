//! Accounts: sign-up, login with argon2-hashed passwords, short-lived access tokens and
//! revocable refresh tokens (each good once: refreshing rotates it).

use std::sync::Arc;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{Duration, Utc};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::persistence::{AccountRecord, AccountStore, StorageError};

use super::{Identity, JwtAuthenticator, Role};

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
    #[error("name must be 1-200 characters")]
    InvalidName,
    #[error("an account with this email exists")]
    EmailTaken,
    #[error("email or password is wrong")]
    BadCredentials,
    #[error("the refresh token is invalid, used or expired")]
    InvalidRefresh,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

pub struct Accounts {
    store: Arc<dyn AccountStore>,
    jwt: Arc<JwtAuthenticator>,
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
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        });
    if valid {
        Ok(email)
    } else {
        Err(AccountError::InvalidEmail)
    }
}

impl Accounts {
    pub fn new(store: Arc<dyn AccountStore>, jwt: Arc<JwtAuthenticator>, access_ttl_secs: i64) -> Self {
        Accounts { store, jwt, access_ttl_secs, refresh_ttl_secs: 30 * 24 * 3600 }
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
        if name.is_empty() || name.chars().count() > 200 {
            return Err(AccountError::InvalidName);
        }
        let owned = password.to_owned();
        let password_hash = tokio::task::spawn_blocking(move || hash(&owned))
            .await
            .map_err(|e| AccountError::Hashing(e.to_string()))??;
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

    pub async fn login(&self, email: &str, password: &str) -> Result<Tokens, AccountError> {
        let account = match normalize_email(email) {
            Ok(email) => self.store.account_by_email(&email).await?,
            Err(_) => None,
        };
        let stored = account.as_ref().map(|a| a.password_hash.clone()).unwrap_or_else(|| decoy_hash().to_owned());
        let owned = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || verify(&owned, &stored))
            .await
            .map_err(|e| AccountError::Hashing(e.to_string()))?;
        match account {
            Some(account) if matches => self.tokens_for(&account).await,
            _ => Err(AccountError::BadCredentials),
        }
    }

    /// New tokens for a refresh token, which is used up.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens, AccountError> {
        let account_id =
            self.store.take_refresh_token(&digest(refresh_token)).await?.ok_or(AccountError::InvalidRefresh)?;
        let account = self.store.account_by_id(account_id).await?.ok_or(AccountError::InvalidRefresh)?;
        self.tokens_for(&account).await
    }

    /// Revoke a refresh token (logout). Revoking one that is not live is not an error.
    pub async fn logout(&self, refresh_token: &str) -> Result<(), AccountError> {
        self.store.take_refresh_token(&digest(refresh_token)).await?;
        Ok(())
    }

    async fn tokens_for(&self, account: &AccountRecord) -> Result<Tokens, AccountError> {
        let role = Role::parse(&account.role).ok_or(AccountError::BadCredentials)?;
        let identity = Identity { role, subject: account.subject };
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let refresh_token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let expires = Utc::now() + Duration::seconds(self.refresh_ttl_secs);
        self.store.save_refresh_token(&digest(&refresh_token), account.id, expires).await?;
        Ok(Tokens {
            access_token: self.jwt.issue(identity, self.access_ttl_secs),
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
        for bad in ["", "min", "min@", "@example.com", "min@example", "min @example.com", "min@.com"] {
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
