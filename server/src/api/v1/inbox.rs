//! `GET /v1/config`, `POST /v1/inbox`, the long poll `GET /v1/inbox/{address}` and
//! `DELETE /v1/inbox/{address}`.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mailcx_common::ErrorCode;
use mailcx_common::v1::{
    Config, EmailList, Inbox, LOCAL_PART_PATTERN, LocalPartRules, NewInbox, SystemDomain,
};
use mailcx_common::validate::MAX_LOCAL_LEN;
use rand::Rng;
use tokio::time::Instant;

use super::{TokenId, cursor, now, open_address, path_text, summary};
use crate::api::{ApiBytes, AppState, ClientIp};
use crate::error::{ApiError, ApiResult};
use crate::events::WAKE_CAPACITY;
use crate::store::accounts;
use crate::store::open::{self, Filter};

/// Most emails one answer lists, and most a long poll may wait for.
const MAX_EMAILS: u32 = 50;
/// Longest `from` or `subject` filter, in bytes.
const MAX_FILTER_BYTES: usize = 256;
/// Characters of a generated local part: 36^12 addresses, too many to guess one.
const RANDOM_LOCAL_LEN: usize = 12;
/// Emails removed per transaction when an inbox is cleared.
const CLEAR_BATCH: u32 = 500;

/// `GET /v1/config`.
pub async fn config(State(state): State<AppState>) -> Json<Config> {
    let system_domains = state
        .config
        .domains
        .iter()
        .enumerate()
        .map(|(i, domain)| SystemDomain {
            domain: domain.clone(),
            default: i == 0,
        })
        .collect();
    Json(Config {
        system_domains,
        open_domains: state.v1.open_domains.clone(),
        local_part_rules: LocalPartRules {
            pattern: LOCAL_PART_PATTERN.to_string(),
            max_length: MAX_LOCAL_LEN as u32,
        },
        retention_seconds: state.config.open_retention.as_secs(),
    })
}

/// `POST /v1/inbox` with `{}`, `{"domain"}` or no body: a random address on an open domain that
/// no mailbox has. Nothing is stored.
pub async fn create(
    State(state): State<AppState>,
    ApiBytes(body): ApiBytes,
) -> ApiResult<(StatusCode, Json<Inbox>)> {
    // Any content type: mail.cx's clients differ in what they send with `{}`.
    let request: NewInbox = if body.iter().all(u8::is_ascii_whitespace) {
        NewInbox::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid_request(format!("the body is not a valid request: {e}")))?
    };
    let domain =
        match request.domain {
            Some(domain) => {
                let domain = domain.trim().to_ascii_lowercase();
                if !state.v1.open_domains.contains(&domain) {
                    return Err(ApiError::new(
                        ErrorCode::InvalidAddress,
                        format!("{domain} is not an open domain of this server"),
                    ));
                }
                domain
            }
            None => state.v1.open_domains.first().cloned().ok_or_else(|| {
                ApiError::new(ErrorCode::InvalidAddress, "no domain is open on this server")
            })?,
        };
    let address = loop {
        let address = format!("{}@{domain}", random_local_part());
        let lookup = address.clone();
        // A mailbox's address would not receive into an open inbox: pick another.
        let taken = state
            .store
            .read(move |conn| accounts::by_address(conn, &lookup))
            .await?;
        if taken.is_none() {
            break address;
        }
    };
    let expires_at = (now() + state.config.open_retention.as_secs() as i64) * 1000;
    Ok((StatusCode::CREATED, Json(Inbox { address, expires_at })))
}

fn random_local_part() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..RANDOM_LOCAL_LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The long poll's query.
struct WaitQuery {
    filter: Filter,
    count: u32,
    limit: u32,
}

/// Reads `since`, `count`, `limit`, `from` and `subject`; each at most once, numbers from 1 to
/// 50, filters up to 256 bytes. Other parameters are ignored.
fn wait_query(query: Option<&str>) -> ApiResult<WaitQuery> {
    let mut seen = Vec::new();
    let mut parsed = WaitQuery {
        filter: Filter {
            since: 0,
            from: String::new(),
            subject: String::new(),
        },
        count: 1,
        limit: 20,
    };
    let number = |key: &str, value: &str| {
        value
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_EMAILS).contains(n))
            .ok_or_else(|| {
                ApiError::invalid_request(format!("{key} must be a whole number from 1 to {MAX_EMAILS}"))
            })
    };
    let text = |key: &str, value: &str| {
        if value.len() > MAX_FILTER_BYTES {
            return Err(ApiError::invalid_request(format!(
                "{key} is at most {MAX_FILTER_BYTES} bytes"
            )));
        }
        Ok(value.to_string())
    };
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let key = key.as_ref();
        if !matches!(key, "since" | "count" | "limit" | "from" | "subject") {
            continue;
        }
        if seen.contains(&key.to_string()) {
            return Err(ApiError::invalid_request(format!("{key} may be given once")));
        }
        seen.push(key.to_string());
        match key {
            // An empty `since` is no cursor (clients that start without one send it so).
            "since" if value.is_empty() => {}
            "since" => parsed.filter.since = cursor(&value)?,
            "count" => parsed.count = number(key, &value)?,
            "limit" => parsed.limit = number(key, &value)?,
            "from" => parsed.filter.from = text(key, &value)?,
            _ => parsed.filter.subject = text(key, &value)?,
        }
    }
    Ok(parsed)
}

/// `GET /v1/inbox/{address}`: answers as soon as `count` emails newer than `since` match, else
/// waits for arrivals (woken by the stored-message event, never by reading the store on a
/// timer) until the hold passes: 204.
pub async fn wait(
    State(state): State<AppState>,
    address: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    token: Option<Extension<TokenId>>,
    ClientIp(client): ClientIp,
) -> ApiResult<Response> {
    let address = open_address(&state, &path_text(address)?)?;
    let query = wait_query(query.as_deref())?;
    // Listening before the first read: mail committed in between still wakes this waiter.
    let mut listener = state
        .events
        .subscribe_with_capacity(open::inbox_key(&address), WAKE_CAPACITY);
    if let Some(list) = look(&state, &address, &query).await? {
        return Ok(Json(list).into_response());
    }
    let _waiting = state
        .v1
        .waiters
        .admit(&address, token.map(|Extension(TokenId(id))| id), client)?;
    let deadline = Instant::now() + state.config.long_poll_hold;
    let mut shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break,
            _ = crate::stopping(&mut shutdown) => break,
            received = listener.receiver.recv() => {
                // Lagged is fine too: whatever arrived is read from the store next.
                if matches!(received, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    break;
                }
            }
        }
        if let Some(list) = look(&state, &address, &query).await? {
            return Ok(Json(list).into_response());
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The answer when at least `count` emails match: the newest `limit` of them and the cursor
/// past the newest.
async fn look(state: &AppState, address: &str, query: &WaitQuery) -> ApiResult<Option<EmailList>> {
    let (address, since, from, subject) = (
        address.to_string(),
        query.filter.since,
        query.filter.from.clone(),
        query.filter.subject.clone(),
    );
    let wanted = query.count.max(query.limit);
    let mut emails = state
        .store
        .read(move |conn| {
            let filter = Filter { since, from, subject };
            open::newer(conn, &address, &filter, wanted, now())
        })
        .await?;
    if (emails.len() as u32) < query.count {
        return Ok(None);
    }
    emails.truncate(query.limit as usize);
    let next_since = emails.first().map_or(since, |e| e.seq).to_string();
    Ok(Some(EmailList {
        emails: emails.iter().map(summary).collect(),
        next_since,
    }))
}

/// `DELETE /v1/inbox/{address}`: every email of the open inbox, in batches so a full inbox
/// never holds the writer for long.
pub async fn clear(
    State(state): State<AppState>,
    address: Result<Path<String>, PathRejection>,
) -> ApiResult<StatusCode> {
    let address = open_address(&state, &path_text(address)?)?;
    loop {
        let address = address.clone();
        let more = state
            .store
            .write(move |conn| open::clear_some(conn, &address, CLEAR_BATCH))
            .await?;
        if !more {
            return Ok(StatusCode::NO_CONTENT);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_poll_queries_are_bounded() {
        let ok = wait_query(Some("since=7&count=2&limit=50&from=a&subject=b&other=x")).unwrap();
        assert_eq!((ok.filter.since, ok.count, ok.limit), (7, 2, 50));
        assert_eq!((ok.filter.from.as_str(), ok.filter.subject.as_str()), ("a", "b"));
        let defaults = wait_query(None).unwrap();
        assert_eq!(
            (defaults.filter.since, defaults.count, defaults.limit),
            (0, 1, 20)
        );
        assert_eq!(wait_query(Some("since=")).unwrap().filter.since, 0);
        let long = format!("from={}", "x".repeat(MAX_FILTER_BYTES + 1));
        for bad in [
            "count=0",
            "count=51",
            "limit=abc",
            "since=-3",
            "since=x",
            "count=1&count=2",
            &long,
        ] {
            assert!(wait_query(Some(bad)).is_err(), "{bad}");
        }
    }
}
