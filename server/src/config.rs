//! The server's settings: command-line flags, each with an environment variable and a default.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};

/// Settings of one server; `Config::parse()` reads them from flags and `MAILCX_*` variables.
#[derive(Clone, Parser)]
#[command(
    name = "mailcx-server",
    version,
    about = "Self-hosted Mail.cx: the HTTP API and an SMTP receiver over one SQLite file"
)]
pub struct Config {
    /// Address the HTTP API listens on (port 0 picks a free port).
    #[arg(long, env = "MAILCX_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,

    /// Address the SMTP receiver listens on (port 0 picks a free port).
    #[arg(long, env = "MAILCX_SMTP_ADDR", default_value = "127.0.0.1:2525")]
    pub smtp_addr: SocketAddr,

    /// SQLite database file [default: mailcx.db in the platform data directory].
    #[arg(long, env = "MAILCX_DB", global = true)]
    pub db: Option<PathBuf>,

    /// What to do; without a command the server serves.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Domains this server receives mail for, comma-separated; the first is the default.
    #[arg(long, env = "MAILCX_DOMAINS", default_value = "mail.cx", value_delimiter = ',', value_parser = parse_domain)]
    pub domains: Vec<String>,

    /// A client must send a request's headers within this long, e.g. 30s.
    #[arg(long, env = "MAILCX_HTTP_HEADER_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub http_header_timeout: Duration,

    /// An HTTP connection on which nothing moves either way this long is closed, e.g. 60s.
    #[arg(long, env = "MAILCX_HTTP_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub http_idle_timeout: Duration,

    /// A request's body must arrive whole within this long, e.g. 30s.
    #[arg(long, env = "MAILCX_HTTP_BODY_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub http_body_timeout: Duration,

    /// HTTP connections served at once; more are answered 429 and closed.
    #[arg(long, env = "MAILCX_HTTP_MAX_CONNECTIONS", default_value_t = 1024)]
    pub http_max_connections: usize,

    /// HTTP connections one client (IPv4 address or IPv6 /64) may hold at once.
    #[arg(long, env = "MAILCX_HTTP_MAX_CONNECTIONS_PER_CLIENT", default_value_t = 128)]
    pub http_max_connections_per_client: usize,

    /// Reverse proxies whose X-Forwarded-For names the client, comma-separated IP addresses.
    #[arg(long, env = "MAILCX_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpAddr>,

    /// How often a WebSocket is pinged; one that answers none of two pings in a row is closed.
    #[arg(long, env = "MAILCX_WS_PING_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    pub ws_ping_interval: Duration,

    /// Requests per second per client IP (burst 16); 0 turns rate limiting off.
    #[arg(long, env = "MAILCX_RATE_LIMIT", default_value_t = 8)]
    pub rate_limit: u32,

    /// Mailbox creations per client IP per hour; 0 turns the limit off.
    #[arg(long, env = "MAILCX_ACCOUNTS_PER_HOUR", default_value_t = 20)]
    pub accounts_per_hour: u32,

    /// Secret that signs JWTs [default: generated on first start and kept in the database].
    #[arg(long, env = "MAILCX_JWT_SECRET", hide_env_values = true, value_parser = parse_secret)]
    pub jwt_secret: Option<String>,

    /// Storage quota of a new mailbox, in bytes.
    #[arg(long, env = "MAILCX_QUOTA", default_value_t = 41_943_040)]
    pub quota: u64,

    /// Storage quota of a new mailbox owned by a Pro user, in bytes.
    #[arg(long, env = "MAILCX_PRO_QUOTA", default_value_t = 52_428_800)]
    pub pro_quota: u64,

    /// DNS server custom domains are checked against, IP:PORT (port 53 when left out)
    /// [default: the system's resolvers].
    #[arg(long, env = "MAILCX_DNS_RESOLVER", value_parser = parse_resolver)]
    pub dns_resolver: Option<SocketAddr>,

    /// How long a custom domain may stay unverified; verifying it later answers 410, e.g. 72h.
    #[arg(long, env = "MAILCX_DOMAIN_VERIFY_WINDOW", default_value = "72h", value_parser = parse_nonzero_duration)]
    pub domain_verify_window: Duration,

    /// Host a custom domain's MX record must point to [default: mx.<first of --domains>].
    #[arg(long, env = "MAILCX_MX_HOST", value_parser = parse_domain)]
    pub mx_host: Option<String>,

    /// A new WebSocket must send its auth frame within this long, e.g. 10s.
    #[arg(long, env = "MAILCX_WS_AUTH_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub ws_auth_timeout: Duration,

    /// On shutdown, in-flight requests and SMTP transactions get this long to finish, e.g. 5s.
    #[arg(long, env = "MAILCX_SHUTDOWN_GRACE", default_value = "5s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// How long mail is kept after receipt, e.g. 24h, 90m, 30s, 7d; 0 keeps mail forever.
    #[arg(long, env = "MAILCX_RETENTION", default_value = "24h", value_parser = parse_duration)]
    pub retention: Duration,

    /// Largest message accepted over SMTP, in bytes (advertised with SIZE).
    #[arg(long, env = "MAILCX_MAX_MESSAGE_SIZE", default_value_t = 10 * 1024 * 1024)]
    pub max_message_size: usize,

    /// Recipients accepted per SMTP message.
    #[arg(long, env = "MAILCX_MAX_RECIPIENTS", default_value_t = 100)]
    pub max_recipients: usize,

    /// An SMTP client silent this long is disconnected, e.g. 60s.
    #[arg(long, env = "MAILCX_SMTP_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub smtp_idle_timeout: Duration,

    /// SMTP connections served at once; more are turned away with 421.
    #[arg(long, env = "MAILCX_SMTP_MAX_CONNECTIONS", default_value_t = 256)]
    pub smtp_max_connections: usize,

    /// SMTP connections one client (IPv4 address or IPv6 /64) may hold at once.
    #[arg(long, env = "MAILCX_SMTP_MAX_CONNECTIONS_PER_CLIENT", default_value_t = 64)]
    pub smtp_max_connections_per_client: usize,

    /// An SMTP session is closed (421) after this long however busy it is, e.g. 30m; more than 0.
    #[arg(long, env = "MAILCX_SMTP_SESSION_LIFETIME", default_value = "30m", value_parser = parse_nonzero_duration)]
    pub smtp_session_lifetime: Duration,

    /// Commands an SMTP session may send without a message being accepted before it is closed
    /// (421); each accepted message starts a new allowance.
    #[arg(long, env = "MAILCX_SMTP_MAX_COMMANDS", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub smtp_max_commands: u32,

    /// Wait before a failed webhook delivery's first retry, doubling for each retry after it
    /// (5 attempts in all), e.g. 60s; `ms` is accepted too (tests).
    #[arg(long, env = "MAILCX_WEBHOOK_BACKOFF", default_value = "60s", value_parser = parse_backoff)]
    pub webhook_backoff: Duration,

    /// Let webhooks reach loopback, private, link-local and other non-public addresses (for
    /// testing against a local receiver); refused by default.
    #[arg(long, env = "MAILCX_WEBHOOK_ALLOW_PRIVATE", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub webhook_allow_private: bool,

    /// System domains whose every address receives mail without being created (open inboxes,
    /// read by anyone who knows the address through `/v1`), comma-separated; none by default.
    #[arg(long, env = "MAILCX_OPEN_DOMAINS", value_delimiter = ',', value_parser = parse_domain)]
    pub open_domains: Vec<String>,

    /// How long mail in an open inbox is kept after receipt, e.g. 1h, 30m; more than 0.
    #[arg(long, env = "MAILCX_OPEN_RETENTION", default_value = "1h", value_parser = parse_nonzero_duration)]
    pub open_retention: Duration,

    /// How long `GET /v1/inbox/{address}` waits for new mail before answering 204, e.g. 25s;
    /// `ms` is accepted too (tests).
    #[arg(long, env = "MAILCX_LONG_POLL_HOLD", default_value = "25s", value_parser = parse_backoff)]
    pub long_poll_hold: Duration,

    /// Long polls and `/v1` event streams open at once on the whole server; more are answered 429.
    #[arg(long, env = "MAILCX_LONG_POLL_MAX_WAITERS", default_value_t = 10_000)]
    pub long_poll_max_waiters: usize,

    /// How often a quiet `/v1` event stream gets a comment line that keeps proxies open.
    #[arg(long, env = "MAILCX_SSE_KEEP_ALIVE", default_value = "15s", value_parser = parse_backoff, hide = true)]
    pub sse_keep_alive: Duration,

    /// Long polls and `/v1` event streams one client (IPv4 address or IPv6 /64, behind
    /// --trusted-proxies the forwarded one) may hold open at once; more are answered 429.
    #[arg(long, env = "MAILCX_LONG_POLL_MAX_WAITERS_PER_CLIENT", default_value_t = 32)]
    pub long_poll_max_waiters_per_client: usize,

    /// A `/v1` event stream is ended after this long, e.g. 1h; clients reconnect with
    /// `Last-Event-ID` and miss nothing. `ms` is accepted too (tests).
    #[arg(long, env = "MAILCX_SSE_MAX_AGE", default_value = "1h", value_parser = parse_backoff)]
    pub sse_max_age: Duration,
}

/// The operator's commands of `mailcx-server`.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum Command {
    /// Manage Pro users; works while a server runs on the same database.
    #[command(subcommand)]
    User(UserCommand),
}

/// `mailcx-server user ...`.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Add a Pro user. The password is read from standard input (one line) when it is not a
    /// terminal, else asked for twice without echo; never from an argument.
    Add {
        /// The user's email, which they sign in with.
        email: String,
    },
    /// List Pro users with their mailboxes, domains and active tokens.
    List,
    /// Remove a Pro user with their tokens, domains, webhook and mailboxes (and their mail).
    Remove {
        email: String,
        /// Do not ask first.
        #[arg(long)]
        yes: bool,
    },
    /// Set a Pro user's password; their Pro sign-ins (JWTs) stop working.
    Passwd { email: String },
    /// Set what a Pro user may hold at most.
    Limits {
        email: String,
        /// Mailboxes at most.
        #[arg(long)]
        mailboxes: Option<u32>,
        /// Custom domains at most.
        #[arg(long)]
        domains: Option<u32>,
        /// Active API tokens at most.
        #[arg(long)]
        tokens: Option<u32>,
    },
}

impl std::fmt::Debug for Config {
    // Written out so the JWT secret never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("http_addr", &self.http_addr)
            .field("smtp_addr", &self.smtp_addr)
            .field("db", &self.db)
            .field("domains", &self.domains)
            .field("http_header_timeout", &self.http_header_timeout)
            .field("http_idle_timeout", &self.http_idle_timeout)
            .field("http_body_timeout", &self.http_body_timeout)
            .field("http_max_connections", &self.http_max_connections)
            .field(
                "http_max_connections_per_client",
                &self.http_max_connections_per_client,
            )
            .field("trusted_proxies", &self.trusted_proxies)
            .field("ws_ping_interval", &self.ws_ping_interval)
            .field("rate_limit", &self.rate_limit)
            .field("accounts_per_hour", &self.accounts_per_hour)
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "<redacted>"))
            .field("quota", &self.quota)
            .field("pro_quota", &self.pro_quota)
            .field("dns_resolver", &self.dns_resolver)
            .field("domain_verify_window", &self.domain_verify_window)
            .field("mx_host", &self.mx_host)
            .field("ws_auth_timeout", &self.ws_auth_timeout)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("retention", &self.retention)
            .field("max_message_size", &self.max_message_size)
            .field("max_recipients", &self.max_recipients)
            .field("smtp_idle_timeout", &self.smtp_idle_timeout)
            .field("smtp_max_connections", &self.smtp_max_connections)
            .field(
                "smtp_max_connections_per_client",
                &self.smtp_max_connections_per_client,
            )
            .field("smtp_session_lifetime", &self.smtp_session_lifetime)
            .field("smtp_max_commands", &self.smtp_max_commands)
            .field("webhook_backoff", &self.webhook_backoff)
            .field("webhook_allow_private", &self.webhook_allow_private)
            .field("open_domains", &self.open_domains)
            .field("open_retention", &self.open_retention)
            .field("long_poll_hold", &self.long_poll_hold)
            .field("long_poll_max_waiters", &self.long_poll_max_waiters)
            .field("sse_keep_alive", &self.sse_keep_alive)
            .field(
                "long_poll_max_waiters_per_client",
                &self.long_poll_max_waiters_per_client,
            )
            .field("sse_max_age", &self.sse_max_age)
            .finish()
    }
}

impl Config {
    /// Defaults for a server on `db`, both listeners on free loopback ports (tests, embedding).
    /// Only the built-in defaults count: no `MAILCX_*` variable of the environment applies.
    pub fn ephemeral(db: impl Into<PathBuf>) -> Config {
        let defaults = Config::command().mut_args(|arg| arg.env(None::<&'static str>));
        let matches = defaults.get_matches_from(["mailcx-server"]);
        let mut config = Config::from_arg_matches(&matches).expect("the defaults parse");
        config.db = Some(db.into());
        config.http_addr = "127.0.0.1:0".parse().expect("static address");
        config.smtp_addr = "127.0.0.1:0".parse().expect("static address");
        config.jwt_secret = None;
        config
    }

    /// The database path: `--db`, or `mailcx.db` in the platform data directory.
    pub fn db_path(&self) -> PathBuf {
        match &self.db {
            Some(path) => path.clone(),
            None => default_data_dir().join("mailcx.db"),
        }
    }

    /// The host custom domains' MX records must name: `--mx-host`, or `mx.<first domain>`.
    pub fn mx_host(&self) -> String {
        match &self.mx_host {
            Some(host) => host.clone(),
            None => format!("mx.{}", self.domains.first().map_or("mail.cx", String::as_str)),
        }
    }

    /// The open domains, in the order of `--domains`; an open domain that is not a system domain
    /// is an error.
    pub fn checked_open_domains(&self) -> Result<Vec<String>, String> {
        if let Some(stray) = self.open_domains.iter().find(|d| !self.domains.contains(d)) {
            return Err(format!(
                "--open-domains names {stray}, which is not one of --domains"
            ));
        }
        Ok(self
            .domains
            .iter()
            .filter(|d| self.open_domains.contains(d))
            .cloned()
            .collect())
    }

    /// Refuses `/v1` wait settings that cannot work: with open domains, a long poll must end
    /// before its silent connection is closed as idle; no hold, stream age or open retention may
    /// be so long that adding it to a clock overflows.
    pub fn check_waits(&self) -> Result<(), String> {
        let bounds = [
            ("--long-poll-hold", self.long_poll_hold, MAX_LONG_POLL_HOLD),
            ("--sse-max-age", self.sse_max_age, MAX_SSE_AGE),
            ("--open-retention", self.open_retention, MAX_OPEN_RETENTION),
        ];
        for (flag, value, max) in bounds {
            if value > max {
                return Err(format!(
                    "{flag} is {}s; it may be at most {}s",
                    value.as_secs(),
                    max.as_secs()
                ));
            }
        }
        if !self.open_domains.is_empty() && self.long_poll_hold >= self.http_idle_timeout {
            return Err(format!(
                "--long-poll-hold ({:?}) must be shorter than --http-idle-timeout ({:?}): a waiting \
                 long poll sends nothing, so its connection would be closed as idle before the 204",
                self.long_poll_hold, self.http_idle_timeout
            ));
        }
        Ok(())
    }

    /// How long a JWT stays valid.
    pub fn token_lifetime(&self) -> Duration {
        Duration::from_secs(7 * 24 * 3600)
    }
}

/// Longest `--long-poll-hold` accepted.
pub const MAX_LONG_POLL_HOLD: Duration = Duration::from_secs(3600);
/// Longest `--sse-max-age` accepted.
pub const MAX_SSE_AGE: Duration = Duration::from_secs(7 * 86_400);
/// Longest `--open-retention` accepted: open inboxes are for short-lived mail, and a year still
/// adds to a Unix time without overflow.
pub const MAX_OPEN_RETENTION: Duration = Duration::from_secs(365 * 86_400);

/// Shortest `--jwt-secret` accepted: a short HMAC key makes tokens guessable.
pub const MIN_SECRET_LEN: usize = 32;

/// Accepts a JWT secret of at least `MIN_SECRET_LEN` bytes.
pub fn parse_secret(value: &str) -> Result<String, String> {
    if value.len() < MIN_SECRET_LEN {
        return Err(format!(
            "the secret must be at least {MIN_SECRET_LEN} bytes (leave it unset to generate one)"
        ));
    }
    Ok(value.to_string())
}

/// Parses `0`, `45`, `30s`, `15m`, `24h` or `7d` (a bare number is seconds).
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let (digits, unit) = value.split_at(value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len()));
    let amount: u64 = digits
        .parse()
        .map_err(|_| format!("{value:?} is not a duration like 30s, 15m, 24h or 7d"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{value:?} is not a duration like 30s, 15m, 24h or 7d")),
    };
    amount
        .checked_mul(scale)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{value:?} is too long"))
}

/// Parses a duration like [`parse_duration`] and refuses zero.
pub fn parse_nonzero_duration(value: &str) -> Result<Duration, String> {
    match parse_duration(value)? {
        Duration::ZERO => Err(format!("{value:?} must be longer than 0")),
        duration => Ok(duration),
    }
}

/// Parses a webhook backoff: `250ms`, or a duration like [`parse_duration`]; more than 0.
pub fn parse_backoff(value: &str) -> Result<Duration, String> {
    match value.trim().strip_suffix("ms") {
        Some(millis) => match millis.parse::<u64>() {
            Ok(0) | Err(_) => Err(format!("{value:?} must be a number of milliseconds above 0")),
            Ok(millis) => Ok(Duration::from_millis(millis)),
        },
        None => parse_nonzero_duration(value),
    }
}

/// Parses a DNS server's `IP:PORT` (`[IPv6]:PORT` for IPv6), or a bare IP for port 53.
pub fn parse_resolver(value: &str) -> Result<SocketAddr, String> {
    let value = value.trim();
    value
        .parse::<SocketAddr>()
        .or_else(|_| value.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| format!("{value:?} is not a DNS server address like 127.0.0.1:53"))
}

/// `<platform data dir>/mailcx`, or the current directory where there is none.
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir()
        .map(|d| d.join("mailcx"))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Accepts a DNS name of letters, digits and hyphens in dot-separated labels; lower-cases it.
pub fn parse_domain(value: &str) -> Result<String, String> {
    let domain = value.trim().trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if domain.len() > 253 || !domain.contains('.') || !domain.split('.').all(label_ok) {
        return Err(format!("{value:?} is not a domain name like mail.cx"));
    }
    Ok(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ephemeral_configs_ignore_the_environment() {
        // SAFETY: no other test of this crate reads or writes the environment.
        unsafe { std::env::set_var("MAILCX_RATE_LIMIT", "3") };
        let config = Config::ephemeral("/tmp/x.db");
        unsafe { std::env::remove_var("MAILCX_RATE_LIMIT") };
        assert_eq!(config.rate_limit, 8);
        assert_eq!(config.domains, vec!["mail.cx".to_string()]);
        assert_eq!(config.http_addr.port(), 0);
        assert_eq!(config.ws_auth_timeout, Duration::from_secs(10));
        assert_eq!(config.shutdown_grace, Duration::from_secs(5));
        assert!(config.open_domains.is_empty(), "no domain is open by default");
        assert_eq!(config.open_retention, Duration::from_secs(3600));
        assert_eq!(config.long_poll_hold, Duration::from_secs(25));
    }

    #[test]
    fn open_domains_must_be_system_domains() {
        let mut config = Config::ephemeral("/tmp/x.db");
        config.domains = vec!["a.test".into(), "b.test".into()];
        config.open_domains = vec!["b.test".into(), "a.test".into()];
        assert_eq!(
            config.checked_open_domains(),
            Ok(vec!["a.test".into(), "b.test".into()])
        );
        config.open_domains = vec!["c.test".into()];
        assert!(config.checked_open_domains().is_err());
    }

    #[test]
    fn wait_settings_that_cannot_work_are_refused() {
        let mut config = Config::ephemeral("/tmp/x.db");
        assert_eq!(config.check_waits(), Ok(()), "the defaults work");
        assert_eq!(config.long_poll_max_waiters_per_client, 32);
        assert_eq!(config.sse_max_age, Duration::from_secs(3600));
        // No open domain, no long poll: a short idle timeout alone is fine.
        config.http_idle_timeout = Duration::from_secs(10);
        assert_eq!(config.check_waits(), Ok(()));
        config.domains = vec!["a.test".into()];
        config.open_domains = vec!["a.test".into()];
        let refused = config.check_waits().unwrap_err();
        assert!(refused.contains("--long-poll-hold") && refused.contains("--http-idle-timeout"));
        config.long_poll_hold = Duration::from_secs(9);
        assert_eq!(config.check_waits(), Ok(()));
        config.http_idle_timeout = Duration::from_secs(u64::MAX / 2);
        config.long_poll_hold = Duration::from_secs(u64::MAX / 4);
        assert!(config.check_waits().unwrap_err().contains("--long-poll-hold"));
        config.long_poll_hold = Duration::from_secs(9);
        config.open_retention = parse_duration("106751991167301d").unwrap();
        assert!(config.check_waits().unwrap_err().contains("--open-retention"));
        config.open_retention = Duration::from_secs(3600);
        config.sse_max_age = Duration::MAX;
        assert!(config.check_waits().unwrap_err().contains("--sse-max-age"));
    }

    #[test]
    fn durations_and_domains_parse() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("h").is_err());
        assert_eq!(parse_domain("Mail.CX."), Ok("mail.cx".into()));
        assert!(parse_domain("localhost").is_err());
        assert!(parse_domain("bad_domain.com").is_err());
        assert!(parse_secret("").is_err());
        assert!(parse_secret(&"s".repeat(31)).is_err());
        assert!(parse_secret(&"s".repeat(32)).is_ok());
    }

    #[test]
    fn smtp_sessions_are_bounded_by_default() {
        let config = Config::ephemeral("/tmp/x.db");
        assert_eq!(config.smtp_session_lifetime, Duration::from_secs(30 * 60));
        assert_eq!(config.smtp_max_commands, 1000);
        assert!(parse_nonzero_duration("0").is_err());
        assert_eq!(parse_nonzero_duration("2m"), Ok(Duration::from_secs(120)));
        // Flags only: like `ephemeral`, no test here reads the environment.
        let parse = |args: &[&str]| {
            let command = Config::command().mut_args(|arg| arg.env(None::<&'static str>));
            let matches = command.try_get_matches_from([&["mailcx-server"], args].concat())?;
            Config::from_arg_matches(&matches)
        };
        assert!(parse(&["--smtp-max-commands", "0"]).is_err());
        assert!(parse(&["--smtp-session-lifetime", "0"]).is_err());
        let set = parse(&["--smtp-max-commands", "5", "--smtp-session-lifetime", "90s"]).unwrap();
        assert_eq!(
            (set.smtp_max_commands, set.smtp_session_lifetime),
            (5, Duration::from_secs(90))
        );
    }

    #[test]
    fn custom_domain_settings_have_their_defaults() {
        let config = Config::ephemeral("/tmp/x.db");
        assert_eq!(config.dns_resolver, None);
        assert_eq!(config.domain_verify_window, Duration::from_secs(72 * 3600));
        assert_eq!(config.mx_host(), "mx.mail.cx");
        assert_eq!(
            parse_resolver("127.0.0.1:5353"),
            Ok("127.0.0.1:5353".parse().unwrap())
        );
        assert_eq!(parse_resolver(" ::1 "), Ok("[::1]:53".parse().unwrap()));
        assert!(parse_resolver("dns.example").is_err());
    }
}
