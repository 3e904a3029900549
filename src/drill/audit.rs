//! Holding the database to what the clients were told: every acknowledged order exists
//! with every acknowledged event, once.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context as _;
use sqlx::Row;

/// Events an order has at most once, however often a client retried.
const ONCE: &[&str] = &["placed", "store_accepted", "marked_ready", "picked_up", "delivered", "cancelled"];

/// Each order stream in the database with its event types in order.
pub async fn order_events(database_url: &str) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let query = "SELECT e.stream_id, e.event_type FROM events e JOIN streams s ON s.stream_id = e.stream_id \
                 WHERE s.kind = 'order' ORDER BY e.stream_id, e.seq";
    let mut streams: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if database_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(database_url).await.context("opening the SQLite database")?;
        for row in sqlx::query(query).fetch_all(&pool).await? {
            // SQLite keeps ids as text.
            let id: String = row.try_get(0)?;
            streams.entry(id).or_default().push(row.try_get(1)?);
        }
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(database_url).await.context("connecting to PostgreSQL")?;
        for row in sqlx::query(query).fetch_all(&pool).await? {
            let id: uuid::Uuid = row.try_get(0)?;
            streams.entry(id.to_string()).or_default().push(row.try_get(1)?);
        }
        pool.close().await;
    }
    Ok(streams)
}

/// What the audit found.
#[derive(Debug, Default)]
pub struct Audit {
    pub acknowledged_orders: usize,
    pub acknowledged_events: usize,
    pub stored_orders: usize,
    pub stored_events: usize,
    /// Acknowledged orders with no stream.
    pub missing_orders: Vec<String>,
    /// (order, event) acknowledged but not stored.
    pub missing_events: Vec<(String, String)>,
    /// (order, event) stored more than once where once is the rule.
    pub duplicated: Vec<(String, String)>,
    /// Orders stored that no client saw acknowledged (the answer was lost in a crash).
    pub unacknowledged_stored: usize,
}

impl Audit {
    pub fn check(acked: &BTreeMap<String, BTreeSet<&'static str>>, stored: &BTreeMap<String, Vec<String>>) -> Audit {
        let mut audit = Audit {
            acknowledged_orders: acked.len(),
            acknowledged_events: acked.values().map(BTreeSet::len).sum(),
            stored_orders: stored.len(),
            stored_events: stored.values().map(Vec::len).sum(),
            ..Audit::default()
        };
        for (order, events) in acked {
            let Some(kept) = stored.get(order) else {
                audit.missing_orders.push(order.clone());
                continue;
            };
            for event in events {
                if !kept.iter().any(|k| k == event) {
                    audit.missing_events.push((order.clone(), (*event).to_owned()));
                }
            }
        }
        for (order, kept) in stored {
            for once in ONCE {
                if kept.iter().filter(|k| k == once).count() > 1 {
                    audit.duplicated.push((order.clone(), (*once).to_owned()));
                }
            }
            if !acked.contains_key(order) {
                audit.unacknowledged_stored += 1;
            }
        }
        audit
    }

    pub fn passed(&self) -> bool {
        self.missing_orders.is_empty() && self.missing_events.is_empty() && self.duplicated.is_empty()
    }
}

impl std::fmt::Display for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "acknowledged: {} orders, {} events", self.acknowledged_orders, self.acknowledged_events)?;
        writeln!(f, "stored:       {} orders, {} events", self.stored_orders, self.stored_events)?;
        writeln!(
            f,
            "missing orders: {}  missing events: {}  duplicated events: {}",
            self.missing_orders.len(),
            self.missing_events.len(),
            self.duplicated.len()
        )?;
        write!(f, "stored but never acknowledged (answer lost): {}", self.unacknowledged_stored)?;
        for (order, event) in self.missing_events.iter().take(5) {
            write!(f, "\n  missing: {order} {event}")?;
        }
        for (order, event) in self.duplicated.iter().take(5) {
            write!(f, "\n  duplicated: {order} {event}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acked(entries: &[(&str, &[&'static str])]) -> BTreeMap<String, BTreeSet<&'static str>> {
        entries.iter().map(|(o, e)| (o.to_string(), e.iter().copied().collect())).collect()
    }

    fn stored(entries: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        entries.iter().map(|(o, e)| (o.to_string(), e.iter().map(|s| s.to_string()).collect())).collect()
    }

    #[test]
    fn a_lost_acknowledged_event_fails_the_audit() {
        let audit = Audit::check(
            &acked(&[("a", &["placed", "store_accepted"]), ("b", &["placed"])]),
            &stored(&[("a", &["placed"]), ("c", &["placed"])]),
        );
        assert!(!audit.passed());
        assert_eq!(audit.missing_orders, vec!["b".to_string()]);
        assert_eq!(audit.missing_events, vec![("a".to_string(), "store_accepted".to_string())]);
        assert_eq!(audit.unacknowledged_stored, 1);
    }

    #[test]
    fn a_doubled_event_fails_the_audit_and_repeated_offers_do_not() {
        let audit = Audit::check(
            &acked(&[("a", &["placed"])]),
            &stored(&[("a", &["placed", "rider_offered", "rider_offered", "delivered", "delivered"])]),
        );
        assert_eq!(audit.duplicated, vec![("a".to_string(), "delivered".to_string())]);
        assert!(!audit.passed());
    }
}
