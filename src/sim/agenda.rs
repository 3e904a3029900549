//! An agenda for a simulated clock: things to happen, taken earliest first and, among
//! equals, in the order they were planned. The headless simulator and the MDRP replay both
//! run on one.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// `what` is due at `when`; `seq` keeps planning order among equal `when`s.
#[derive(Clone)]
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
#[derive(Clone)]
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

    /// Keep only the happenings `keep` accepts (planning order among equals is kept).
    pub fn retain(&mut self, mut keep: impl FnMut(&E) -> bool) {
        self.heap.retain(|Reverse(entry)| keep(&entry.what));
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

    #[test]
    fn retain_drops_what_it_rejects_and_keeps_the_order_of_the_rest() {
        let mut agenda = Agenda::default();
        for (when, what) in [(2, "b"), (1, "x"), (1, "a"), (2, "c"), (3, "y")] {
            agenda.at(when, what);
        }
        agenda.retain(|what| *what != "x" && *what != "y");
        let order: Vec<_> = std::iter::from_fn(|| agenda.pop()).collect();
        assert_eq!(order, vec![(1, "a"), (2, "b"), (2, "c")]);
    }
}
