//! The deny-list of access tokens revoked before they expire (logout, a replayed refresh
//! token), and the connections that must end with them.
//!
//! A JWT is valid by its signature alone, so revoking one means remembering its id until it
//! would have expired anyway. The list is small (only revoked, unexpired ids) and is kept
//! durable by the account store; this is its in-memory copy, consulted on every request.
//! Long-lived connections (websockets) watch their token's id and are told when it is
//! revoked, so a logout also ends the sockets it opened.

use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;
use uuid::Uuid;

type Hook = Box<dyn Fn() + Send + Sync>;

#[derive(Default)]
pub struct Revocations {
    /// Revoked token id -> its expiry (seconds since the epoch).
    denied: DashMap<Uuid, i64>,
    /// Token id -> the connections opened with it, each with the call that ends it.
    watchers: DashMap<Uuid, Vec<(u64, Hook)>>,
    next: AtomicU64,
}

/// A connection's watch on its token; give it back with [`Revocations::unwatch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watch {
    jti: Uuid,
    id: u64,
}

impl Revocations {
    /// Deny `jti` until `expires_at`, and end the connections opened with it.
    pub fn revoke(&self, jti: Uuid, expires_at: i64) {
        self.denied.insert(jti, expires_at);
        if let Some((_, hooks)) = self.watchers.remove(&jti) {
            for (_, end) in hooks {
                end();
            }
        }
    }

    pub fn is_revoked(&self, jti: Uuid) -> bool {
        self.denied.contains_key(&jti)
    }

    /// Call `end` when `jti` is revoked (at once if it already is).
    pub fn watch(&self, jti: Uuid, end: impl Fn() + Send + Sync + 'static) -> Watch {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if self.is_revoked(jti) {
            end();
        } else {
            self.watchers.entry(jti).or_default().push((id, Box::new(end)));
        }
        Watch { jti, id }
    }

    pub fn unwatch(&self, watch: Watch) {
        if let dashmap::mapref::entry::Entry::Occupied(mut entry) = self.watchers.entry(watch.jti) {
            entry.get_mut().retain(|(id, _)| *id != watch.id);
            if entry.get().is_empty() {
                entry.remove();
            }
        }
    }

    /// Forget ids whose tokens have expired by `now` (seconds): they are refused anyway.
    pub fn prune(&self, now: i64) {
        self.denied.retain(|_, expires_at| *expires_at >= now - 60);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    use super::*;

    #[test]
    fn revoking_ends_the_connections_of_that_token_only() {
        let revocations = Revocations::default();
        let (mine, other) = (Uuid::new_v4(), Uuid::new_v4());
        let ended = Arc::new(AtomicUsize::new(0));
        let count = |ended: &Arc<AtomicUsize>| {
            let ended = ended.clone();
            move || {
                ended.fetch_add(1, Ordering::SeqCst);
            }
        };
        revocations.watch(mine, count(&ended));
        let gone = revocations.watch(mine, count(&ended));
        revocations.unwatch(gone);
        revocations.watch(other, count(&ended));
        revocations.revoke(mine, i64::MAX);
        assert_eq!(ended.load(Ordering::SeqCst), 1, "one watcher left on the revoked token");
        assert!(revocations.is_revoked(mine) && !revocations.is_revoked(other));
        // Watching a token already revoked ends at once.
        revocations.watch(mine, count(&ended));
        assert_eq!(ended.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn expired_ids_are_forgotten() {
        let revocations = Revocations::default();
        revocations.revoke(Uuid::new_v4(), 1_000);
        revocations.revoke(Uuid::new_v4(), 5_000);
        revocations.prune(2_000);
        assert_eq!(revocations.denied.len(), 1);
    }
}
