//! `GET /api/domains`.

use axum::Json;
use axum::extract::State;
use mailcx_common::{Domain, DomainList};
use uuid::Uuid;

use super::AppState;

/// Namespace for the stable ids of system domains (derived from the name, so they never change).
const DOMAIN_NAMESPACE: Uuid = Uuid::from_u128(0x6d61_696c_6378_4000_8000_646f_6d61_696e);

/// The configured system domains, the first one the default.
pub fn system_domains(names: &[String]) -> DomainList {
    let domains = names
        .iter()
        .enumerate()
        .map(|(i, name)| Domain {
            id: Uuid::new_v5(&DOMAIN_NAMESPACE, name.as_bytes()),
            domain: name.clone(),
            default: i == 0,
            sort_order: i as i64,
        })
        .collect();
    DomainList { domains }
}

pub async fn list(State(state): State<AppState>) -> Json<DomainList> {
    Json(state.domains.as_ref().clone())
}
