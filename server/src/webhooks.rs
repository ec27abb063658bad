//! Webhook delivery: the worker that POSTs pending `email.received` events from the outbox to
//! their webhooks, signed, retrying failures with exponential backoff, recording every attempt.
//!
//! Events are rows written in the same transaction as the mail they announce, so what a `250`
//! acknowledged is delivered even across a crash: the worker picks up every pending row when it
//! starts. It sleeps until the next retry falls due or until a commit queues new events (`Outbox`),
//! never polling the database while idle. A few deliveries run at once, and it holds no more
//! events in memory than it has deliveries running.
//!
//! Targets are checked when each request is made, on the addresses DNS gave (a resolver that
//! filters them, so the checked address is the one connected to): loopback, private, link-local,
//! unspecified, multicast and other non-public addresses are refused unless the operator allows
//! them. Redirects are not followed and no proxy is used, so nothing reaches an address unchecked.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::CONTENT_TYPE;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::auth::unix_now;
use crate::config::Config;
use crate::store::webhooks::{self, Attempt, DueEvent, Pending};
use crate::store::{Store, StoreResult};

/// Attempts per event: the first, then four retries.
pub const MAX_ATTEMPTS: u32 = 5;
/// Each attempt's limit, from connecting to the last byte of the answer.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries in flight at once.
const CONCURRENCY: usize = 16;
/// Deliveries in flight at once for one webhook.
const PER_WEBHOOK: usize = 8;
/// Due events looked at each time, per delivery slot: past one webhook's crowd of events to
/// others'.
const WINDOW_PER_SLOT: usize = 4;
/// Events whose outcome is not yet written at most; no more start until some are (the outcomes
/// are written when the database has a moment, so under a burst of mail they wait).
const MAX_UNRECORDED: usize = 1024;
/// Mail counts as crowding in when the store took several writes at once this recently.
const CROWDED_WINDOW: Duration = Duration::from_millis(20);
/// Longest deliveries wait while mail crowds in...
const MAX_YIELD: Duration = Duration::from_secs(2);
/// ...before they run this long regardless.
const DUTY: Duration = Duration::from_millis(200);
/// How often a waiting worker looks whether mail still crowds in.
const YIELD_STEP: Duration = Duration::from_millis(20);
/// While due events wait for a slot, finished requests refill at most this often.
const READ_GAP: Duration = Duration::from_millis(2);
/// The niceness of the thread that makes the requests (0 is the usual, 19 the least).
#[cfg(target_os = "linux")]
const REQUESTS_NICE: i32 = 10;
/// How long outcomes gather before they are written.
const RECORD_DELAY: Duration = Duration::from_millis(10);
/// Outcomes written in one transaction at most.
const MAX_RECORD_BATCH: usize = MAX_UNRECORDED;
/// Most of a receiver's answer that is read (then the rest is dropped); read at all so the
/// connection can be reused.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// Longest sleep with nothing due, so a changed clock is noticed within the hour.
const MAX_SLEEP: Duration = Duration::from_secs(3600);
/// Pause after the database failed, before trying again.
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(5);
/// What is recorded for an event whose mail was deleted before it could be sent.
const GONE: &str = "not sent: the message was deleted before its event could be delivered";
/// Longest error text recorded for an attempt.
const MAX_ERROR_CHARS: usize = 300;

/// Wakes the worker when a commit has queued events; cheap to share.
#[derive(Default)]
pub struct Outbox {
    wake: Notify,
}

impl Outbox {
    /// An outbox with nothing announced yet.
    pub fn new() -> Arc<Outbox> {
        Arc::default()
    }

    /// Events were committed to the outbox (or an attempt finished): the worker looks again.
    pub fn queued(&self) {
        // A stored permit: a wake-up while the worker is busy is not lost.
        self.wake.notify_one();
    }
}

/// How the worker delivers.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Wait before the first retry; each later retry waits twice the one before.
    pub backoff: Duration,
    /// Whether non-public addresses may be reached.
    pub allow_private: bool,
}

impl Settings {
    /// The webhook settings of `config`.
    pub fn new(config: &Config) -> Settings {
        Settings {
            backoff: config.webhook_backoff,
            allow_private: config.webhook_allow_private,
        }
    }

    /// The wait after failed attempt number `attempt` (from 1): backoff, then doubling.
    pub fn retry_delay(&self, attempt: u32) -> Duration {
        self.backoff
            .saturating_mul(1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX))
    }
}

/// `sha256=<lowercase hex HMAC-SHA256(secret, timestamp + "." + body)>`, the signature header.
pub fn signature(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether a webhook may reach `ip`: false for loopback, private, link-local, unspecified,
/// multicast, broadcast, shared (CGNAT), documentation, benchmarking and reserved addresses, and
/// for IPv6 forms that embed such an IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || (a == 100 && (b & 0xc0) == 64)
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b & 0xfe) == 18)
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 address they embed.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        return is_public_v4(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return is_public_v4(embedded(s[1], s[2]));
    }
    !(s[..6] == [0; 6] // ::, ::1 and the old IPv4-compatible ::/96
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] < 0x200) // IETF protocol assignments, Teredo among them
        || (s[0] == 0x2001 && s[1] == 0xdb8) // documentation
        || (s[0] == 0x100 && s[1..4] == [0; 3])) // discard-only
}

/// Why a webhook URL is refused when it is created; `None` when it is fine. Only http(s) with a
/// host; an address written in the URL must be public unless `allow_private`.
pub fn url_problem(url: &str, allow_private: bool) -> Option<String> {
    const MAX_URL: usize = 2048;
    if url.len() > MAX_URL {
        return Some(format!("url must be at most {MAX_URL} characters"));
    }
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return Some("url must be an absolute http or https URL".into());
    };
    if !matches!(parsed.scheme(), "http" | "https") || !parsed.has_host() {
        return Some("url must be an absolute http or https URL".into());
    }
    literal_refused(&parsed, allow_private)
        .then(|| "url must not point at a loopback, private or otherwise non-public address".into())
}

/// Whether the URL's host is an IP address written out that may not be reached (these skip DNS,
/// so the resolver never sees them).
fn literal_refused(url: &reqwest::Url, allow_private: bool) -> bool {
    // The URL parser has already normalised an address (`0x7f.1` is `127.0.0.1`); IPv6 ones
    // come in brackets.
    let host = url.host_str().unwrap_or("");
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match host.parse::<IpAddr>() {
        Ok(ip) => !allow_private && !is_public(ip),
        Err(_) => false,
    }
}

/// Resolves through the system and keeps only the addresses a webhook may reach, so the address
/// checked is the address connected to (no window for DNS to answer differently in between).
struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found.iter().copied().filter(|a| is_public(a.ip())).collect();
            if allowed.is_empty() {
                let reason = if found.is_empty() {
                    format!("{host} has no address")
                } else {
                    format!("refused: {host} resolves only to non-public addresses")
                };
                return Err(reason.into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The HTTP client of the worker: 10 s per attempt, no redirects, no proxy, and (unless private
/// addresses are allowed) the filtering resolver.
fn http_client(allow_private: bool) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        .connect_timeout(ATTEMPT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .pool_max_idle_per_host(CONCURRENCY)
        .user_agent(concat!("mailcx-webhooks/", env!("CARGO_PKG_VERSION")));
    if !allow_private {
        builder = builder.dns_resolver(Arc::new(GuardedResolver));
    }
    builder.build()
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Which of the due events (seq, webhook, the longest due first, none under way) to start: as
/// many as there are free sending slots, and none of a webhook that holds `PER_WEBHOOK` of the
/// requests being made already, so a slow or dead receiver cannot take every slot.
fn choose<K: Copy>(due: &[(K, Uuid)], sending: &[(K, Uuid)]) -> Vec<K> {
    let mut taken: Vec<(K, Uuid)> = sending.to_vec();
    let mut chosen = Vec::new();
    for &(key, hook) in due {
        if taken.len() >= CONCURRENCY {
            break;
        }
        if taken.iter().filter(|(_, h)| *h == hook).count() >= PER_WEBHOOK {
            continue;
        }
        taken.push((key, hook));
        chosen.push(key);
    }
    chosen
}

/// While mail crowds in, deliveries wait for it: at most `MAX_YIELD`, then they run for `DUTY`
/// whatever the load, so they keep going under a flood that never ends.
#[derive(Default)]
struct Duty {
    yielding_since: Option<Instant>,
    delivering_until: Option<Instant>,
}

impl Duty {
    /// How long to wait before looking again, or `None` to deliver now.
    fn yield_for(&mut self, crowded: bool, now: Instant) -> Option<Duration> {
        if self.delivering_until.is_some_and(|until| now < until) {
            return None;
        }
        self.delivering_until = None;
        if !crowded {
            self.yielding_since = None;
            return None;
        }
        let since = *self.yielding_since.get_or_insert(now);
        if now.duration_since(since) >= MAX_YIELD {
            self.yielding_since = None;
            self.delivering_until = Some(now + DUTY);
            return None;
        }
        Some(YIELD_STEP)
    }
}

/// The fresh cursor after starting `chosen` of `due`: past the fresh events started, up to the
/// first one left waiting (those under way, left out of `due`, may be passed over).
fn advance(cursor: i64, due: &[(Pending, Uuid)], chosen: &[Pending]) -> i64 {
    let mut cursor = cursor;
    for (key, _) in due {
        if let Pending::Fresh(seq) = *key {
            if !chosen.contains(key) {
                break;
            }
            cursor = cursor.max(seq);
        }
    }
    cursor
}

/// What the delivery tasks and the recorder share.
struct Worker {
    store: Store,
    outbox: Arc<Outbox>,
    settings: Settings,
    client: reqwest::Client,
    /// Events whose outcome is committed, for the loop to stop counting as in flight.
    recorded: Mutex<Vec<Pending>>,
}

/// One attempt's outcome, on its way to the database.
struct Outcome {
    key: Pending,
    attempt: Attempt,
    next: webhooks::Next,
    /// What was sent: a fresh event to be retried is written out with it.
    body: Option<String>,
}

/// The loop's view of what is under way.
#[derive(Default)]
struct Flight {
    /// From start until the outcome is committed (seq to webhook): such an event is still due in
    /// the database, and is skipped when read again meanwhile.
    in_flight: HashMap<Pending, Uuid>,
    /// Those whose request is still being made: what the concurrency limits count.
    sending: HashMap<Pending, Uuid>,
    /// Every fresh event up to this seq has been started: the next read looks after it, so a
    /// read stays small however many outcomes wait to be written.
    fresh_cursor: i64,
}

/// Delivers pending events until `shutdown` turns true; requests under way then finish (each
/// within its timeout) and their outcomes are recorded, so none is sent twice.
pub async fn run(store: Store, outbox: Arc<Outbox>, settings: Settings, mut shutdown: watch::Receiver<bool>) {
    let client = match http_client(settings.allow_private) {
        Ok(client) => client,
        Err(e) => {
            tracing::error!("webhooks disabled: the HTTP client did not start: {e}");
            return;
        }
    };
    let worker = Arc::new(Worker {
        store,
        outbox,
        settings,
        client,
        recorded: Mutex::default(),
    });
    let requester = match Requester::start() {
        Ok(requester) => requester,
        Err(e) => {
            tracing::error!("webhooks disabled: their thread did not start: {e}");
            return;
        }
    };
    let (outcomes, to_record) = mpsc::unbounded_channel();
    let mut recorder = AbortOnDrop(tokio::spawn(record(worker.clone(), to_record)));
    let mut requests: JoinSet<Pending> = JoinSet::new();
    let mut flight = Flight::default();
    // Reads of the outbox happen when something may have become startable: new events were
    // committed, outcomes were recorded (a retry's time is then known), the next due time came,
    // or a request finished while due events waited for its slot. Not on every finished request
    // otherwise: each read costs the store's readers, which mail being received needs too.
    let mut read_now = true;
    let mut duty = Duty::default();
    let mut yielding: Option<Duration> = None;
    let mut backlog = false;
    let mut next_read = tokio::time::Instant::now() + MAX_SLEEP;
    let mut last_read = tokio::time::Instant::now();
    loop {
        while let Some(done) = requests.try_join_next() {
            if let Ok(key) = done {
                flight.sending.remove(&key);
            }
            if backlog {
                next_read = next_read.min(last_read + READ_GAP);
            }
        }
        for key in std::mem::take(&mut *worker.recorded.lock().expect("recorded lock")) {
            flight.in_flight.remove(&key);
        }
        if read_now && flight.sending.len() < CONCURRENCY && flight.in_flight.len() < MAX_UNRECORDED {
            read_now = false;
            yielding = duty.yield_for(worker.store.crowded(CROWDED_WINDOW), Instant::now());
            if let Some(wait) = yielding {
                next_read = tokio::time::Instant::now() + wait;
                continue;
            }
            last_read = tokio::time::Instant::now();
            let wait = match worker
                .start_due(&mut requests, &requester.runtime, &mut flight, &outcomes)
                .await
            {
                Ok((wait, left)) => {
                    backlog = left;
                    wait
                }
                Err(e) => {
                    tracing::error!("reading the webhook outbox failed: {e}");
                    RETRY_AFTER_ERROR
                }
            };
            next_read = tokio::time::Instant::now() + wait;
        } else if read_now {
            // Held back by the limits: a finished request or a recorded outcome wakes the loop.
            yielding = None;
        }
        tokio::select! {
            _ = crate::stopping(&mut shutdown) => break,
            // Only when a read is not already owed: a time gone by must not spin the loop.
            _ = tokio::time::sleep_until(next_read), if !read_now => read_now = true,
            // Waiting out a burst, the mail it brings need not wake the loop each time (the
            // stored permit brings a read once the wait is over).
            _ = worker.outbox.wake.notified(), if yielding.is_none() => read_now = true,
            Some(done) = requests.join_next(), if !requests.is_empty() => {
                if let Ok(key) = done {
                    flight.sending.remove(&key);
                }
                // Under load, refills are spaced out: each read then starts several requests.
                if backlog {
                    next_read = next_read.min(last_read + READ_GAP);
                }
            }
        }
    }
    while requests.join_next().await.is_some() {}
    drop(outcomes);
    let _ = (&mut recorder.0).await;
}

/// The thread that makes the requests, at a lower CPU priority (nice 10, on Linux), with a
/// runtime of its own: when the machine is busy, storing mail (every SMTP `250` waits on it)
/// comes first, and webhooks catch up as soon as there is room; an idle machine runs them at
/// once. Stops when dropped.
struct Requester {
    runtime: tokio::runtime::Handle,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Requester {
    fn start() -> std::io::Result<Requester> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("mailcx-webhooks".into())
            .spawn(move || {
                lower_priority();
                // Until the worker drops its end; the runtime (and anything left on it) goes then.
                runtime.block_on(async {
                    let _ = stopped.await;
                });
            })?;
        Ok(Requester {
            runtime: handle,
            _stop: stop,
        })
    }
}

/// Lowers the calling thread's CPU priority to `REQUESTS_NICE`, where that is per thread.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), REQUESTS_NICE) {
        tracing::debug!("webhook requests keep the usual CPU priority: {e}");
    }
}

/// Aborts a task when dropped: the recorder stops with the worker even when the worker is
/// aborted (after the shutdown grace), instead of writing to a store that is closing.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Writes outcomes as they come, all those waiting in one transaction, then lets the loop
/// forget them. A failed write leaves its events due as they were, to be tried again.
async fn record(worker: Arc<Worker>, mut outcomes: mpsc::UnboundedReceiver<Outcome>) {
    let mut batch = Vec::new();
    while outcomes.recv_many(&mut batch, MAX_RECORD_BATCH).await > 0 {
        // Gather for a moment: a write of its own costs a commit (an fsync) that mail being
        // stored would otherwise have; a few of them a second are nothing.
        let deadline = tokio::time::Instant::now() + RECORD_DELAY;
        while batch.len() < MAX_RECORD_BATCH {
            let room = MAX_RECORD_BATCH - batch.len();
            tokio::select! {
                got = outcomes.recv_many(&mut batch, room) => if got == 0 { break },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        let keys: Vec<Pending> = batch.iter().map(|o| o.key).collect();
        let outcomes_now = std::mem::take(&mut batch);
        let written = worker
            .store
            .write_in_background(move |conn| {
                for outcome in &outcomes_now {
                    let body = outcome.body.as_deref();
                    webhooks::record(conn, outcome.key, &outcome.attempt, outcome.next, body)?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = written {
            tracing::error!("recording webhook attempts failed: {e}");
            tokio::time::sleep(RETRY_AFTER_ERROR).await;
        }
        worker.recorded.lock().expect("recorded lock").extend(keys);
        worker.outbox.queued();
    }
}

impl Worker {
    /// Starts a request for each due event there is room for; returns how long to sleep unless
    /// woken (a finishing request, a recorded outcome or a commit wakes the loop).
    async fn start_due(
        self: &Arc<Self>,
        requests: &mut JoinSet<Pending>,
        runtime: &tokio::runtime::Handle,
        flight: &mut Flight,
        outcomes: &mpsc::UnboundedSender<Outcome>,
    ) -> StoreResult<(Duration, bool)> {
        let now = now_ms();
        let limit = (CONCURRENCY * WINDOW_PER_SLOT) as u32;
        let cursor = flight.fresh_cursor;
        let skip: Vec<Pending> = flight
            .in_flight
            .keys()
            .copied()
            .filter(|key| !matches!(key, Pending::Fresh(seq) if *seq <= cursor))
            .collect();
        let sending: Vec<(Pending, Uuid)> = flight.sending.iter().map(|(key, hook)| (*key, *hook)).collect();
        // One snapshot for all: which events to start, their bodies, and when the next one after
        // them falls due.
        let (events, backlog, next, cursor) = self
            .store
            .read(move |conn| {
                let due = webhooks::due(conn, now, &skip, cursor, limit)?;
                let chosen = choose(&due, &sending);
                let backlog = chosen.len() < due.len();
                let cursor = advance(cursor, &due, &chosen);
                let mut events = Vec::with_capacity(chosen.len());
                for key in chosen {
                    events.extend(webhooks::pending_event(conn, key)?);
                }
                Ok((events, backlog, webhooks::next_due(conn, now)?, cursor))
            })
            .await?;
        flight.fresh_cursor = cursor;
        // Due events left waiting for a slot start when a request finishes: it wakes the loop.
        for event in events {
            flight.in_flight.insert(event.key, event.webhook_id);
            flight.sending.insert(event.key, event.webhook_id);
            requests.spawn_on(self.clone().deliver(event, outcomes.clone()), runtime);
        }
        let wait = match next {
            Some(at) => Duration::from_millis(at.saturating_sub(now_ms()).max(0) as u64).min(MAX_SLEEP),
            None => MAX_SLEEP,
        };
        Ok((wait, backlog))
    }

    /// One attempt at one event; its outcome (acknowledged, to retry later, or given up after the
    /// last attempt, or dropped when its mail is gone) goes to the recorder. Returns the event's
    /// key.
    async fn deliver(self: Arc<Self>, event: DueEvent, outcomes: mpsc::UnboundedSender<Outcome>) -> Pending {
        let attempt = event.attempts + 1;
        let started = Instant::now();
        let outcome = match &event.body {
            Some(body) => self.send(&event, body).await,
            None => Err(GONE.to_string()),
        };
        let duration_ms = started.elapsed().as_millis() as u64;
        let acknowledged = matches!(outcome, Ok(code) if (200..300).contains(&code));
        let next = if event.body.is_none() {
            webhooks::Next::Dropped
        } else if acknowledged {
            webhooks::Next::Delivered
        } else if attempt < MAX_ATTEMPTS {
            let delay = self.settings.retry_delay(attempt).as_millis() as i64;
            webhooks::Next::RetryAt(now_ms().saturating_add(delay))
        } else {
            webhooks::Next::GiveUp
        };
        if !acknowledged {
            let why = match &outcome {
                Ok(code) => format!("answered {code}"),
                Err(e) => e.clone(),
            };
            tracing::debug!(event = %event.id, attempt, "webhook delivery failed: {why}");
        }
        let attempt = Attempt {
            webhook_id: event.webhook_id,
            event_id: event.id.clone(),
            event_type: event.event_type.clone(),
            status_code: outcome.as_ref().ok().copied(),
            error: outcome.err(),
            attempt,
            duration_ms,
            at: unix_now() as i64,
        };
        // The recorder outlives every request (it stops once they are all done).
        let _ = outcomes.send(Outcome {
            key: event.key,
            attempt,
            next,
            body: event.body,
        });
        event.key
    }

    /// POSTs the event's exact stored body, signed with the webhook's current secret; the status
    /// code, or why there is none.
    async fn send(&self, event: &DueEvent, body: &str) -> Result<u16, String> {
        let url = reqwest::Url::parse(&event.url).map_err(|_| "the URL does not parse".to_string())?;
        if literal_refused(&url, self.settings.allow_private) {
            return Err("refused: the URL's address is not public".into());
        }
        let timestamp = unix_now().to_string();
        let signature = signature(&event.secret, &timestamp, body);
        let response = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header("X-Webhook-ID", &event.id)
            .header("X-Webhook-Timestamp", &timestamp)
            .header("X-Webhook-Signature", signature)
            .body(body.to_string())
            .send()
            .await
            .map_err(describe)?;
        let status = response.status().as_u16();
        drain(response).await;
        Ok(status)
    }
}

/// Reads up to `MAX_ANSWER_BYTES` of an answer, so a small one leaves its connection reusable.
async fn drain(mut response: reqwest::Response) {
    let mut read = 0;
    while let Ok(Some(chunk)) = response.chunk().await {
        read += chunk.len();
        if read > MAX_ANSWER_BYTES {
            break;
        }
    }
}

/// An attempt's error as recorded: the causes, never the URL (it may carry a credential).
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = if error.is_timeout() {
        format!("timed out after {} s", ATTEMPT_TIMEOUT.as_secs())
    } else {
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    };
    if let Some((cut, _)) = text.char_indices().nth(MAX_ERROR_CHARS) {
        text.truncate(cut);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_public_addresses_are_refused() {
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "198.18.0.1",
            "240.0.0.1",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd12::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2002:a00:1::",
            "2001:db8::1",
        ] {
            assert!(!is_public(refused.parse().unwrap()), "{refused} must be refused");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
            "2002:101:101::",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public} is public");
        }
    }

    #[test]
    fn urls_are_checked_at_creation() {
        assert_eq!(url_problem("https://hooks.example.com/in", false), None);
        assert_eq!(url_problem("http://127.0.0.1:9000/", true), None);
        for bad in [
            "ftp://example.com/",
            "example.com/hook",
            "",
            "http://",
            "http://127.0.0.1/",
            "http://[::1]/",
            "http://10.0.0.1/",
            "http://0x7f.1/",
            "http://[::ffff:7f00:1]/",
        ] {
            assert!(url_problem(bad, false).is_some(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn signatures_are_hmac_sha256_over_timestamp_dot_body() {
        // Computed independently (Python's hmac module).
        assert_eq!(
            signature("whsec_test", "1700000000", r#"{"id":"evt_1"}"#),
            "sha256=c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632925"
        );
    }

    #[test]
    fn the_flags_parse() {
        use clap::{CommandFactory, FromArgMatches};
        // Flags only: no test here reads the environment.
        let parse = |args: &[&str]| {
            let command = Config::command().mut_args(|arg| arg.env(None::<&'static str>));
            let matches = command.try_get_matches_from([&["mailcx-server"], args].concat())?;
            Config::from_arg_matches(&matches)
        };
        let defaults = Settings::new(&parse(&[]).unwrap());
        assert_eq!(defaults.backoff, Duration::from_secs(60));
        assert!(!defaults.allow_private);
        let set = Settings::new(&parse(&["--webhook-backoff", "250ms", "--webhook-allow-private"]).unwrap());
        assert_eq!(set.backoff, Duration::from_millis(250));
        assert!(set.allow_private);
        assert_eq!(
            parse(&["--webhook-backoff", "2m"]).unwrap().webhook_backoff,
            Duration::from_secs(120)
        );
        for bad in ["0", "0ms", "fast", "-5ms"] {
            assert!(parse(&["--webhook-backoff", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn one_webhook_cannot_take_every_slot() {
        let (slow, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut due: Vec<(i64, Uuid)> = (1..=20).map(|seq| (seq, slow)).collect();
        due.push((21, other));
        due.push((22, other));
        // Two of the slow webhook's are being sent (the outbox read left them out).
        let sending = [(1, slow), (2, slow)];
        let mut expected: Vec<i64> = (3..=PER_WEBHOOK as i64).collect();
        expected.extend([21, 22]);
        assert_eq!(choose(&due[2..], &sending), expected);
        // Every slot taken: nothing more.
        let full: Vec<(i64, Uuid)> = (100..100 + CONCURRENCY as i64).map(|s| (s, other)).collect();
        assert!(choose(&due, &full).is_empty());
    }

    #[test]
    fn deliveries_wait_while_mail_crowds_in_but_not_for_ever() {
        let start = Instant::now();
        let mut duty = Duty::default();
        assert_eq!(duty.yield_for(false, start), None, "a quiet store: at once");
        assert_eq!(duty.yield_for(true, start), Some(YIELD_STEP));
        assert_eq!(duty.yield_for(true, start + MAX_YIELD / 2), Some(YIELD_STEP));
        // Waited long enough: they run for a while, crowded or not.
        assert_eq!(duty.yield_for(true, start + MAX_YIELD), None);
        assert_eq!(duty.yield_for(true, start + MAX_YIELD + DUTY / 2), None);
        assert_eq!(duty.yield_for(true, start + MAX_YIELD + DUTY), Some(YIELD_STEP));
        // The crowd gone, no wait is left over.
        assert_eq!(duty.yield_for(false, start + MAX_YIELD * 2), None);
        assert_eq!(duty.yield_for(true, start + MAX_YIELD * 2), Some(YIELD_STEP));
    }

    #[test]
    fn the_fresh_cursor_stops_at_the_first_event_left_waiting() {
        let hook = Uuid::from_u128(1);
        let due = [
            (Pending::Retry(7), hook),
            (Pending::Fresh(10), hook),
            (Pending::Fresh(12), hook),
            (Pending::Fresh(13), hook),
        ];
        let chosen = [Pending::Fresh(10), Pending::Fresh(12)];
        assert_eq!(advance(5, &due, &chosen), 12);
        // A retry left waiting holds nothing back; a fresh one does.
        assert_eq!(advance(5, &due, &[Pending::Fresh(10)]), 10);
        assert_eq!(advance(5, &due, &[Pending::Retry(7), Pending::Fresh(12)]), 5);
    }

    #[test]
    fn retries_wait_twice_as_long_each_time() {
        let settings = Settings {
            backoff: Duration::from_secs(60),
            allow_private: false,
        };
        let waits: Vec<u64> = (1..MAX_ATTEMPTS)
            .map(|a| settings.retry_delay(a).as_secs())
            .collect();
        assert_eq!(waits, [60, 120, 240, 480]);
    }
}
