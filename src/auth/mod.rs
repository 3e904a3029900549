//! Who is calling. Every websocket (and, with the accounts, every REST route) needs an
//! identity: a role and the id it acts as. The [`Authenticator`] port turns a bearer token
//! into one; the shipped adapter verifies HS256 JWTs, with a key id (`kid`) in the header so
//! keys can rotate.

mod accounts;
mod hashing;
mod hs256;
mod revocations;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use dashmap::DashMap;
use jsonwebtoken::{decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use accounts::{normalize_email, AccountError, Accounts, Tokens};
pub use hashing::Hashing;
pub use revocations::{Revocations, Watch};

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

/// A verified token: who it names, and what a long-lived connection needs to end with it
/// (when it expires, and its id, by which it can be revoked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub identity: Identity,
    /// The token's id; tokens issued before ids existed have none and cannot be revoked
    /// one by one (they expire within the token lifetime).
    pub jti: Option<Uuid>,
    /// Seconds since the epoch.
    pub expires_at: i64,
}

/// Why a token was refused. The messages are all a client sees: what exactly was wrong
/// with a token that is not valid stays in the server's log.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AuthError {
    #[error("no credentials: send `Authorization: Bearer <token>`")]
    Missing,
    #[error("the token is invalid")]
    Invalid(String),
    #[error("the token has expired")]
    Expired,
    #[error("the token has been revoked")]
    Revoked,
}

impl AuthError {
    /// The stable code clients act on: refresh on `token_expired`, sign in again otherwise.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Missing => "unauthorized",
            AuthError::Invalid(_) => "invalid_token",
            AuthError::Expired => "token_expired",
            AuthError::Revoked => "token_revoked",
        }
    }
}

pub trait Authenticator: Send + Sync + 'static {
    fn authenticate(&self, token: &str) -> Result<Credentials, AuthError>;
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    role: Role,
    iat: i64,
    exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jti: Option<Uuid>,
}

/// HS256 JWTs. Tokens are signed with the current key; any configured key verifies, so a
/// key can be rotated out while its tokens expire.
pub struct JwtAuthenticator {
    current: String,
    keys: HashMap<String, (EncodingKey, DecodingKey)>,
    /// Tokens whose signature has been checked, with what they say. A client sends the same
    /// token with every request, and the HMAC need not be computed again for it; the expiry
    /// and the deny-list are still checked every time.
    verified: DashMap<String, Credentials>,
    /// The longest lifetime the server issues: a token that claims to live longer was not
    /// made here, whatever its signature says. `None` for tools that only sign.
    max_ttl_secs: Option<i64>,
    revocations: Arc<Revocations>,
}

/// Seconds a token is still taken after its expiry (clock skew).
const LEEWAY_SECS: i64 = 5;

/// Most tokens remembered as verified; when full, the memory starts again.
const VERIFIED_TOKENS: usize = 10_000;

impl JwtAuthenticator {
    /// `keys` are (kid, secret); the first signs.
    pub fn new(keys: &[(String, String)]) -> Result<Self, AuthError> {
        hs256::install();
        let (current, _) = keys.first().ok_or_else(|| AuthError::Invalid("no signing key configured".into()))?;
        let mut pairs = HashMap::new();
        for (kid, secret) in keys {
            let encoding =
                EncodingKey::from_secret(secret.as_bytes()).map_err(|e| AuthError::Invalid(e.to_string()))?;
            let decoding =
                DecodingKey::from_secret(secret.as_bytes()).map_err(|e| AuthError::Invalid(e.to_string()))?;
            pairs.insert(kid.clone(), (encoding, decoding));
        }
        Ok(JwtAuthenticator {
            current: current.clone(),
            keys: pairs,
            verified: DashMap::new(),
            max_ttl_secs: None,
            revocations: Arc::new(Revocations::default()),
        })
    }

    /// Refuse tokens whose expiry lies further ahead than `secs` (the lifetime this server
    /// issues), and consult `revocations` for revoked ones.
    pub fn verifying(mut self, max_ttl_secs: i64, revocations: Arc<Revocations>) -> Self {
        self.max_ttl_secs = Some(max_ttl_secs);
        self.revocations = revocations;
        self
    }

    /// A signed token for `identity`, valid for `ttl_secs`.
    pub fn issue(&self, identity: Identity, ttl_secs: i64) -> String {
        self.issue_with_id(identity, ttl_secs).0
    }

    /// A signed token for `identity` and its id and expiry, by which it can be revoked.
    pub fn issue_with_id(&self, identity: Identity, ttl_secs: i64) -> (String, Uuid, i64) {
        let now = Utc::now().timestamp();
        let jti = Uuid::new_v4();
        let claims =
            Claims { sub: identity.subject, role: identity.role, iat: now, exp: now + ttl_secs, jti: Some(jti) };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current.clone());
        let (key, _) = &self.keys[&self.current];
        (encode(&header, &claims, key).unwrap_or_default(), jti, now + ttl_secs)
    }

    /// Verify `token` as of `now` (seconds since the epoch).
    fn authenticate_at(&self, token: &str, now: i64) -> Result<Credentials, AuthError> {
        if let Some(known) = self.verified.get(token) {
            let credentials = *known;
            drop(known);
            if credentials.expires_at < now - LEEWAY_SECS {
                self.verified.remove(token);
                return Err(AuthError::Expired);
            }
            return self.unrevoked(credentials);
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
        let claims = data.claims;
        if let Some(max) = self.max_ttl_secs {
            if claims.exp > now + max + LEEWAY_SECS {
                return Err(AuthError::Invalid(format!("expires {} s ahead; tokens live {max} s", claims.exp - now)));
            }
        }
        let credentials = Credentials {
            identity: Identity { role: claims.role, subject: claims.sub },
            jti: claims.jti,
            expires_at: claims.exp,
        };
        if self.verified.len() >= VERIFIED_TOKENS {
            self.verified.clear();
        }
        self.verified.insert(token.to_owned(), credentials);
        self.unrevoked(credentials)
    }

    fn unrevoked(&self, credentials: Credentials) -> Result<Credentials, AuthError> {
        match credentials.jti {
            Some(jti) if self.revocations.is_revoked(jti) => Err(AuthError::Revoked),
            _ => Ok(credentials),
        }
    }
}

impl Authenticator for JwtAuthenticator {
    fn authenticate(&self, token: &str) -> Result<Credentials, AuthError> {
        let result = self.authenticate_at(token, Utc::now().timestamp());
        if let Err(AuthError::Invalid(why)) = &result {
            tracing::debug!(%why, "token refused");
        }
        result
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
        assert_eq!(old.authenticate(&token).map(|c| c.identity), Ok(who));
        // After rotation, k2 signs and k1 still verifies until removed.
        let rotated = auth(&[("k2", "second secret"), ("k1", "first secret")]);
        assert_eq!(rotated.authenticate(&token).map(|c| c.identity), Ok(who));
        assert_eq!(rotated.authenticate(&rotated.issue(who, 60)).map(|c| c.identity), Ok(who));
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
        assert_eq!(a.authenticate_at(&token, now).map(|c| c.identity), Ok(who));
        // Remembered now: taken again until its expiry, plus the leeway, and not after.
        assert_eq!(a.authenticate_at(&token, now + 60 + LEEWAY_SECS - 1).map(|c| c.identity), Ok(who));
        assert_eq!(a.authenticate_at(&token, now + 60 + LEEWAY_SECS + 2), Err(AuthError::Expired));
        // A forged token is never remembered, however often it is sent.
        let forged = auth(&[("k", "other secret")]).issue(who, 60);
        for _ in 0..2 {
            assert!(matches!(a.authenticate(&forged), Err(AuthError::Invalid(_))));
        }
    }

    #[test]
    fn a_token_living_longer_than_the_server_issues_is_refused() {
        let who = Identity { role: Role::Operator, subject: Uuid::new_v4() };
        let a = auth(&[("k", "secret")]).verifying(3600, Arc::new(Revocations::default()));
        assert!(a.authenticate(&a.issue(who, 3600)).is_ok());
        // Signed with the right key, but claiming a day: not a token this server made.
        assert!(matches!(a.authenticate(&a.issue(who, 24 * 3600)), Err(AuthError::Invalid(_))));
    }

    #[test]
    fn a_revoked_token_is_refused_even_when_remembered() {
        let who = Identity { role: Role::Customer, subject: Uuid::new_v4() };
        let revocations = Arc::new(Revocations::default());
        let a = auth(&[("k", "secret")]).verifying(3600, revocations.clone());
        let (token, jti, exp) = a.issue_with_id(who, 600);
        assert_eq!(a.authenticate(&token).map(|c| c.jti), Ok(Some(jti)));
        revocations.revoke(jti, exp);
        assert_eq!(a.authenticate(&token), Err(AuthError::Revoked));
        // Another token of the same caller is untouched.
        assert!(a.authenticate(&a.issue(who, 600)).is_ok());
    }

    #[test]
    fn refusals_say_nothing_of_the_library() {
        let a = auth(&[("k", "secret")]);
        let refused = a.authenticate("not.a.token").unwrap_err();
        assert_eq!(refused.to_string(), "the token is invalid");
        assert_eq!(refused.code(), "invalid_token");
    }
}
