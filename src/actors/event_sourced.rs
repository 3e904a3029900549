//! The part every event-sourced actor shares: load from storage, decide under a panic
//! guard, append, then apply and snapshot.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, ActorContext, ActorFutureExt, AsyncContext, Context, ResponseActFuture, WrapFuture};

use tracing::Instrument;

use crate::domain::Aggregate;
use crate::persistence::{Journal, Snapshot};
use crate::telemetry::{names, Throttle};

use super::backoff::Backoff;
use super::{CommandError, Platform};

/// In an outage every actor's write fails: one warning every few seconds says so.
static APPEND_FAILED: Throttle = Throttle::every(Duration::from_secs(5));
static LOAD_FAILED: Throttle = Throttle::every(Duration::from_secs(5));

type EventOf<S> = <S as Aggregate>::Event;

/// One aggregate's stream as its actor holds it.
pub struct Stream<S: Aggregate> {
    pub id: S::Id,
    pub platform: Arc<Platform>,
    pub state: Option<S>,
    pub journal: Journal<S>,
    /// Whether the last load succeeded; commands are refused as "unavailable" until it has.
    pub loaded: bool,
    /// The first write of this stream may have committed (its fate is unknown): the actor
    /// reloads, and if the stream turns out empty it was never written and can be forgotten.
    pub first_write_in_doubt: bool,
    /// Delays between loads that fail (the database is down).
    load_backoff: Backoff,
}

impl<S: Aggregate> Stream<S> {
    pub fn new(id: S::Id, platform: Arc<Platform>) -> Self {
        Stream {
            id,
            platform,
            state: None,
            journal: Journal::new(id),
            loaded: false,
            first_write_in_doubt: false,
            load_backoff: Backoff::default(),
        }
    }

    /// Forget the in-memory state before a supervised restart reloads it.
    pub fn reset(&mut self) {
        tracing::warn!(kind = S::KIND, id = %self.id, "actor restarting from storage");
        self.platform.record_restart();
        self.state = None;
        self.loaded = false;
    }

    pub fn ensure_loaded(&self) -> Result<(), CommandError> {
        if self.loaded {
            Ok(())
        } else {
            Err(CommandError::Unavailable(format!("{} {} is loading", S::KIND, self.id)))
        }
    }
}

/// An actor that owns one aggregate's stream.
pub trait EventSourced: Actor<Context = Context<Self>> + Sized + Unpin {
    type State: Aggregate;

    fn stream(&self) -> &Stream<Self::State>;
    fn stream_mut(&mut self) -> &mut Stream<Self::State>;
    /// Bring the world in line with the loaded state: timers, side effects, notifications.
    fn resumed(&mut self, ctx: &mut Context<Self>);
    /// React to newly committed events: notify others, start timers and side effects.
    fn committed(&mut self, events: &[EventOf<Self::State>], ctx: &mut Context<Self>);
    /// A command was refused, or could not be written and certainly was not (`error` says
    /// which). A write whose fate is unknown never lands here: the actor reloads instead.
    fn failed(&mut self, error: &CommandError, ctx: &mut Context<Self>);
}

/// Run `f` and turn a panic into an error, so one faulty actor cannot take down the
/// arbiter thread the others share. The caller stops the actor, and its supervisor
/// restarts it from storage.
pub fn guarded<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, CommandError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| {
        let detail = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        tracing::error!(what, detail, "actor fault contained; restarting from storage");
        CommandError::Internal(format!("{what} failed and was restarted"))
    })
}

/// Decide a command with the pure domain code (under the panic guard) and commit what it
/// decided. Resolves, once durable, to the number of events written (0: nothing to do).
pub fn execute<A, E>(
    act: &mut A,
    ctx: &mut Context<A>,
    decide: impl FnOnce(Option<&A::State>) -> Result<Vec<EventOf<A::State>>, E>,
) -> ResponseActFuture<A, Result<usize, CommandError>>
where
    A: EventSourced,
    E: Into<CommandError>,
{
    let ready = |result| -> ResponseActFuture<A, Result<usize, CommandError>> { Box::pin(actix::fut::ready(result)) };
    if let Err(unavailable) = act.stream().ensure_loaded() {
        return ready(Err(unavailable));
    }
    let what = <A::State as Aggregate>::KIND;
    let events = match guarded(what, || decide(act.stream().state.as_ref())) {
        Err(fault) => {
            ctx.stop();
            return ready(Err(fault));
        }
        Ok(Err(refused)) => {
            let refused = refused.into();
            act.failed(&refused, ctx);
            return ready(Err(refused));
        }
        Ok(Ok(events)) => events,
    };
    Box::pin(commit(act, events).map(|result, act, ctx| {
        match &result {
            // The store disagrees with our version, or the write's fate is unknown (an
            // error at commit, the connection lost mid-write): reload from storage rather
            // than go on from a guess. Also for a stream's first write: it may have landed,
            // and an entity that may exist is never forgotten on a guess.
            Err(CommandError::Conflict(_) | CommandError::Internal(_) | CommandError::InDoubt(_)) => {
                let stream = act.stream_mut();
                stream.first_write_in_doubt = stream.state.is_none();
                ctx.stop()
            }
            Err(error) => act.failed(error, ctx),
            Ok(_) => {}
        }
        result
    }))
}

/// Append `events` and, once durable, apply them and call [`EventSourced::committed`]. The
/// future resolves only after the append, so a reply sent after it acknowledges a durable
/// change.
fn commit<A: EventSourced>(
    act: &mut A,
    events: Vec<EventOf<A::State>>,
) -> ResponseActFuture<A, Result<usize, CommandError>> {
    if events.is_empty() {
        return Box::pin(actix::fut::ready(Ok(0)));
    }
    let stream = act.stream();
    let (next, append) = match stream.journal.prepare(stream.state.as_ref(), &events) {
        Ok(prepared) => prepared,
        Err(error) => return Box::pin(actix::fut::ready(Err(error.into()))),
    };
    let store = stream.platform.storage.events.clone();
    let started = std::time::Instant::now();
    // The append runs in the caller's span (the request that caused it).
    let write = append.write(store).instrument(tracing::Span::current());
    Box::pin(write.into_actor(act).map(move |written, act, ctx| {
        let version = written.map_err(|error| {
            if let Some(suppressed) = APPEND_FAILED.allow() {
                tracing::warn!(%error, suppressed, "append failed; nothing applied");
            }
            CommandError::from(error)
        })?;
        let elapsed = started.elapsed();
        metrics::histogram!(names::APPEND_SECONDS).record(elapsed.as_secs_f64());
        metrics::histogram!(names::APPEND_BATCH).record(events.len() as f64);
        tracing::debug!(version, elapsed_us = elapsed.as_micros() as u64, "appended");
        let stream = act.stream_mut();
        stream.journal.committed(version);
        stream.state = next;
        let every = stream.platform.settings.orders.snapshot_every;
        snapshot(act, every);
        if let Err(error) = guarded("reacting to events", || act.committed(&events, ctx)) {
            ctx.stop();
            return Err(error);
        }
        Ok(events.len())
    }))
}

/// Write a snapshot if `every` events passed since the last one; fire and forget, since a
/// missing snapshot only costs a longer replay. It runs as a task of its own, not in the
/// actor's context: a context busy waiting for its next append does not poll what it
/// spawned, and a snapshot stalled holding a pooled connection would starve that append.
fn snapshot<A: EventSourced>(act: &mut A, every: i64) {
    let stream = act.stream_mut();
    if let Some(snapshot) = stream.journal.snapshot_due(stream.state.as_ref(), every) {
        let store = stream.platform.storage.events.clone();
        actix::spawn(async move {
            if let Err(error) = store.save_snapshot(&snapshot).await {
                tracing::warn!(%error, stream = %snapshot.stream_id, "snapshot not written");
            }
        });
    }
}

/// The snapshot for shutdown, if the state moved since the last one; the caller writes it.
pub fn final_snapshot<A: EventSourced>(act: &mut A) -> Option<Snapshot> {
    let stream = act.stream_mut();
    let state = stream.state.clone();
    stream.journal.snapshot_due(state.as_ref(), 1)
}

/// Load the actor's state from storage, holding its mailbox until done. On failure (the
/// database is down) the actor answers "unavailable" and tries again after a growing delay.
pub fn load<A: EventSourced>(act: &mut A, ctx: &mut Context<A>) {
    let store = act.stream().platform.storage.events.clone();
    let id = act.stream().id;
    ctx.wait(async move { Journal::<A::State>::load(store.as_ref(), id).await }.into_actor(act).map(
        move |result, act, ctx| match result {
            Ok(loaded) => {
                let stream = act.stream_mut();
                stream.journal = loaded.journal;
                stream.state = loaded.state;
                stream.loaded = true;
                stream.load_backoff.succeeded();
                // A first write in doubt that did not land: there is nothing to keep.
                let never_written = stream.first_write_in_doubt && stream.state.is_none();
                stream.first_write_in_doubt = false;
                if never_written {
                    act.failed(&CommandError::Unavailable("its first write did not land".into()), ctx);
                    return;
                }
                if guarded("resuming", || act.resumed(ctx)).is_err() {
                    ctx.stop();
                }
            }
            Err(error) => {
                if let Some(suppressed) = LOAD_FAILED.allow() {
                    tracing::warn!(%error, kind = <A::State as Aggregate>::KIND, %id, suppressed, "load failed; retrying");
                }
                let stream = act.stream_mut();
                stream.loaded = false;
                let delay = stream.load_backoff.failed();
                ctx.run_later(delay, |act, ctx| load(act, ctx));
            }
        },
    ));
}

/// Panic inside the guard, as a fault in the actor's own code would.
pub fn inject_fault<A: EventSourced>(act: &mut A, ctx: &mut Context<A>) {
    let id = act.stream().id;
    if guarded("injected fault", || panic!("fault injected into {} {id}", <A::State as Aggregate>::KIND)).is_err() {
        ctx.stop();
    }
}

/// The handlers every event-sourced actor answers the same way.
macro_rules! stream_handlers {
    ($actor:ty) => {
        impl actix::Handler<$crate::actors::Flush> for $actor {
            type Result = actix::MessageResult<$crate::actors::Flush>;

            fn handle(&mut self, _: $crate::actors::Flush, _: &mut actix::Context<Self>) -> Self::Result {
                actix::MessageResult($crate::actors::event_sourced::final_snapshot(self))
            }
        }

        impl actix::Handler<$crate::actors::InjectFault> for $actor {
            type Result = ();

            fn handle(&mut self, _: $crate::actors::InjectFault, ctx: &mut actix::Context<Self>) {
                $crate::actors::event_sourced::inject_fault(self, ctx)
            }
        }

        impl actix::Actor for $actor {
            type Context = actix::Context<Self>;

            fn started(&mut self, ctx: &mut actix::Context<Self>) {
                $crate::actors::event_sourced::load(self, ctx);
            }
        }
    };
}
pub(crate) use stream_handlers;
