//! Passwords (Argon2id on a bounded pool of blocking threads), mailbox JWTs (HS256), and the
//! `Mailbox` extractor that turns a Bearer token into the caller's account.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::api::AppState;
use crate::error::{ApiError, ApiResult};
use crate::store::accounts::Account;

/// Argon2id cost from the contract: m=19456 KiB, t=2, p=1.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("static Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The claims of a mailbox JWT.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// The account id.
    sub: Uuid,
    /// The account's token version when issued; a reset bumps it and retires older tokens.
    ver: i64,
    iat: u64,
    exp: u64,
}

/// Password hashing and token signing for one server.
pub struct Auth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    lifetime: Duration,
    /// Bounds concurrent Argon2 runs so a burst of sign-ins leaves CPU for everything else.
    hashing: Arc<Semaphore>,
    /// Verified against when the address is unknown, so that costs as much as a wrong password.
    /// Made at start, so the first unknown address costs no more than later ones.
    dummy_hash: String,
}

impl Auth {
    /// Signs with `secret`; tokens live for `lifetime`. Blocking (it hashes once): call it from a
    /// blocking context.
    pub fn new(secret: &[u8], lifetime: Duration) -> Auth {
        let dummy_hash = argon2()
            .hash_password(b"mailcx timing equaliser")
            .expect("hashing a static password")
            .to_string();
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Auth {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            lifetime,
            hashing: Arc::new(Semaphore::new(cores.saturating_sub(1).max(1))),
            dummy_hash,
        }
    }

    /// Hashes a password to a PHC string.
    pub async fn hash_password(&self, password: String) -> ApiResult<String> {
        self.run_argon2(move || {
            argon2()
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(ApiError::internal)
        })
        .await
    }

    /// Checks a password against a stored hash, or against a dummy hash when there is none.
    pub async fn verify_password(&self, password: String, hash: Option<String>) -> ApiResult<bool> {
        let (hash, real) = match hash {
            Some(hash) => (hash, true),
            None => (self.dummy_hash.clone(), false),
        };
        let matches = self
            .run_argon2(move || {
                let parsed = PasswordHash::new(&hash).map_err(ApiError::internal)?;
                Ok(argon2().verify_password(password.as_bytes(), &parsed).is_ok())
            })
            .await?;
        Ok(matches && real)
    }

    async fn run_argon2<R: Send + 'static>(
        &self,
        work: impl FnOnce() -> ApiResult<R> + Send + 'static,
    ) -> ApiResult<R> {
        let _permit = self
            .hashing
            .clone()
            .acquire_owned()
            .await
            .map_err(ApiError::internal)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(ApiError::internal)?
    }

    /// Issues a token for the account.
    pub fn issue(&self, account: &Account) -> ApiResult<String> {
        let now = unix_now();
        let claims = Claims {
            sub: account.id,
            ver: account.token_version,
            iat: now,
            exp: now + self.lifetime.as_secs(),
        };
        jsonwebtoken::encode(&Header::default(), &claims, &self.encoding).map_err(ApiError::internal)
    }

    /// The account id and token version of a valid token; `None` for anything else.
    fn verify(&self, token: &str) -> Option<(Uuid, i64)> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        Some((data.claims.sub, data.claims.ver))
    }

    /// The live account a token stands for, or `invalid_token`.
    pub async fn account_for_token(&self, state: &AppState, token: &str) -> ApiResult<Account> {
        let (id, version) = self.verify(token).ok_or_else(ApiError::invalid_token)?;
        let account = state.store.account(id).await?;
        match account {
            Some(account) if account.token_version == version => Ok(account),
            _ => Err(ApiError::invalid_token()),
        }
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The caller's mailbox, from `Authorization: Bearer <mailbox JWT>`; rejects with `invalid_token`.
pub struct Mailbox(pub Account);

impl FromRequestParts<AppState> for Mailbox {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts).ok_or_else(ApiError::invalid_token)?;
        state.auth.account_for_token(state, token).await.map(Mailbox)
    }
}

/// The token of an `Authorization: Bearer` header.
fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}
