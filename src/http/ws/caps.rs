//! How many sockets one subject (a token's customer, store, rider) and one client address
//! may hold open. Each open socket holds a [`Seat`]; giving it back (dropping it) frees the
//! place, whichever way the socket ended.

use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Arc;

use actix_web::http::StatusCode;
use dashmap::DashMap;
use uuid::Uuid;

use crate::config::WsSettings;
use crate::http::error::ApiError;

pub struct SocketCaps {
    per_subject: usize,
    per_ip: usize,
    subjects: Arc<DashMap<Uuid, usize>>,
    ips: Arc<DashMap<IpAddr, usize>>,
}

/// One open socket's place under the caps.
#[derive(Debug)]
pub struct Seat {
    subject: (Arc<DashMap<Uuid, usize>>, Uuid),
    ip: Option<(Arc<DashMap<IpAddr, usize>>, IpAddr)>,
}

/// Take a place under `cap` for `key`, or say no.
fn take<K: Hash + Eq + Copy>(map: &DashMap<K, usize>, key: K, cap: usize) -> bool {
    let mut held = map.entry(key).or_insert(0);
    if *held >= cap {
        return false;
    }
    *held += 1;
    true
}

fn give_back<K: Hash + Eq + Copy>(map: &DashMap<K, usize>, key: K) {
    if let dashmap::mapref::entry::Entry::Occupied(mut held) = map.entry(key) {
        *held.get_mut() = held.get().saturating_sub(1);
        if *held.get() == 0 {
            held.remove();
        }
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        give_back(&self.subject.0, self.subject.1);
        if let Some((ips, ip)) = &self.ip {
            give_back(ips, *ip);
        }
    }
}

impl SocketCaps {
    pub fn new(settings: &WsSettings) -> SocketCaps {
        SocketCaps {
            per_subject: settings.sockets_per_subject.max(1),
            per_ip: settings.sockets_per_ip.max(1),
            subjects: Arc::new(DashMap::new()),
            ips: Arc::new(DashMap::new()),
        }
    }

    /// A seat for one more socket of `subject` from `ip`, or 429 naming the cap reached.
    pub fn admit(&self, subject: Uuid, ip: Option<IpAddr>) -> Result<Seat, ApiError> {
        let refused =
            |what: String| ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_sockets", what).retry_after(5);
        if let Some(ip) = ip {
            if !take(&self.ips, ip, self.per_ip) {
                return Err(refused(format!("at most {} sockets from one address", self.per_ip)));
            }
        }
        let ip = ip.map(|ip| (self.ips.clone(), ip));
        if !take(&self.subjects, subject, self.per_subject) {
            if let Some((ips, ip)) = ip {
                give_back(&ips, ip);
            }
            return Err(refused(format!("at most {} sockets for one account", self.per_subject)));
        }
        Ok(Seat { subject: (self.subjects.clone(), subject), ip })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seats_are_capped_and_given_back() {
        let caps = SocketCaps::new(&WsSettings { sockets_per_subject: 2, sockets_per_ip: 3, ..WsSettings::default() });
        let (me, you) = (Uuid::new_v4(), Uuid::new_v4());
        let here = Some(IpAddr::from([127, 0, 0, 1]));
        let first = caps.admit(me, here).unwrap();
        let _second = caps.admit(me, here).unwrap();
        assert_eq!(caps.admit(me, here).unwrap_err().status.as_u16(), 429, "a third for one subject");
        let _third = caps.admit(you, here).unwrap();
        assert!(caps.admit(Uuid::new_v4(), here).is_err(), "a fourth from one address");
        drop(first);
        assert!(caps.admit(me, here).is_ok(), "a closed socket frees its seat");
        assert_eq!(caps.subjects.len(), 2);
    }
}
