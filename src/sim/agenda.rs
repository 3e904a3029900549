//! An agenda for a simulated clock: things to happen, taken earliest first and, among
//! equals, in the order they were planned. The headless simulator and the MDRP replay both
//! run on one.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// `what` is due at `when`; `seq` keeps planning order among equal `when`s.
struct Entry<K, E> {
    when: K,
    seq: u64,
    what: E,
}

impl<K: Ord, E> PartialEq for Entry<K, E> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<K: Ord, E> Eq for Entry<K, E> {}

impl<K: Ord, E> PartialOrd for Entry<K, E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K: Ord, E> Ord for Entry<K, E> {
    fn cmp(&self, other: &Self) -> Ordering {
        (&self.when, self.seq).cmp(&(&other.when, other.seq))
    }
}

/// Happenings `E` ordered by `K` (a time, or a time with a rank for same-time order).
pub struct Agenda<K, E> {
    heap: BinaryHeap<Reverse<Entry<K, E>>>,
    seq: u64,
}

impl<K: Ord, E> Default for Agenda<K, E> {
    fn default() -> Self {
        Agenda { heap: BinaryHeap::new(), seq: 0 }
    }
}

impl<K: Ord, E> Agenda<K, E> {
    pub fn at(&mut self, when: K, what: E) {
        self.seq += 1;
        self.heap.push(Reverse(Entry { when, seq: self.seq, what }));
    }

    /// When the next happening is due.
    pub fn next_when(&self) -> Option<&K> {
        self.heap.peek().map(|Reverse(entry)| &entry.when)
    }

    pub fn pop(&mut self) -> Option<(K, E)> {
        self.heap.pop().map(|Reverse(entry)| (entry.when, entry.what))
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::Agenda;

    #[test]
    fn earliest_first_then_in_planning_order() {
        let mut agenda = Agenda::default();
        agenda.at(5, "late");
        agenda.at(1, "first");
        agenda.at(1, "second");
        assert_eq!(agenda.next_when(), Some(&1));
        let order: Vec<_> = std::iter::from_fn(|| agenda.pop()).collect();
        assert_eq!(order, vec![(1, "first"), (1, "second"), (5, "late")]);
        assert!(agenda.is_empty());
    }
}
