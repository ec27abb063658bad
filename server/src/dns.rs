//! DNS lookups for the custom-domain check: the TXT and MX records of a name, asked of the
//! configured resolver (`--dns-resolver`) or of the system's. Built once at start.
//!
//! Nothing is cached, answers or their absence: a user who fixes a record must see it at the next
//! verify. Every lookup is bounded by `LOOKUP_DEADLINE`, so a resolver that does not answer costs a
//! verify a few seconds, never a hung request.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{Resolver, TokioResolver};

/// How long one query waits for a name server's answer.
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one lookup may take in all, retries and fallbacks included.
const LOOKUP_DEADLINE: Duration = Duration::from_secs(5);

/// Why DNS could not say whether a record exists (a name without such records is not an error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// No resolver to ask: the system's configuration could not be read.
    #[error("no DNS resolver is configured ({0}); set --dns-resolver")]
    NoResolver(String),
    /// The resolver did not answer in time, or could not be reached.
    #[error("the DNS resolver did not answer: {0}")]
    NoAnswer(String),
    /// The resolver answered with a failure (SERVFAIL, REFUSED, ...).
    #[error("the DNS resolver could not look {name} up: {reason}")]
    Failed { name: String, reason: String },
}

/// The resolver custom domains are checked with.
pub struct Dns {
    /// Where the resolver came from, for the start-up log.
    source: String,
    resolver: Result<TokioResolver, String>,
}

impl Dns {
    /// A resolver asking `server` (UDP, then TCP for long answers), or the system's resolvers
    /// when `None`. A system configuration that cannot be read does not stop the server: each
    /// lookup then answers `LookupError::NoResolver`.
    pub fn new(server: Option<SocketAddr>) -> Dns {
        let provider = TokioRuntimeProvider::default();
        let (source, builder) = match server {
            Some(addr) => {
                let connections = [ConnectionConfig::udp(), ConnectionConfig::tcp()]
                    .into_iter()
                    .map(|mut c| {
                        c.port = addr.port();
                        c
                    })
                    .collect();
                let name_server = NameServerConfig::new(addr.ip(), true, connections);
                let config = ResolverConfig::from_name_servers(vec![name_server]);
                (
                    addr.to_string(),
                    Ok(Resolver::builder_with_config(config, provider)),
                )
            }
            None => (
                "the system's resolvers".to_string(),
                Resolver::builder(provider).map_err(|e| e.to_string()),
            ),
        };
        let resolver = builder.and_then(|mut builder| {
            let options = builder.options_mut();
            apply_options(options);
            builder.build().map_err(|e| e.to_string())
        });
        Dns { source, resolver }
    }

    /// Which resolver is asked, e.g. `127.0.0.1:5353` or "the system's resolvers".
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The TXT records of `name`, each one's strings joined; empty when there are none.
    pub async fn txt_records(&self, name: &str) -> Result<Vec<String>, LookupError> {
        let records = self.lookup(name, RecordType::TXT).await?;
        Ok(records
            .into_iter()
            .filter_map(|data| match data {
                RData::TXT(txt) => {
                    let bytes: Vec<u8> = txt.txt_data.iter().flat_map(|s| s.iter().copied()).collect();
                    Some(String::from_utf8_lossy(&bytes).into_owned())
                }
                _ => None,
            })
            .collect())
    }

    /// The MX records of `name` as (preference, host), the host lower-case without the final
    /// dot; empty when there are none.
    pub async fn mx_records(&self, name: &str) -> Result<Vec<(u16, String)>, LookupError> {
        let records = self.lookup(name, RecordType::MX).await?;
        Ok(records
            .into_iter()
            .filter_map(|data| match data {
                RData::MX(mx) => Some((mx.preference, host_name(&mx.exchange.to_ascii()))),
                _ => None,
            })
            .collect())
    }

    /// The answers of type `record_type` for `name`; none when the name or the records do not
    /// exist.
    async fn lookup(&self, name: &str, record_type: RecordType) -> Result<Vec<RData>, LookupError> {
        let resolver = self
            .resolver
            .as_ref()
            .map_err(|e| LookupError::NoResolver(e.clone()))?;
        // Fully qualified: the system's search domains are never appended.
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        let lookup = tokio::time::timeout(LOOKUP_DEADLINE, resolver.lookup(fqdn.as_str(), record_type)).await;
        match lookup {
            Err(_) => Err(LookupError::NoAnswer(format!(
                "no answer within {} seconds",
                LOOKUP_DEADLINE.as_secs()
            ))),
            Ok(Ok(found)) => Ok(found
                .answers()
                .iter()
                .filter(|r| r.record_type() == record_type)
                .map(|r| r.data.clone())
                .collect()),
            Ok(Err(NetError::Dns(DnsError::NoRecordsFound(_)))) => Ok(Vec::new()),
            Ok(Err(NetError::Dns(e))) => Err(LookupError::Failed {
                name: name.to_string(),
                reason: e.to_string(),
            }),
            Ok(Err(NetError::Timeout)) => Err(LookupError::NoAnswer(format!(
                "no answer within {} seconds",
                QUERY_TIMEOUT.as_secs()
            ))),
            Ok(Err(e)) => Err(LookupError::NoAnswer(e.to_string())),
        }
    }
}

/// Short timeouts, one retry, no cache, no hosts file.
fn apply_options(options: &mut ResolverOpts) {
    options.timeout = QUERY_TIMEOUT;
    options.attempts = 1;
    options.use_hosts_file = ResolveHosts::Never;
    // A fixed record must count at the next verify: nothing is remembered, not even "none".
    options.cache_size = 0;
    options.positive_max_ttl = Some(Duration::ZERO);
    options.negative_max_ttl = Some(Duration::ZERO);
}

/// A host name as compared: lower-case, without the final dot.
pub fn host_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}
