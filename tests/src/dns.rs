//! A real DNS server for the tests, in-process on a free loopback UDP port: answers TXT and MX
//! queries from records the test sets and changes while it runs, NXDOMAIN for names it has
//! nothing for, SERVFAIL for names told to fail. Point `--dns-resolver` at `DnsServer::addr`.
//!
//! Answers carry a long TTL (an hour) on purpose: a server that cached them would miss a record
//! changed between two verifies.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{MX, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

/// TTL of every answer, in seconds.
const TTL: u32 = 3600;

/// What the server knows of one name.
#[derive(Default)]
struct Entry {
    records: Vec<RData>,
    servfail: bool,
}

#[derive(Default)]
struct Zone {
    /// By lower-case name without the final dot.
    names: HashMap<String, Entry>,
}

/// A DNS server on `127.0.0.1:<free port>`, stopped when dropped.
pub struct DnsServer {
    addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    queries: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl DnsServer {
    /// Binds a free port and starts answering.
    pub async fn start() -> DnsServer {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("a UDP port for DNS");
        let addr = socket.local_addr().expect("the DNS server's address");
        let zone = Arc::new(Mutex::new(Zone::default()));
        let queries = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(serve(socket, zone.clone(), queries.clone()));
        DnsServer {
            addr,
            zone,
            queries,
            task,
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many queries it has answered.
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }

    /// Replaces the TXT records of `name` with one record per value.
    pub fn set_txt(&self, name: &str, values: &[&str]) {
        self.replace(
            name,
            RecordType::TXT,
            values.iter().map(|v| RData::TXT(TXT::new(vec![v.to_string()]))),
        );
    }

    /// Replaces the MX records of `name` with these (preference, host).
    pub fn set_mx(&self, name: &str, hosts: &[(u16, &str)]) {
        let records = hosts.iter().map(|(preference, host)| {
            let exchange = Name::from_ascii(format!("{host}.")).expect("an MX host name");
            RData::MX(MX::new(*preference, exchange))
        });
        self.replace(name, RecordType::MX, records);
    }

    /// Makes every query for `name` answer SERVFAIL.
    pub fn fail(&self, name: &str) {
        self.zone
            .lock()
            .unwrap()
            .names
            .entry(key(name))
            .or_default()
            .servfail = true;
    }

    fn replace(&self, name: &str, record_type: RecordType, records: impl Iterator<Item = RData>) {
        let mut zone = self.zone.lock().unwrap();
        let entry = zone.names.entry(key(name)).or_default();
        entry.records.retain(|r| r.record_type() != record_type);
        entry.records.extend(records);
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

async fn serve(socket: UdpSocket, zone: Arc<Mutex<Zone>>, queries: Arc<AtomicUsize>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let Ok(request) = Message::from_vec(&buf[..len]) else {
            continue;
        };
        let response = answer(&request, &zone.lock().unwrap());
        queries.fetch_add(1, Ordering::SeqCst);
        if let Ok(bytes) = response.to_vec() {
            let _ = socket.send_to(&bytes, peer).await;
        }
    }
}

/// The answer to `request` from `zone`: the records of the asked type; none (NOERROR) when the
/// name has only other types; NXDOMAIN when the name is unknown.
fn answer(request: &Message, zone: &Zone) -> Message {
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.metadata.authoritative = true;
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.add_queries(request.queries.iter().cloned());
    let Some(query) = request.queries.first() else {
        response.metadata.response_code = ResponseCode::FormErr;
        return response;
    };
    match zone.names.get(&key(&query.name().to_ascii())) {
        None => response.metadata.response_code = ResponseCode::NXDomain,
        Some(entry) if entry.servfail => response.metadata.response_code = ResponseCode::ServFail,
        Some(entry) => {
            for data in entry
                .records
                .iter()
                .filter(|r| r.record_type() == query.query_type())
            {
                response.add_answer(Record::from_rdata(query.name().clone(), TTL, data.clone()));
            }
        }
    }
    response
}
