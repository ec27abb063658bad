//! Passwords (Argon2id on a bounded pool of blocking threads), JWTs (HS256) for mailboxes and for
//! Pro users, `tm_pro_` API tokens (stored as SHA-256 hashes), and the extractors that turn a
//! Bearer credential into the caller: `Mailbox` and `Pro`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tokio::sync::{Notify, Semaphore, watch};
use uuid::Uuid;

use crate::api::AppState;
use crate::error::{ApiError, ApiResult};
use crate::store::Store;
use crate::store::accounts::Account;
use crate::store::pro::{self, ProUser};

/// Argon2id cost from the contract: m=19456 KiB, t=2, p=1.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("static Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The claims of a mailbox JWT.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// The account id, or the Pro user's id.
    sub: Uuid,
    /// The account's (or user's) token version when issued; a reset bumps it and retires older
    /// tokens.
    ver: i64,
    iat: u64,
    exp: u64,
    /// `"pro"` for a Pro user's JWT; absent for a mailbox's, so neither passes for the other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
}

/// The `kind` claim of a Pro user's JWT.
const PRO_KIND: &str = "pro";
/// What every API token starts with.
pub const PRO_TOKEN_PREFIX: &str = "tm_pro_";
/// Random alphanumerics after the prefix.
const PRO_TOKEN_RANDOM: usize = 32;

/// A new API token: `tm_pro_` and 32 alphanumerics from a CSPRNG (rand's thread generator,
/// ChaCha seeded from the operating system).
pub fn new_pro_token() -> String {
    use rand::Rng;
    use rand::distr::Alphanumeric;
    let random: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(PRO_TOKEN_RANDOM)
        .map(char::from)
        .collect();
    format!("{PRO_TOKEN_PREFIX}{random}")
}

/// What an API token is stored and looked up as.
pub fn pro_token_hash(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).into()
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
    /// API tokens used since their use was last written, with the time of the latest use.
    token_uses: Mutex<HashMap<Uuid, i64>>,
    /// Wakes the writer of token uses.
    token_used: Notify,
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
            token_uses: Mutex::default(),
            token_used: Notify::new(),
        }
    }

    /// Hashes a password to a PHC string, on a bounded pool of blocking threads.
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
        self.sign(account.id, account.token_version, None)
    }

    /// Issues a JWT for a Pro user.
    pub fn issue_pro(&self, user: &ProUser) -> ApiResult<String> {
        self.sign(user.id, user.token_version, Some(PRO_KIND))
    }

    /// A JWT for `sub` at token version `ver`, of `kind` (none for a mailbox), valid from now.
    fn sign(&self, sub: Uuid, ver: i64, kind: Option<&str>) -> ApiResult<String> {
        let now = unix_now();
        let claims = Claims {
            sub,
            ver,
            iat: now,
            exp: now + self.lifetime.as_secs(),
            kind: kind.map(str::to_string),
        };
        jsonwebtoken::encode(&Header::default(), &claims, &self.encoding).map_err(ApiError::internal)
    }

    /// The subject, token version and kind of a validly signed, unexpired JWT.
    fn decode(&self, token: &str) -> Option<Claims> {
        Some(
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
                .ok()?
                .claims,
        )
    }

    /// The account id and token version of a valid mailbox JWT; `None` for anything else.
    fn verify(&self, token: &str) -> Option<(Uuid, i64)> {
        let claims = self.decode(token).filter(|c| c.kind.is_none())?;
        Some((claims.sub, claims.ver))
    }

    /// The Pro user a Pro JWT or a live `tm_pro_` token stands for, or `invalid_token`.
    pub async fn pro_caller(&self, state: &AppState, credential: &str) -> ApiResult<ProCaller> {
        if credential.starts_with(PRO_TOKEN_PREFIX) {
            let hash = pro_token_hash(credential);
            let (token, stored) = state
                .store
                .pro_token(hash)
                .await?
                .ok_or_else(ApiError::invalid_token)?;
            if !bool::from(stored.as_slice().ct_eq(hash.as_slice())) {
                return Err(ApiError::invalid_token());
            }
            let user = state
                .store
                .pro_user(token.user_id)
                .await?
                .ok_or_else(ApiError::invalid_token)?;
            self.note_token_use(token.id);
            return Ok(ProCaller {
                user,
                token_id: Some(token.id),
            });
        }
        let claims = self
            .decode(credential)
            .filter(|c| c.kind.as_deref() == Some(PRO_KIND))
            .ok_or_else(ApiError::invalid_token)?;
        match state.store.pro_user(claims.sub).await? {
            Some(user) if user.token_version == claims.ver => Ok(ProCaller { user, token_id: None }),
            _ => Err(ApiError::invalid_token()),
        }
    }

    /// Remembers that a token was used now; written out later in one go (`take_token_uses`), so
    /// a request with a token is not a disk write.
    fn note_token_use(&self, id: Uuid) {
        let first = {
            let mut uses = self.token_uses.lock().expect("token uses lock");
            let first = uses.is_empty();
            uses.insert(id, unix_now() as i64);
            first
        };
        if first {
            self.token_used.notify_one();
        }
    }

    /// The token uses not written yet, with the time of each one's latest use.
    pub fn take_token_uses(&self) -> Vec<(Uuid, i64)> {
        std::mem::take(&mut *self.token_uses.lock().expect("token uses lock"))
            .into_iter()
            .collect()
    }

    /// When the token with this id was last used, counting uses not written yet.
    pub fn last_use_pending(&self, id: Uuid) -> Option<i64> {
        self.token_uses.lock().expect("token uses lock").get(&id).copied()
    }

    /// Resolves once a token was used after the last `take_token_uses`.
    pub async fn token_used(&self) {
        self.token_used.notified().await;
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

/// How long API token uses gather before they are written out together.
const TOKEN_USES_WRITTEN_EVERY: Duration = Duration::from_secs(60);

/// Writes API tokens' `last_used_at` out, a minute after a use at most, and once more on
/// shutdown: a request with a token is never a disk write of its own. Sleeps while none is used.
pub async fn write_token_uses(store: Store, auth: Arc<Auth>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let stopping = tokio::select! {
            _ = crate::stopping(&mut shutdown) => true,
            _ = auth.token_used() => tokio::select! {
                _ = crate::stopping(&mut shutdown) => true,
                _ = tokio::time::sleep(TOKEN_USES_WRITTEN_EVERY) => false,
            },
        };
        let uses = auth.take_token_uses();
        if !uses.is_empty()
            && let Err(e) = store.write(move |conn| pro::record_token_use(conn, &uses)).await
        {
            tracing::warn!("recording API token uses failed: {e}");
        }
        if stopping {
            return;
        }
    }
}

/// Hashes a password to a PHC string, here and now (blocking; for the operator's commands).
pub fn hash_password_now(password: &str) -> Result<String, String> {
    argon2()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
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
        let token = bearer_token(&parts.headers).ok_or_else(ApiError::invalid_token)?;
        state.auth.account_for_token(state, token).await.map(Mailbox)
    }
}

/// Who a Pro credential stands for: the user, and the API token used, if one was.
#[derive(Debug, Clone)]
pub struct ProCaller {
    pub user: ProUser,
    pub token_id: Option<Uuid>,
}

/// The calling Pro user, from `Authorization: Bearer <tm_pro_ token or Pro JWT>`; rejects with
/// `invalid_token`.
pub struct Pro(pub ProCaller);

impl FromRequestParts<AppState> for Pro {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // Resolved already by the rate limiter, on this same request.
        if let Some(caller) = parts.extensions.get::<ProCaller>() {
            return Ok(Pro(caller.clone()));
        }
        let credential = bearer_token(&parts.headers).ok_or_else(ApiError::invalid_token)?;
        state.auth.pro_caller(state, credential).await.map(Pro)
    }
}

/// Whether a Bearer credential is a Pro one (a `tm_pro_` token or a Pro JWT), judged by its form
/// alone: `POST /api/accounts` ignores any other Authorization value.
pub fn looks_like_pro(auth: &Auth, credential: &str) -> bool {
    credential.starts_with(PRO_TOKEN_PREFIX)
        || auth
            .decode(credential)
            .is_some_and(|c| c.kind.as_deref() == Some(PRO_KIND))
}

/// The token of an `Authorization: Bearer` header.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}
