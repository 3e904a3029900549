//! Who is calling. Every websocket (and, with the accounts, every REST route) needs an
//! identity: a role and the id it acts as. The [`Authenticator`] port turns a bearer token
//! into one; the shipped adapter verifies HS256 JWTs, with a key id (`kid`) in the header so
//! keys can rotate.

mod accounts;

use std::collections::HashMap;

use chrono::Utc;
use dashmap::DashMap;
use jsonwebtoken::{decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a caller may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Acts as a customer id.
    Customer,
    /// Store staff, bound to one store id.
    Store,
    /// Acts as a rider id.
    Rider,
    /// Sees and acts on everything.
    Operator,
}

impl Role {
    pub fn parse(raw: &str) -> Option<Role> {
        match raw {
            "customer" => Some(Role::Customer),
            "store" => Some(Role::Store),
            "rider" => Some(Role::Rider),
            "operator" => Some(Role::Operator),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Store => "store",
            Role::Rider => "rider",
            Role::Operator => "operator",
        }
    }
}

/// An authenticated caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub role: Role,
    /// The customer, store, rider or operator id the caller acts as.
    pub subject: Uuid,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AuthError {
    #[error("no credentials: send `Authorization: Bearer <token>`")]
    Missing,
    #[error("the token is invalid: {0}")]
    Invalid(String),
    #[error("the token has expired")]
    Expired,
}

pub trait Authenticator: Send + Sync + 'static {
    fn authenticate(&self, token: &str) -> Result<Identity, AuthError>;
}

pub use accounts::{normalize_email, AccountError, Accounts, Tokens};

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    role: Role,
    iat: i64,
    exp: i64,
}

/// HS256 JWTs. Tokens are signed with the current key; any configured key verifies, so a
/// key can be rotated out while its tokens expire.
pub struct JwtAuthenticator {
    current: String,
    keys: HashMap<String, (EncodingKey, DecodingKey)>,
    /// Tokens whose signature has been checked, with who they name and when they expire. A
    /// client sends the same token with every request, and the HMAC need not be computed
    /// again for it; the expiry is still checked every time.
    verified: DashMap<String, (Identity, i64)>,
}

/// Seconds a token is still taken after its expiry (clock skew).
const LEEWAY_SECS: i64 = 5;

/// Most tokens remembered as verified; when full, the memory starts again.
const VERIFIED_TOKENS: usize = 10_000;

impl JwtAuthenticator {
    /// `keys` are (kid, secret); the first signs.
    pub fn new(keys: &[(String, String)]) -> Result<Self, AuthError> {
        let (current, _) = keys.first().ok_or_else(|| AuthError::Invalid("no signing key configured".into()))?;
        let keys = keys
            .iter()
            .map(|(kid, secret)| {
                (
                    kid.clone(),
                    (EncodingKey::from_secret(secret.as_bytes()), DecodingKey::from_secret(secret.as_bytes())),
                )
            })
            .collect();
        Ok(JwtAuthenticator { current: current.clone(), keys, verified: DashMap::new() })
    }

    /// A signed token for `identity`, valid for `ttl_secs`.
    pub fn issue(&self, identity: Identity, ttl_secs: i64) -> String {
        let now = Utc::now().timestamp();
        let claims = Claims { sub: identity.subject, role: identity.role, iat: now, exp: now + ttl_secs };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current.clone());
        let (key, _) = &self.keys[&self.current];
        encode(&header, &claims, key).unwrap_or_default()
    }
}

impl JwtAuthenticator {
    /// Verify `token` as of `now` (seconds since the epoch).
    fn authenticate_at(&self, token: &str, now: i64) -> Result<Identity, AuthError> {
        if let Some(known) = self.verified.get(token) {
            let (identity, exp) = *known;
            drop(known);
            if exp >= now - LEEWAY_SECS {
                return Ok(identity);
            }
            self.verified.remove(token);
            return Err(AuthError::Expired);
        }
        let header = decode_header(token).map_err(|e| AuthError::Invalid(e.to_string()))?;
        let kid = header.kid.unwrap_or_else(|| self.current.clone());
        let (_, key) = self.keys.get(&kid).ok_or_else(|| AuthError::Invalid(format!("unknown key id {kid}")))?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS as u64;
        let data = decode::<Claims>(token, key, &validation).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
            _ => AuthError::Invalid(e.to_string()),
        })?;
        let identity = Identity { role: data.claims.role, subject: data.claims.sub };
        if self.verified.len() >= VERIFIED_TOKENS {
            self.verified.clear();
        }
        self.verified.insert(token.to_owned(), (identity, data.claims.exp));
        Ok(identity)
    }
}

impl Authenticator for JwtAuthenticator {
    fn authenticate(&self, token: &str) -> Result<Identity, AuthError> {
        self.authenticate_at(token, Utc::now().timestamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(keys: &[(&str, &str)]) -> JwtAuthenticator {
        JwtAuthenticator::new(&keys.iter().map(|(k, s)| (k.to_string(), s.to_string())).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn tokens_round_trip_and_rotate() {
        let who = Identity { role: Role::Rider, subject: Uuid::new_v4() };
        let old = auth(&[("k1", "first secret")]);
        let token = old.issue(who, 60);
        assert_eq!(old.authenticate(&token), Ok(who));
        // After rotation, k2 signs and k1 still verifies until removed.
        let rotated = auth(&[("k2", "second secret"), ("k1", "first secret")]);
        assert_eq!(rotated.authenticate(&token), Ok(who));
        assert_eq!(rotated.authenticate(&rotated.issue(who, 60)), Ok(who));
        let retired = auth(&[("k2", "second secret")]);
        assert!(matches!(retired.authenticate(&token), Err(AuthError::Invalid(_))));
    }

    #[test]
    fn expired_and_forged_tokens_are_refused() {
        let who = Identity { role: Role::Customer, subject: Uuid::new_v4() };
        let a = auth(&[("k", "secret")]);
        assert_eq!(a.authenticate(&a.issue(who, -60)), Err(AuthError::Expired));
        let forged = auth(&[("k", "other secret")]).issue(who, 60);
        assert!(matches!(a.authenticate(&forged), Err(AuthError::Invalid(_))));
        assert!(a.authenticate("not.a.token").is_err());
    }

    #[test]
    fn a_verified_token_still_expires() {
        let who = Identity { role: Role::Store, subject: Uuid::new_v4() };
        let a = auth(&[("k", "secret")]);
        let token = a.issue(who, 60);
        let now = Utc::now().timestamp();
        assert_eq!(a.authenticate_at(&token, now), Ok(who));
        // Remembered now: taken again until its expiry, plus the leeway, and not after.
        assert_eq!(a.authenticate_at(&token, now + 60 + LEEWAY_SECS - 1), Ok(who));
        assert_eq!(a.authenticate_at(&token, now + 60 + LEEWAY_SECS + 2), Err(AuthError::Expired));
        // A forged token is never remembered, however often it is sent.
        let forged = auth(&[("k", "other secret")]).issue(who, 60);
        for _ in 0..2 {
            assert!(matches!(a.authenticate(&forged), Err(AuthError::Invalid(_))));
        }
    }
}
