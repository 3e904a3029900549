//! The replay itself: a discrete-event loop on a simulated clock that drives every order
//! through the order state machine and every dispatch decision through the dispatch
//! [`Board`], exactly as the server does, with the instance's couriers as riders who always
//! accept (unless the job would start after their shift).

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

use chrono::{DateTime, Duration, Utc};

use crate::config::DispatchSettings;
use crate::dispatch::{Board, Need, Offer};
use crate::domain::order::{Order, OrderCommand, OrderError, OrderTerms, Phase};
use crate::domain::{Currency, CustomerId, GeoPoint, Money, OrderId, RiderId, StoreId, ZoneId};
use crate::matching::PlanarPoint;

use super::instance::{Instance, Minute};
use super::route::{best_trip, schedule};
use super::settings::ReplaySettings;
use super::solution::{Assignment, Delivery, Move, Place, Solution};

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("order {order}: {command} refused at minute {at}: {source}")]
    Refused { order: String, command: &'static str, at: Minute, source: OrderError },
}

/// The simulated clock: minute `m` of the day as a timestamp.
fn clock(m: Minute) -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + Duration::minutes(m)
}

/// Things that happen at a set minute. Within one minute they run in this order, so an
/// order is ready before it is picked up and a courier is free before its shift ends.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Placed(usize),
    Ready(usize),
    ShiftStarts(usize),
    PickedUp {
        courier: usize,
        orders: Vec<usize>,
    },
    Delivered {
        courier: usize,
        order: usize,
    },
    /// The courier may take its next job (it is on, or about to finish, its last leg).
    Free {
        courier: usize,
        lead: OrderId,
    },
    ShiftEnds(usize),
}

impl Event {
    fn rank(&self) -> u8 {
        match self {
            Event::Placed(_) => 0,
            Event::Ready(_) => 1,
            Event::ShiftStarts(_) => 2,
            Event::PickedUp { .. } => 3,
            Event::Delivered { .. } => 4,
            Event::Free { .. } => 5,
            Event::ShiftEnds(_) => 6,
        }
    }
}

#[derive(PartialEq, Eq)]
struct Timed {
    at: Minute,
    seq: u64,
    event: Event,
}

impl Ord for Timed {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.event.rank(), self.seq).cmp(&(other.at, other.event.rank(), other.seq))
    }
}

impl PartialOrd for Timed {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The event queue.
#[derive(Default)]
struct Agenda {
    heap: BinaryHeap<Reverse<Timed>>,
    seq: u64,
}

impl Agenda {
    fn at(&mut self, at: Minute, event: Event) {
        self.seq += 1;
        self.heap.push(Reverse(Timed { at, seq: self.seq, event }));
    }

    fn next_due(&mut self, now: Minute) -> Option<Event> {
        if self.heap.peek().is_some_and(|Reverse(t)| t.at <= now) {
            self.heap.pop().map(|Reverse(t)| t.event)
        } else {
            None
        }
    }

    fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// Orders of one restaurant waiting on the board under their first order's id.
struct Bundle {
    restaurant: usize,
    orders: Vec<usize>,
    since: Minute,
}

struct CourierState {
    rider: RiderId,
    /// Where it is, or will be once its current trip ends.
    place: Place,
    /// When it gets there.
    free_at: Minute,
    on_shift: bool,
}

/// One replay of one instance under one policy.
pub struct Replay<'a> {
    instance: &'a Instance,
    settings: ReplaySettings,
    dispatch: DispatchSettings,
    board: Board<PlanarPoint>,
    agenda: Agenda,
    ids: Vec<OrderId>,
    lead_of: HashMap<OrderId, usize>,
    orders: Vec<Option<Order>>,
    /// Placed, not yet up for dispatch.
    pending: BTreeSet<usize>,
    /// Ordered, so which bundle an order joins does not depend on hashing.
    waiting: BTreeMap<OrderId, Bundle>,
    couriers: Vec<CourierState>,
    courier_of: HashMap<RiderId, usize>,
    solution: Solution,
}

impl<'a> Replay<'a> {
    pub fn new(instance: &'a Instance, settings: ReplaySettings) -> Self {
        let ids: Vec<OrderId> =
            instance.orders.iter().map(|o| OrderId::named(&format!("{}/{}", instance.name, o.id))).collect();
        let couriers: Vec<CourierState> = instance
            .couriers
            .iter()
            .map(|c| CourierState {
                rider: RiderId::named(&format!("{}/{}", instance.name, c.id)),
                place: Place::Start,
                free_at: c.on,
                on_shift: false,
            })
            .collect();
        let mut agenda = Agenda::default();
        for (i, order) in instance.orders.iter().enumerate() {
            agenda.at(order.placed, Event::Placed(i));
            agenda.at(order.ready, Event::Ready(i));
        }
        for (i, courier) in instance.couriers.iter().enumerate() {
            agenda.at(courier.on, Event::ShiftStarts(i));
            agenda.at(courier.off, Event::ShiftEnds(i));
        }
        Replay {
            instance,
            settings,
            dispatch: settings.dispatch(&instance.parameters),
            board: Board::new(),
            agenda,
            lead_of: ids.iter().enumerate().map(|(i, id)| (*id, i)).collect(),
            ids,
            orders: vec![None; instance.orders.len()],
            pending: BTreeSet::new(),
            waiting: BTreeMap::new(),
            courier_of: couriers.iter().enumerate().map(|(i, c)| (c.rider, i)).collect(),
            couriers,
            solution: Solution::default(),
        }
    }

    /// Run the day to its end and return what happened.
    pub fn run(mut self) -> Result<Solution, ReplayError> {
        let first = self.agenda.heap.peek().map(|Reverse(t)| t.at).unwrap_or(0);
        let tick = self.settings.tick_minutes.max(1);
        let mut now = first;
        while !self.agenda.is_empty() {
            while let Some(event) = self.agenda.next_due(now) {
                self.handle(event, now)?;
            }
            if now % tick == 0 {
                self.release(now)?;
                self.assign(now)?;
            }
            now += 1;
        }
        // Nobody is left to carry what is still waiting: dispatch gives up on it.
        for order in 0..self.orders.len() {
            self.drive(order, OrderCommand::GiveUpDispatch, now)?;
        }
        Ok(self.solution)
    }

    /// Apply `command` to order `index` through the order state machine.
    fn drive(&mut self, index: usize, command: OrderCommand, now: Minute) -> Result<(), ReplayError> {
        let name = command.name();
        let refused = |source| ReplayError::Refused {
            order: self.instance.orders[index].id.clone(),
            command: name,
            at: now,
            source,
        };
        let events = Order::decide(self.orders[index].as_ref(), command, clock(now)).map_err(refused)?;
        for event in &events {
            self.orders[index] = Order::apply(self.orders[index].take(), self.ids[index], event);
        }
        Ok(())
    }

    fn terms(&self, index: usize) -> OrderTerms {
        // The state machine speaks WGS84; the instance is a flat map, laid here around
        // (0, 0) where the two agree. Dispatch itself works on the planar points.
        let origin = GeoPoint::new(0.0, 0.0).expect("(0, 0) is a valid point");
        let order = &self.instance.orders[index];
        let pickup = self.instance.pickup_of(index);
        let currency = Currency::parse("USD").expect("USD is a currency");
        OrderTerms {
            customer_id: CustomerId::named(&order.id),
            store_id: StoreId::named(&self.instance.restaurants[order.restaurant].id),
            zone: ZoneId::default(),
            lines: Vec::new(),
            total: Money::zero(currency),
            pickup: origin.offset_m(pickup.y, pickup.x),
            dropoff: origin.offset_m(order.at.y, order.at.x),
            store_accept_secs: 300,
            request_fingerprint: String::new(),
        }
    }

    fn handle(&mut self, event: Event, now: Minute) -> Result<(), ReplayError> {
        match event {
            Event::Placed(order) => {
                let terms = self.terms(order);
                self.drive(order, OrderCommand::Place(terms), now)?;
                self.drive(order, OrderCommand::RecordAuthorization { authorization: "replay".into() }, now)?;
                let spec = &self.instance.orders[order];
                let prep_minutes = (spec.ready - spec.placed).clamp(1, 180) as u32;
                self.drive(order, OrderCommand::Accept { prep_minutes }, now)?;
                self.pending.insert(order);
            }
            Event::Ready(order) => self.drive(order, OrderCommand::MarkReady, now)?,
            Event::ShiftStarts(c) => {
                self.couriers[c].on_shift = true;
                let at = self.instance.couriers[c].at;
                self.board.presence(self.couriers[c].rider, Some(at), clock(now));
            }
            Event::PickedUp { courier, orders } => {
                let rider = self.couriers[courier].rider;
                for order in orders {
                    self.drive(order, OrderCommand::PickUp { rider }, now)?;
                }
            }
            Event::Delivered { courier, order } => {
                let rider = self.couriers[courier].rider;
                let position = self.orders[order].as_ref().map(|o| o.terms.dropoff);
                if let Some(position) = position {
                    self.drive(order, OrderCommand::Deliver { rider, position, geofence_m: 1.0 }, now)?;
                    self.drive(order, OrderCommand::RecordCapture, now)?;
                }
            }
            Event::Free { courier, lead } => {
                let state = &self.couriers[courier];
                if state.on_shift {
                    let at = state.place.point(self.instance, courier);
                    self.board.presence(state.rider, Some(at), clock(now));
                }
                let pickup = self.instance.pickup_of(self.lead_of[&lead]);
                self.board.needs(lead, pickup, Need::Nothing);
            }
            Event::ShiftEnds(c) => {
                self.couriers[c].on_shift = false;
                self.board.presence(self.couriers[c].rider, None, clock(now));
            }
        }
        Ok(())
    }

    /// When an order goes up for dispatch.
    fn release_at(&self, order: usize) -> Minute {
        let spec = &self.instance.orders[order];
        match self.settings.release_lead {
            Some(lead) => (spec.ready - lead).max(spec.placed),
            None => spec.placed,
        }
    }

    /// Whether `orders` (one restaurant's) may travel together: each would still reach its
    /// door within the target if picked up as soon as all are ready. While orders queue for
    /// couriers (`scarce`), the limit is the maximum click-to-door instead: a shared trip
    /// then beats waiting for a courier that is not there.
    fn fits(&self, orders: &[usize], now: Minute, scarce: bool) -> bool {
        let Some(rules) = self.settings.bundling else { return orders.len() == 1 };
        if orders.len() > rules.max_orders {
            return false;
        }
        let ready: Vec<Minute> = orders.iter().map(|o| self.instance.orders[*o].ready).collect();
        let (first, last) = (ready.iter().min().copied(), ready.iter().max().copied());
        let (Some(first), Some(last)) = (first, last) else { return false };
        if last - first > rules.ready_window {
            return false;
        }
        let pickup = last.max(now) + self.instance.parameters.pickup_service;
        let trip = best_trip(self.instance, pickup, orders);
        let p = &self.instance.parameters;
        let limit = if scarce { p.max_click_to_door } else { p.target_click_to_door };
        trip.sequence.iter().zip(&trip.dropoffs).all(|(o, d)| d - self.instance.orders[*o].placed <= limit)
    }

    /// Put due orders up for dispatch: each joins a waiting bundle of its restaurant when it
    /// fits, or leads a new one that gathers the restaurant's other placed orders that fit.
    fn release(&mut self, now: Minute) -> Result<(), ReplayError> {
        let mut due: Vec<usize> = self.pending.iter().copied().filter(|o| self.release_at(*o) <= now).collect();
        due.sort_by_key(|o| (self.instance.orders[*o].ready, *o));
        let scarce = self.board.waiting_orders() >= self.board.free_riders();
        for order in due {
            if !self.pending.contains(&order) {
                continue;
            }
            let restaurant = self.instance.orders[order].restaurant;
            if self.settings.bundling.is_some() {
                let joined = self.waiting.iter().find_map(|(lead, bundle)| {
                    let mut with = bundle.orders.clone();
                    with.push(order);
                    (bundle.restaurant == restaurant && self.fits(&with, now, scarce)).then_some(*lead)
                });
                if let Some(lead) = joined {
                    self.pending.remove(&order);
                    if let Some(bundle) = self.waiting.get_mut(&lead) {
                        bundle.orders.push(order);
                    }
                    continue;
                }
            }
            self.pending.remove(&order);
            let mut orders = vec![order];
            if self.settings.bundling.is_some() {
                let mut mates: Vec<usize> = self
                    .pending
                    .iter()
                    .copied()
                    .filter(|o| self.instance.orders[*o].restaurant == restaurant)
                    .collect();
                mates.sort_by_key(|o| (self.instance.orders[*o].ready, *o));
                for mate in mates {
                    orders.push(mate);
                    if self.fits(&orders, now, scarce) {
                        self.pending.remove(&mate);
                    } else {
                        orders.pop();
                    }
                }
            }
            let lead = self.ids[order];
            self.waiting.insert(lead, Bundle { restaurant, orders, since: now });
            self.announce(lead, now);
        }
        Ok(())
    }

    /// Tell the board what a waiting bundle needs, as its lead order sees it.
    fn announce(&mut self, lead: OrderId, now: Minute) {
        let Some(bundle) = self.waiting.get(&lead) else { return };
        let index = self.lead_of[&lead];
        let excluded = match self.orders[index].as_ref().map(|o| &o.phase) {
            Some(Phase::Active { excluded, .. }) => excluded.clone(),
            _ => BTreeSet::new(),
        };
        let since = clock(bundle.since.min(now));
        let pickup = self.instance.restaurants[bundle.restaurant].at;
        self.board.needs(lead, pickup, Need::Rider { excluded, since });
    }

    /// Run a dispatch tick and carry out its offers.
    fn assign(&mut self, now: Minute) -> Result<(), ReplayError> {
        let offers = self.board.tick(clock(now), &self.dispatch, self.settings.policy);
        for offer in offers {
            self.carry_out(offer, now)?;
        }
        Ok(())
    }

    fn carry_out(&mut self, offer: Offer, now: Minute) -> Result<(), ReplayError> {
        let Some(bundle) = self.waiting.remove(&offer.order) else {
            self.board.withdraw(offer.order);
            return Ok(());
        };
        let courier = self.courier_of[&offer.rider];
        let rider = offer.rider;
        let state = &self.couriers[courier];
        let restaurant_at = self.instance.restaurants[bundle.restaurant].at;
        let departs_at = now.max(state.free_at);
        let from = state.place;
        let arrives_at = departs_at + self.instance.travel(from.point(self.instance, courier), restaurant_at);
        let last_ready = bundle.orders.iter().map(|o| self.instance.orders[*o].ready).max().unwrap_or(now);
        let pickup_at = (arrives_at + self.instance.parameters.pickup_service).max(last_ready);
        let deadline = offer.deadline;

        for order in &bundle.orders {
            self.drive(*order, OrderCommand::Offer { rider, deadline }, now)?;
        }
        if pickup_at > self.instance.couriers[courier].off {
            // The shift would end before the pickup: the courier declines, and the orders
            // never see this courier again.
            for order in &bundle.orders {
                self.drive(*order, OrderCommand::DeclineOffer { rider }, now)?;
            }
            let lead = offer.order;
            let resync = self.board.answered(lead, rider, false);
            self.waiting.insert(lead, bundle);
            if resync {
                self.announce(lead, now);
            }
            return Ok(());
        }
        for order in &bundle.orders {
            self.drive(*order, OrderCommand::AcceptOffer { rider }, now)?;
        }
        self.board.answered(offer.order, rider, true);
        self.board.needs(offer.order, restaurant_at, Need::Holds(rider));

        let trip = best_trip(self.instance, pickup_at, &bundle.orders);
        debug_assert_eq!(trip.dropoffs, schedule(self.instance, pickup_at, &trip.sequence));
        let moves = &mut self.solution.moves;
        moves.push(Move { courier, departs_at, from, to: Place::Restaurant(bundle.restaurant) });
        let mut place = Place::Restaurant(bundle.restaurant);
        let mut leaves_at = pickup_at;
        for (order, dropoff_at) in trip.sequence.iter().zip(&trip.dropoffs) {
            moves.push(Move { courier, departs_at: leaves_at, from: place, to: Place::Dropoff(*order) });
            place = Place::Dropoff(*order);
            leaves_at = *dropoff_at;
            self.solution.deliveries.push(Delivery { order: *order, pickup_at, dropoff_at: *dropoff_at, courier });
            self.agenda.at(*dropoff_at, Event::Delivered { courier, order: *order });
        }
        self.agenda.at(pickup_at, Event::PickedUp { courier, orders: trip.sequence.clone() });
        let done_at = trip.last_dropoff();
        let free_at = (done_at - self.settings.free_ahead).max(pickup_at).max(now + 1);
        self.agenda.at(free_at, Event::Free { courier, lead: offer.order });
        self.solution.assignments.push(Assignment { assigned_at: now, pickup_at, courier, orders: trip.sequence });
        let state = &mut self.couriers[courier];
        state.place = place;
        state.free_at = done_at;
        Ok(())
    }
}
