//! The part every event-sourced actor shares: decide under a panic guard, append, then
//! apply and snapshot.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, ActorContext, ActorFutureExt, AsyncContext, Context, ResponseActFuture, WrapFuture};

use crate::domain::Aggregate;
use crate::persistence::Journal;

use super::{CommandError, Platform};

/// An actor that owns one aggregate's stream.
pub trait EventSourced: Actor<Context = Context<Self>> + Sized + Unpin {
    type State: Aggregate;

    fn id(&self) -> <Self::State as Aggregate>::Id;
    fn platform(&self) -> &Arc<Platform>;
    fn state(&self) -> Option<&Self::State>;
    fn journal(&mut self) -> &mut Journal<Self::State>;
    fn set_state(&mut self, state: Option<Self::State>);
    fn set_journal(&mut self, journal: Journal<Self::State>);
    /// Whether the last load succeeded; commands wait for it.
    fn set_loaded(&mut self, loaded: bool);
    /// Bring the world in line with the loaded state: timers, side effects, notifications.
    fn resumed(&mut self, ctx: &mut Context<Self>);
    /// React to newly committed events: notify others, start timers and side effects.
    fn committed(&mut self, events: &[<Self::State as Aggregate>::Event], ctx: &mut Context<Self>);
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

/// Append `events` and, once durable, apply them and call [`EventSourced::committed`]. The
/// future resolves only after the append, so a reply sent after it acknowledges a durable
/// change.
pub fn commit<A: EventSourced>(
    act: &mut A,
    events: Vec<<A::State as Aggregate>::Event>,
) -> ResponseActFuture<A, Result<(), CommandError>> {
    if events.is_empty() {
        return Box::pin(actix::fut::ready(Ok(())));
    }
    let state = act.state().cloned();
    let prepared = act.journal().prepare(state.as_ref(), &events);
    let (next, append) = match prepared {
        Ok(prepared) => prepared,
        Err(error) => return Box::pin(actix::fut::ready(Err(error.into()))),
    };
    let store = act.platform().storage.events.clone();
    let started = std::time::Instant::now();
    Box::pin(append.write(store).into_actor(act).map(move |written, act, ctx| {
        let version = written.map_err(|error| {
            tracing::warn!(%error, "append failed; nothing applied");
            CommandError::from(error)
        })?;
        tracing::debug!(version, elapsed_us = started.elapsed().as_micros() as u64, "appended");
        act.journal().committed(version);
        act.set_state(next);
        let every = act.platform().settings.orders.snapshot_every;
        snapshot_if_due(act, every, ctx);
        if let Err(error) = guarded("reacting to events", || act.committed(&events, ctx)) {
            ctx.stop();
            return Err(error);
        }
        Ok(())
    }))
}

/// Write a snapshot if `every` events passed since the last one; fire and forget, since a
/// missing snapshot only costs a longer replay.
pub fn snapshot_if_due<A: EventSourced>(act: &mut A, every: i64, ctx: &mut Context<A>) {
    let state = act.state().cloned();
    if let Some(snapshot) = act.journal().snapshot_due(state.as_ref(), every) {
        let store = act.platform().storage.events.clone();
        ctx.spawn(
            async move {
                if let Err(error) = store.save_snapshot(&snapshot).await {
                    tracing::warn!(%error, stream = %snapshot.stream_id, "snapshot not written");
                }
            }
            .into_actor(act),
        );
    }
}

/// The snapshot write for shutdown, awaited by the caller.
pub fn flush<A: EventSourced>(act: &mut A) -> ResponseActFuture<A, ()> {
    let state = act.state().cloned();
    let snapshot = act.journal().snapshot_due(state.as_ref(), 1);
    let store = act.platform().storage.events.clone();
    Box::pin(
        async move {
            if let Some(snapshot) = snapshot {
                if let Err(error) = store.save_snapshot(&snapshot).await {
                    tracing::warn!(%error, stream = %snapshot.stream_id, "shutdown snapshot not written");
                }
            }
        }
        .into_actor(act),
    )
}

/// Load the actor's state from storage, holding its mailbox until done. On failure (the
/// database is down) the actor answers "unavailable" and tries again a second later.
pub fn load<A: EventSourced>(act: &mut A, ctx: &mut Context<A>) {
    let store = act.platform().storage.events.clone();
    let id = act.id();
    ctx.wait(async move { Journal::<A::State>::load(store.as_ref(), id).await }.into_actor(act).map(
        move |result, act, ctx| match result {
            Ok(loaded) => {
                act.set_journal(loaded.journal);
                act.set_state(loaded.state);
                act.set_loaded(true);
                if guarded("resuming", || act.resumed(ctx)).is_err() {
                    ctx.stop();
                }
            }
            Err(error) => {
                tracing::warn!(%error, kind = <A::State as Aggregate>::KIND, %id, "load failed; retrying");
                act.set_loaded(false);
                ctx.run_later(Duration::from_secs(1), |act, ctx| load(act, ctx));
            }
        },
    ));
}
