//! `/pro/api/domains`: a Pro user's custom domains. Adding one gives the DNS records to set;
//! verifying asks DNS for real: the TXT record proves ownership (then the domain receives mail
//! and takes mailboxes), the MX record says whether mail can reach this server.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use mailcx_common::{
    CreatedDomain, CustomDomain, CustomDomainList, DnsRecord, DomainCheck, ErrorCode, NewDomain,
    VerifyStatus, timestamp,
};
use uuid::Uuid;

use crate::api::{ApiJson, AppState, accounts};
use crate::auth::{Pro, unix_now};
use crate::config::parse_domain;
use crate::dns::LookupError;
use crate::error::{ApiError, ApiResult};
use crate::store::StoreError;
use crate::store::domains::{self, Deleted, Domain};

/// What every verify token starts with.
const TOKEN_PREFIX: &str = "mailcx-verify-";
/// Random alphanumerics after the prefix.
const TOKEN_RANDOM: usize = 32;
/// The MX priority the records ask for.
const MX_PRIORITY: u16 = 10;
/// Mailboxes looked up per round when a domain is deleted.
const MAILBOX_BATCH: u32 = 100;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/pro/api/domains", get(list).post(create))
        .route("/pro/api/domains/{id}", delete(remove))
        .route("/pro/api/domains/{id}/verify", post(verify))
}

/// `GET /pro/api/domains`: the caller's domains, oldest first.
async fn list(State(state): State<AppState>, Pro(caller): Pro) -> ApiResult<Json<CustomDomainList>> {
    let user_id = caller.user.id;
    let found = state
        .store
        .read(move |conn| domains::list_of(conn, user_id))
        .await?;
    Ok(Json(CustomDomainList {
        domains: found.into_iter().map(listed).collect(),
    }))
}

/// `POST /pro/api/domains` → 201 with the records to set.
async fn create(
    State(state): State<AppState>,
    Pro(caller): Pro,
    ApiJson(new): ApiJson<NewDomain>,
) -> ApiResult<(StatusCode, Json<CreatedDomain>)> {
    let name = parse_domain(&new.domain).map_err(|e| ApiError::new(ErrorCode::InvalidDomain, e))?;
    if state.config.domains.contains(&name) {
        return Err(ApiError::new(
            ErrorCode::InvalidDomain,
            format!("{name} is a system domain of this server; anyone may use it already"),
        ));
    }
    let now = unix_now() as i64;
    let domain = Domain {
        id: Uuid::new_v4(),
        user_id: caller.user.id,
        domain: name,
        verify_token: new_verify_token(),
        verified_at: None,
        mx_configured: false,
        created_at: now,
    };
    let limit = caller.user.limits.domains;
    let expired_before = now - state.config.domain_verify_window.as_secs() as i64;
    let stored = domain.clone();
    let created = state
        .store
        .write(move |conn| {
            // Counted in the same transaction as the insert: racing adds cannot pass the limit.
            if domains::count_of(conn, stored.user_id)? >= limit {
                return Ok(false);
            }
            // A claim left pending past its window does not keep the name from its real owner.
            domains::release_expired(conn, &stored.domain, expired_before)?;
            domains::insert(conn, &stored)?;
            Ok(true)
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict => ApiError::new(
                ErrorCode::DomainAlreadyExists,
                "that domain has already been added (by this or another account)",
            ),
            other => other.into(),
        })?;
    if !created {
        return Err(ApiError::new(
            ErrorCode::DomainLimitReached,
            "this account has as many custom domains as it may; delete one first",
        ));
    }
    let mx_host = state.config.mx_host();
    Ok((
        StatusCode::CREATED,
        Json(CreatedDomain {
            id: domain.id,
            verify_status: VerifyStatus::Pending,
            dns_records: records(&domain, &mx_host, None),
            domain: domain.domain,
            verify_token: domain.verify_token,
        }),
    ))
}

/// `POST /pro/api/domains/{id}/verify`: asks DNS for the two records and records the outcome.
async fn verify(
    State(state): State<AppState>,
    Pro(caller): Pro,
    Path(id): Path<String>,
) -> ApiResult<Json<DomainCheck>> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found())?;
    let user_id = caller.user.id;
    let domain = state
        .store
        .read(move |conn| domains::get(conn, user_id, id))
        .await?
        .ok_or_else(ApiError::not_found)?;
    let now = unix_now() as i64;
    let window = state.config.domain_verify_window.as_secs() as i64;
    if !domain.is_verified() && now - domain.created_at > window {
        return Err(ApiError::new(
            ErrorCode::DomainExpired,
            "this domain stayed unverified past its window; delete it and add it again",
        ));
    }
    let mx_host = state.config.mx_host();
    let txt_name = txt_host(&domain.domain);
    let (txt, mx) = tokio::join!(
        state.dns.txt_records(&txt_name),
        state.dns.mx_records(&domain.domain)
    );
    let (txt, mx) = (txt.map_err(dns_failed)?, mx.map_err(dns_failed)?);
    let txt_ok = txt.iter().any(|value| value.trim() == domain.verify_token);
    let mx_ok = mx.iter().any(|(_, host)| *host == mx_host);
    let found = Found {
        txt: shown(txt.iter().cloned()),
        mx: shown(mx.iter().map(|(priority, host)| format!("{priority} {host}"))),
    };
    let verified_now = txt_ok.then_some(now);
    let checked = state
        .store
        .write(move |conn| domains::record_check(conn, user_id, id, verified_now, mx_ok))
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(DomainCheck {
        verify_status: status(&checked),
        dns_records: records(&checked, &mx_host, Some((txt_ok, mx_ok, found))),
    }))
}

/// `DELETE /pro/api/domains/{id}` → 204, with the domain's mailboxes and their mail. The domain
/// turns pending first, so it takes no mail and no new mailbox while its mailboxes go, each as
/// `DELETE /api/account` removes one: its mail in batches that never hold the writer (and with
/// it every SMTP `250`) for long, then the mailbox.
async fn remove(
    State(state): State<AppState>,
    Pro(caller): Pro,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found())?;
    let user_id = caller.user.id;
    if !state
        .store
        .write(move |conn| domains::unverify(conn, user_id, id))
        .await?
    {
        return Err(ApiError::not_found());
    }
    loop {
        let mailboxes = state
            .store
            .read(move |conn| domains::some_mailboxes_on(conn, id, MAILBOX_BATCH))
            .await?;
        if mailboxes.is_empty() {
            match state
                .store
                .write(move |conn| domains::delete(conn, user_id, id))
                .await?
            {
                Deleted::Deleted => return Ok(StatusCode::NO_CONTENT),
                // A racing delete of the same domain won.
                Deleted::NotFound => return Err(ApiError::not_found()),
                // A mailbox made just before the domain turned pending: another round.
                Deleted::HasMailboxes => continue,
            }
        }
        for account in mailboxes {
            accounts::remove(&state, account).await?;
        }
    }
}

/// `mailcx-verify-` and 32 alphanumerics from a CSPRNG: unguessable, so a domain's TXT record
/// proves that whoever set it saw this token.
fn new_verify_token() -> String {
    use rand::Rng;
    use rand::distr::Alphanumeric;
    let random: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(TOKEN_RANDOM)
        .map(char::from)
        .collect();
    format!("{TOKEN_PREFIX}{random}")
}

/// Where a domain's verify token goes: `_mailcx-verify.<domain>`.
fn txt_host(domain: &str) -> String {
    format!("_mailcx-verify.{domain}")
}

fn status(domain: &Domain) -> VerifyStatus {
    if domain.is_verified() {
        VerifyStatus::Verified
    } else {
        VerifyStatus::Pending
    }
}

/// What DNS answered in a verify, as shown to the user.
struct Found {
    txt: Vec<String>,
    mx: Vec<String>,
}

/// Answers as shown: at most `MAX_FOUND` of them, each cut to `MAX_FOUND_CHARS` (a name can
/// hold many long TXT records; the answer stays small).
fn shown(answers: impl Iterator<Item = String>) -> Vec<String> {
    const MAX_FOUND: usize = 10;
    const MAX_FOUND_CHARS: usize = 255;
    answers
        .take(MAX_FOUND)
        .map(|answer| answer.chars().take(MAX_FOUND_CHARS).collect())
        .collect()
}

/// The TXT and MX records a domain needs, with whether DNS has each and what it answered when
/// it was just checked.
fn records(domain: &Domain, mx_host: &str, checked: Option<(bool, bool, Found)>) -> Vec<DnsRecord> {
    let (txt_check, mx_check) = match checked {
        Some((txt_ok, mx_ok, found)) => (Some((txt_ok, found.txt)), Some((mx_ok, found.mx))),
        None => (None, None),
    };
    vec![
        DnsRecord {
            record_type: "TXT".into(),
            host: txt_host(&domain.domain),
            value: domain.verify_token.clone(),
            priority: None,
            ok: txt_check.as_ref().map(|(ok, _)| *ok),
            found: txt_check.map(|(_, found)| found),
        },
        DnsRecord {
            record_type: "MX".into(),
            host: domain.domain.clone(),
            value: mx_host.to_string(),
            priority: Some(MX_PRIORITY),
            ok: mx_check.as_ref().map(|(ok, _)| *ok),
            found: mx_check.map(|(_, found)| found),
        },
    ]
}

fn listed(domain: Domain) -> CustomDomain {
    CustomDomain {
        id: domain.id,
        verify_status: status(&domain),
        verified_at: domain.verified_at.map(timestamp),
        mx_configured: domain.mx_configured,
        created_at: timestamp(domain.created_at),
        domain: domain.domain,
        verify_token: domain.verify_token,
    }
}

/// DNS could not say either way: 400 with the reason, never a 500 (the server is fine; the user
/// can retry), and nothing about the domain is changed.
fn dns_failed(error: LookupError) -> ApiError {
    tracing::warn!("custom domain check: {error}");
    ApiError::invalid_request(format!("{error}; try again later"))
}
