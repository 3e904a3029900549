//! The replay itself: a discrete-event loop on a simulated clock that drives every order
//! through the order state machine and every dispatch decision through the dispatch
//! [`Board`], exactly as the server does, with the instance's couriers as riders who always
//! accept (unless the job would start after their shift).

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};

use crate::config::DispatchSettings;
use crate::dispatch::bundle::{self, Bundle, Bundles, Catalogue, Change, Judge, Limits, Parcel};
use crate::dispatch::duties::{self, PaymentCall};
use crate::dispatch::lookahead::{self, Rollout, Score, Variant};
use crate::dispatch::pressure::{self, Pace, Pressure, Shift};
use crate::dispatch::{Board, Need, Offer, Stage};
use crate::domain::order::{Order, OrderCommand, OrderError, OrderTerms};
use crate::domain::{Currency, CustomerId, GeoPoint, Money, OrderId, RiderId, StoreId, ZoneId};
use crate::matching::PlanarPoint;

use super::instance::{Instance, Minute};
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

/// The replay's agenda: by minute, then by kind within the minute ([`Event::rank`]).
#[derive(Clone, Default)]
struct Agenda(crate::sim::agenda::Agenda<(Minute, u8), Event>);

impl Agenda {
    fn at(&mut self, at: Minute, event: Event) {
        let rank = event.rank();
        self.0.at((at, rank), event);
    }

    /// The next event due by `now`, if any.
    fn next_due(&mut self, now: Minute) -> Option<Event> {
        if self.0.next_when().is_some_and(|(at, _)| *at <= now) {
            self.0.pop().map(|(_, event)| event)
        } else {
            None
        }
    }

    fn first_minute(&self) -> Option<Minute> {
        self.0.next_when().map(|(at, _)| *at)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The day's orders as bundling sees them: by index, bundles under their lead's order id.
struct Day<'a> {
    instance: &'a Instance,
    ids: &'a [OrderId],
}

impl Catalogue<PlanarPoint> for Day<'_> {
    type Order = usize;
    type Lead = OrderId;

    fn parcel(&self, order: usize) -> Parcel<PlanarPoint> {
        self.instance.parcel_of(order)
    }

    fn store(&self, order: usize) -> usize {
        self.instance.orders[order].restaurant
    }

    fn lead(&self, order: usize) -> OrderId {
        self.ids[order]
    }
}

#[derive(Clone)]
struct CourierState {
    rider: RiderId,
    /// Where it is, or will be once its current trip ends (at its [`Shift::free_at`]).
    place: Place,
    on_shift: bool,
}

/// One replay of one instance under one policy.
#[derive(Clone)]
pub struct Replay<'a> {
    instance: &'a Instance,
    settings: ReplaySettings,
    dispatch: DispatchSettings,
    board: Board<PlanarPoint>,
    agenda: Agenda,
    ids: Vec<OrderId>,
    lead_of: HashMap<OrderId, usize>,
    orders: Vec<Option<Order>>,
    /// Placed orders not yet up for dispatch, and the bundles waiting for a courier.
    bundles: Bundles<usize, OrderId>,
    couriers: Vec<CourierState>,
    /// Each courier's shift, and when it is next free: what the pressure is judged by.
    roster: Vec<Shift>,
    courier_of: HashMap<RiderId, usize>,
    solution: Solution,
    pace: Pace,
    /// This tick only, the board may not send this rider for this bundle ([`Choice::withheld`]).
    withheld: Option<(RiderId, OrderId)>,
}

/// What a tick runs under ([`Replay::choose`]): which courier is withheld from which
/// bundle (by its lead order), if any.
type Choice = lookahead::Choice<(usize, OrderId)>;

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
            bundles: Bundles::default(),
            courier_of: couriers.iter().enumerate().map(|(i, c)| (c.rider, i)).collect(),
            couriers,
            roster: instance.couriers.iter().map(|c| Shift { on: c.on, off: c.off, free_at: c.on }).collect(),
            solution: Solution::default(),
            pace: Pace::default(),
            withheld: None,
        }
    }

    /// Run the day to its end and return what happened.
    pub fn run(mut self) -> Result<Solution, ReplayError> {
        let first = self.agenda.first_minute().unwrap_or(0);
        let now = self.run_from(first)?;
        // Nobody is left to carry what is still waiting: dispatch gives up on it.
        for order in 0..self.orders.len() {
            self.drive(order, OrderCommand::GiveUpDispatch, now)?;
        }
        Ok(self.solution)
    }

    /// Run minute by minute from `now` until nothing is left to happen; returns the minute
    /// it stopped at.
    fn run_from(&mut self, mut now: Minute) -> Result<Minute, ReplayError> {
        let tick = self.settings.tick_minutes.max(1);
        while !self.agenda.is_empty() {
            while let Some(event) = self.agenda.next_due(now) {
                self.handle(event, now)?;
            }
            if now % tick == 0 {
                let choice = self.choose(now)?;
                self.tick(choice, now)?;
            }
            now += 1;
        }
        Ok(now)
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
                self.bundles.place(order);
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
                    let settles = self.orders[order].as_ref().and_then(duties::payment_call);
                    if let Some(PaymentCall::Capture { .. }) = settles {
                        self.drive(order, OrderCommand::RecordCapture, now)?;
                    }
                }
            }
            Event::Free { courier, lead } => {
                let state = &self.couriers[courier];
                if state.on_shift {
                    let at = state.place.point(self.instance, courier);
                    self.board.presence(state.rider, Some(at), clock(now));
                }
                self.forget(lead);
            }
            Event::ShiftEnds(c) => {
                self.couriers[c].on_shift = false;
                self.board.presence(self.couriers[c].rider, None, clock(now));
            }
        }
        Ok(())
    }

    /// How hard couriers are to come by now ([`pressure::pressure`]): the backlog is every
    /// order not yet assigned, the roster every shift of the day.
    fn pressure(&self, now: Minute) -> Pressure {
        let backlog = self.bundles.backlog();
        let scarce = self.board.waiting_orders() >= self.board.free_riders();
        pressure::pressure(self.settings.rules.short.as_ref(), &self.roster, backlog, &self.pace, scarce, now)
    }

    fn parcels(&self, orders: &[usize]) -> Vec<Parcel<PlanarPoint>> {
        orders.iter().map(|o| self.instance.parcel_of(*o)).collect()
    }

    fn limits(&self) -> Limits {
        let p = &self.instance.parameters;
        Limits { target: p.target_click_to_door, max: p.max_click_to_door }
    }

    /// The best drop-off sequence of `orders` (one restaurant's) picked up at `pickup`, as
    /// order indices, with each drop-off time.
    fn ride(&self, pickup: Minute, orders: &[usize]) -> (Vec<usize>, Vec<Minute>) {
        let parcels = self.parcels(orders);
        let trip = bundle::best_trip(&self.instance.parameters, self.limits().target, pickup, &parcels);
        (trip.sequence.iter().map(|i| orders[*i]).collect(), trip.dropoffs)
    }

    /// Put due orders up for dispatch ([`Bundles::release`]) and tell the board.
    fn release(&mut self, now: Minute) -> Result<(), ReplayError> {
        let pressure = self.pressure(now);
        let limits = self.limits();
        let day = Day { instance: self.instance, ids: &self.ids };
        let judge =
            Judge { day: &day, rules: &self.settings.rules, limits, travel: &self.instance.parameters, pressure, now };
        let changes = self.bundles.release(&judge);
        for change in changes {
            match change {
                Change::Announce(lead) => self.announce(lead, now),
                Change::Forget(lead) => self.forget(lead),
            }
        }
        Ok(())
    }

    /// The board forgets a bundle: it went into another, or its courier is done with it.
    fn forget(&mut self, lead: OrderId) {
        self.board.needs(lead, self.instance.places_of(self.lead_of[&lead]), Need::Nothing);
    }

    /// When `courier`, sent now, would pick `bundle` up: it leaves once its current trip
    /// is over, and the pickup waits for the last order to be ready.
    fn pickup_if_sent(&self, courier: usize, bundle: &Bundle<usize>, now: Minute) -> Minute {
        let from = self.couriers[courier].place.point(self.instance, courier);
        let restaurant_at = self.instance.restaurants[bundle.store].at;
        let free_at = self.roster[courier].free_at;
        let last_ready = self.last_ready(bundle, now);
        bundle::pickup_if_sent(&self.instance.parameters, from, free_at, restaurant_at, last_ready, now)
    }

    /// When the last food of `bundle` is ready (`now` for an empty one).
    fn last_ready(&self, bundle: &Bundle<usize>, now: Minute) -> Minute {
        bundle.orders.iter().map(|o| self.instance.orders[*o].ready).max().unwrap_or(now)
    }

    /// Tell the board what a waiting bundle needs, as its lead order sees it: a rider other
    /// than those it excludes and, when the policy knows the shifts, other than those whose
    /// shift would end before they could pick it up.
    fn announce(&mut self, lead: OrderId, now: Minute) {
        let Some(bundle) = self.bundles.get(&lead) else { return };
        // Every order of the bundle is offered, so a rider any of them excludes is out.
        let mut excluded = BTreeSet::new();
        for order in &bundle.orders {
            let need = self.orders[*order].as_ref().and_then(|o| duties::need(o, &self.dispatch));
            if let Some(Need::Rider { excluded: theirs, .. }) = need {
                excluded.extend(theirs);
            }
        }
        if self.settings.rules.shift_aware {
            let store = self.instance.restaurants[bundle.store].at;
            let last_ready = self.last_ready(bundle, now);
            let on_shift = self.couriers.iter().enumerate().filter(|(_, state)| state.on_shift).map(|(c, state)| {
                let shift = &self.roster[c];
                (state.rider, state.place.point(self.instance, c), shift.free_at, shift.off)
            });
            let travel = &self.instance.parameters;
            excluded.extend(bundle::shift_too_short(travel, on_shift, store, last_ready, now));
        }
        if let Some((rider, _)) = self.withheld.filter(|(_, withheld)| *withheld == lead) {
            excluded.insert(rider);
        }
        let since = clock(bundle.since.min(now));
        let places = self.instance.places_of(self.lead_of[&lead]);
        // The replay releases orders itself (`release_at`), by minutes: no ready time here.
        self.board.needs(lead, places, Need::Rider { excluded, since, ready_at: None });
    }

    /// Run a dispatch tick and carry out its offers; returns who was sent for which bundle.
    fn assign(&mut self, now: Minute) -> Result<Vec<(usize, OrderId)>, ReplayError> {
        // Who can still make a pickup changes as the clock runs and couriers move; a
        // withheld sending changes who one bundle may have.
        let leads: Vec<OrderId> = if self.settings.rules.shift_aware {
            self.bundles.leads()
        } else {
            self.withheld.map(|(_, lead)| lead).into_iter().collect()
        };
        for lead in leads {
            self.announce(lead, now);
        }
        let offers = self.board.tick(clock(now), &self.dispatch, self.settings.policy);
        let mut sent = Vec::new();
        for offer in offers {
            sent.extend(self.carry_out(offer, now)?);
        }
        Ok(sent)
    }

    /// One tick under `choice`: due orders go up for dispatch, then the board's matcher runs
    /// (unless a variant holds back). Returns who was sent for which bundle.
    fn tick(&mut self, choice: Choice, now: Minute) -> Result<Vec<(usize, OrderId)>, ReplayError> {
        let plain = self.dispatch.age_weight;
        if let Some(variant) = choice.variant {
            self.adopt(variant);
        }
        self.withheld = choice.withheld.map(|(courier, lead)| (self.couriers[courier].rider, lead));
        self.release(now)?;
        let mut sent = Vec::new();
        if !choice.variant.is_some_and(|v| v.hold) {
            sent = self.assign(now)?;
        }
        // The exclusion lasts this tick only, also through a next tick that holds back.
        if let Some((_, lead)) = self.withheld.take() {
            self.announce(lead, now);
        }
        self.dispatch.age_weight = plain;
        Ok(sent)
    }

    /// Run under `variant`'s rules (all a variant changes is the matcher's age weight;
    /// [`Replay::tick`] puts it back after a tick).
    fn adopt(&mut self, variant: Variant) {
        self.dispatch.age_weight = variant.age_weight;
    }

    /// While couriers are scarce, what this tick runs under ([`lookahead::choose`]), each
    /// choice tried on a copy of the day that holds only the orders placed so far (nothing
    /// of the future leaks in): this tick under the choice, then the rest of the day under
    /// its age weight, to the last shift's end. With no courier free the tick decides
    /// little, and nothing is tried.
    fn choose(&self, now: Minute) -> Result<Choice, ReplayError> {
        let variants = self.settings.lookahead;
        if variants.is_empty() || self.board.free_riders() == 0 || self.pressure(now) == Pressure::Calm {
            return Ok(Choice::default());
        }
        lookahead::choose(&self.known_at(now), variants, now)
    }

    /// How a trial day went: orders delivered, then the least click-to-door in total.
    fn score(&self) -> Score {
        let delivered = &self.solution.deliveries;
        let click_to_door: Minute = delivered.iter().map(|d| d.dropoff_at - self.instance.orders[d.order].placed).sum();
        (delivered.len(), Reverse(click_to_door))
    }

    /// A copy of the day as dispatch knows it at `now`: the orders placed by then, the
    /// shifts (a roster is known ahead), and the plain rules from here on.
    fn known_at(&self, now: Minute) -> Self {
        let mut known = self.clone();
        known.settings.lookahead = &[];
        let placed: Vec<bool> = self.instance.orders.iter().map(|o| o.placed <= now).collect();
        known.agenda.0.retain(|event| match event {
            Event::Placed(o) | Event::Ready(o) => placed[*o],
            _ => true,
        });
        known
    }

    /// Short-handed, a courier's last pickup of its shift (after these drop-offs it could
    /// not reach any restaurant in time for another) takes along every other placed order of
    /// that restaurant it can still pick up before its shift ends: drop-offs after the shift
    /// cost no shift time, and those orders would otherwise wait for a courier the day may
    /// not have. Whole waiting bundles join (the board forgets them), then orders not yet up
    /// for dispatch, by ready time, up to [`LAST_TRIP_MAX`](crate::dispatch::rules::LAST_TRIP_MAX)
    /// orders ([`Bundles::fill_last_trip`]). Returns the pickup time.
    fn fill_last_trip(
        &mut self,
        courier: usize,
        bundle: &mut Bundle<usize>,
        pickup_at: Minute,
        now: Minute,
        rider: RiderId,
        deadline: DateTime<Utc>,
    ) -> Result<Minute, ReplayError> {
        if !self.settings.rules.fills_last_trip(self.pressure(now)) {
            return Ok(pickup_at);
        }
        let off = self.instance.couriers[courier].off;
        let (sequence, dropoffs) = self.ride(pickup_at, &bundle.orders);
        let (Some(last), Some(done_at)) = (sequence.last(), dropoffs.last()) else { return Ok(pickup_at) };
        let from = self.instance.orders[*last].at;
        let stores = self.instance.restaurants.iter().map(|r| r.at);
        if !bundle::is_last_trip(&self.instance.parameters, from, *done_at, stores, off) {
            return Ok(pickup_at);
        }
        let day = Day { instance: self.instance, ids: &self.ids };
        let (added, forgotten, pickup_at) = self.bundles.fill_last_trip(&day, bundle, pickup_at, off);
        for lead in forgotten {
            self.forget(lead);
        }
        for order in &added {
            self.drive(*order, OrderCommand::Offer { rider, deadline }, now)?;
            self.drive(*order, OrderCommand::AcceptOffer { rider }, now)?;
        }
        bundle.orders.extend(added);
        Ok(pickup_at)
    }

    /// Carry out one offer of the board; returns the courier and bundle when the courier
    /// took it.
    fn carry_out(&mut self, offer: Offer, now: Minute) -> Result<Option<(usize, OrderId)>, ReplayError> {
        let Some(bundle) = self.bundles.take(&offer.order) else {
            self.board.withdraw(offer.order);
            return Ok(None);
        };
        let courier = self.courier_of[&offer.rider];
        let rider = offer.rider;
        let departs_at = now.max(self.roster[courier].free_at);
        let from = self.couriers[courier].place;
        let pickup_at = self.pickup_if_sent(courier, &bundle, now);
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
            self.bundles.put_back(lead, bundle);
            if resync {
                self.announce(lead, now);
            }
            return Ok(None);
        }
        for order in &bundle.orders {
            self.drive(*order, OrderCommand::AcceptOffer { rider }, now)?;
        }
        self.board.answered(offer.order, rider, true);
        let mut bundle = bundle;
        let pickup_at = self.fill_last_trip(courier, &mut bundle, pickup_at, now, rider, deadline)?;
        let places = self.instance.places_of(self.lead_of[&offer.order]);
        self.board.needs(offer.order, places, Need::Holds { rider, stage: Stage::Assigned, ready_at: None });

        let (sequence, dropoffs) = self.ride(pickup_at, &bundle.orders);
        let moves = &mut self.solution.moves;
        moves.push(Move { courier, departs_at, from, to: Place::Restaurant(bundle.store) });
        let mut place = Place::Restaurant(bundle.store);
        let mut leaves_at = pickup_at;
        for (order, dropoff_at) in sequence.iter().zip(&dropoffs) {
            moves.push(Move { courier, departs_at: leaves_at, from: place, to: Place::Dropoff(*order) });
            place = Place::Dropoff(*order);
            leaves_at = *dropoff_at;
            self.solution.deliveries.push(Delivery { order: *order, pickup_at, dropoff_at: *dropoff_at, courier });
            self.agenda.at(*dropoff_at, Event::Delivered { courier, order: *order });
        }
        self.agenda.at(pickup_at, Event::PickedUp { courier, orders: sequence.clone() });
        let done_at = dropoffs.last().copied().unwrap_or(0);
        self.pace.record(done_at - departs_at, sequence.len());
        let free_at = self.settings.rules.free_again_at(pickup_at, done_at, now);
        self.agenda.at(free_at, Event::Free { courier, lead: offer.order });
        self.solution.assignments.push(Assignment { assigned_at: now, pickup_at, courier, orders: sequence });
        self.couriers[courier].place = place;
        self.roster[courier].free_at = done_at;
        Ok(Some((courier, offer.order)))
    }
}

impl Rollout for Replay<'_> {
    type Sending = (usize, OrderId);
    type Error = ReplayError;

    /// Play the rest of a copy of the day out from this tick under `choice`; returns who
    /// the tick sent for which bundle, and how the day went.
    fn trial(&self, choice: Choice, now: Minute) -> Result<(Vec<(usize, OrderId)>, Score), ReplayError> {
        let mut trial = self.clone();
        let sent = trial.tick(choice, now)?;
        if let Some(variant) = choice.variant {
            trial.adopt(variant);
        }
        trial.run_from(now + 1)?;
        Ok((sent, trial.score()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::instance::{Courier, InstanceOrder, Parameters, Restaurant};

    fn order(id: &str, placed: Minute, ready: Minute) -> InstanceOrder {
        InstanceOrder { id: id.into(), at: PlanarPoint::new(0.0, 1000.0), placed, restaurant: 0, ready }
    }

    fn day() -> Instance {
        Instance {
            name: "day".into(),
            parameters: Parameters::for_tests(),
            restaurants: vec![Restaurant { id: "r".into(), at: PlanarPoint::new(1000.0, 0.0) }],
            orders: vec![order("now", 0, 20), order("later", 30, 50)],
            couriers: vec![Courier { id: "c".into(), at: PlanarPoint::new(0.0, 0.0), on: 0, off: 120 }],
        }
    }

    fn placements(replay: &Replay) -> Vec<usize> {
        let mut agenda = replay.agenda.clone();
        std::iter::from_fn(|| agenda.0.pop())
            .filter_map(|(_, event)| match event {
                Event::Placed(o) => Some(o),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_look_ahead_knows_only_orders_already_placed() {
        let instance = day();
        let replay = Replay::new(&instance, ReplaySettings::tuned());
        let known = replay.known_at(10);
        assert_eq!(placements(&known), vec![0]);
        assert!(known.settings.lookahead.is_empty(), "trials run under the plain rules");
        assert_eq!(placements(&replay), vec![0, 1], "the day itself keeps every order");
        assert_eq!(placements(&replay.known_at(30)), vec![0, 1]);
    }

    #[test]
    fn a_withheld_sending_waits_one_tick_only() {
        let instance = day();
        let mut replay = Replay::new(&instance, ReplaySettings::tuned());
        let now = 19;
        while let Some(event) = replay.agenda.next_due(now) {
            replay.handle(event, now).unwrap();
        }
        let lead = replay.ids[0];
        let withheld = replay.tick(Choice { variant: None, withheld: Some((0, lead)) }, now).unwrap();
        assert!(withheld.is_empty(), "the only courier is kept off the only bundle");
        assert!(replay.solution.assignments.is_empty());
        assert_eq!(replay.tick(Choice::default(), now + 1).unwrap(), vec![(0, lead)], "the next tick sends it");
    }

    #[test]
    fn holding_back_never_strands_an_order() {
        let instance = day();
        let solution = Replay::new(&instance, ReplaySettings::tuned()).run().unwrap();
        let mut delivered: Vec<usize> = solution.deliveries.iter().map(|d| d.order).collect();
        delivered.sort();
        assert_eq!(delivered, vec![0, 1]);
    }
}
