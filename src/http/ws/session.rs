//! One actor per websocket connection. Its mailbox receives the hub's pushes and the
//! client's frames; a writer task owns the socket. Between them sits a bounded queue: a
//! client that cannot keep up fills it and is closed (code 1008), so a slow socket never
//! slows an actor or another client. A session ends with its token: at its expiry (4001)
//! or when it is revoked (4003).

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_ws::{CloseCode, CloseReason, Message as WsMessage, MessageStream, Session};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::actors::hub::{Push, Topic};
use crate::actors::{GetBoard, GetOrderVersioned, GetRider, Platform, RiderView};
use crate::auth::{Credentials, Revocations, Role, Watch};
use crate::config::WsSettings;
use crate::domain::order::{Courier, Order, OrderStatus, Phase};
use crate::domain::{CustomerId, OrderId, RiderId, StoreId};
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::orders_access;
use crate::http::views::OrderView;

use super::caps::Seat;
use super::close_codes::{self, TOKEN_EXPIRED, TOKEN_REVOKED};
use super::commands;
use super::protocol::{Envelope, ServerMessage, VersionedOrder};
use super::versions::SentVersions;

/// A text frame from the client.
#[derive(Message)]
#[rtype(result = "()")]
struct Frame(String);

/// The client answered a ping (or pinged us).
#[derive(Message)]
#[rtype(result = "()")]
struct Heard;

/// A binary or continuation frame: the protocol is JSON text.
#[derive(Message)]
#[rtype(result = "()")]
struct Unsupported;

/// The session's token was revoked.
#[derive(Message)]
#[rtype(result = "()")]
struct Revoked;

/// What a socket opened with: the verified token, its place under the socket caps, and the
/// deny-list that can end it.
pub struct Opened {
    pub credentials: Credentials,
    pub seat: Seat,
    pub revocations: Arc<Revocations>,
    /// The orders a reconnecting app holds, with their versions.
    pub held: Vec<(OrderId, i64)>,
}

/// The client went away, or broke the protocol.
#[derive(Message)]
#[rtype(result = "()")]
struct Gone(Option<CloseReason>);

pub struct WsSession {
    id: Uuid,
    /// The verified token: who the session is (`identity`), when it ends and its id.
    credentials: Credentials,
    revocations: Arc<Revocations>,
    watch: Option<Watch>,
    /// Held while the socket is open; dropped with the session, freeing its place.
    _seat: Seat,
    platform: Arc<Platform>,
    settings: WsSettings,
    out: mpsc::Sender<String>,
    socket: Session,
    seq: u64,
    last_heard: Instant,
    /// The last version of each order sent: older or equal pushes are duplicates.
    versions: SentVersions,
    /// Orders the app held when it (re)connected: the snapshot covers them too, so one that
    /// changed or finished while the app was away is reported.
    held: Vec<OrderId>,
    subscription: Option<(Topic, u64)>,
    closed: bool,
    /// Commands received and not yet run, oldest first (bounded by `ws.commands_queued`).
    pending: std::collections::VecDeque<commands::Command>,
    /// Whether a command is running now.
    running: bool,
}

impl WsSession {
    /// Start the session actor, its socket writer and its frame reader.
    pub fn start(
        opened: Opened,
        platform: Arc<Platform>,
        settings: WsSettings,
        socket: Session,
        stream: MessageStream,
    ) -> Addr<WsSession> {
        let (out, mut rx) = mpsc::channel::<String>(settings.outbound_queue.max(1));
        let mut writer = socket.clone();
        actix::spawn(async move {
            while let Some(text) = rx.recv().await {
                if writer.text(text).await.is_err() {
                    break;
                }
            }
        });
        let max_frame = settings.max_frame_bytes;
        // What the app holds counts as sent: the snapshot carries only what is newer.
        let mut versions = SentVersions::default();
        for (order, version) in &opened.held {
            versions.admit(*order, *version, true);
        }
        let held = opened.held.iter().map(|(order, _)| *order).collect();
        let session = WsSession {
            id: Uuid::new_v4(),
            credentials: opened.credentials,
            revocations: opened.revocations,
            watch: None,
            _seat: opened.seat,
            platform,
            settings,
            out,
            socket: socket.clone(),
            seq: 0,
            last_heard: Instant::now(),
            versions,
            held,
            subscription: None,
            closed: false,
            pending: std::collections::VecDeque::new(),
            running: false,
        };
        let addr = session.start();
        let reader = addr.clone();
        let mut ponger = socket;
        actix::spawn(async move {
            let mut stream = stream.max_frame_size(max_frame);
            while let Some(item) = stream.recv().await {
                match item {
                    // Awaiting the actor here is the backpressure on a chatty client.
                    Ok(WsMessage::Text(text)) => {
                        if reader.send(Frame(text.to_string())).await.is_err() {
                            return;
                        }
                    }
                    Ok(WsMessage::Binary(_) | WsMessage::Continuation(_)) => {
                        reader.do_send(Unsupported);
                    }
                    Ok(WsMessage::Ping(bytes)) => {
                        let _ = ponger.pong(&bytes).await;
                        reader.do_send(Heard);
                    }
                    Ok(WsMessage::Pong(_)) => reader.do_send(Heard),
                    Ok(WsMessage::Close(reason)) => {
                        reader.do_send(Gone(reason));
                        return;
                    }
                    Ok(WsMessage::Nop) => {}
                    Err(error) => {
                        let code = match error {
                            actix_ws::ProtocolError::Overflow => CloseCode::Size,
                            _ => CloseCode::Protocol,
                        };
                        reader.do_send(Gone(Some(CloseReason { code, description: Some(error.to_string()) })));
                        return;
                    }
                }
            }
            reader.do_send(Gone(None));
        });
        addr
    }

    fn send(&mut self, message: &ServerMessage, ctx: &mut Context<Self>) {
        if self.closed {
            return;
        }
        self.seq += 1;
        let text = match serde_json::to_string(&Envelope { seq: self.seq, message }) {
            Ok(text) => text,
            Err(error) => {
                tracing::error!(%error, "cannot serialise a websocket message");
                return;
            }
        };
        match self.out.try_send(text) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(session = %self.id, "slow consumer: closing");
                self.close(CloseCode::Policy, "slow consumer: outbound queue full", ctx);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => self.close(CloseCode::Away, "socket closed", ctx),
        }
    }

    fn close(&mut self, code: CloseCode, why: &str, ctx: &mut Context<Self>) {
        if self.closed {
            return;
        }
        self.closed = true;
        let socket = self.socket.clone();
        let reason = CloseReason { code, description: Some(why.to_owned()) };
        actix::spawn(async move {
            let _ = socket.close(Some(reason)).await;
        });
        ctx.stop();
    }

    fn error(&mut self, request_id: Option<String>, error: ApiError, ctx: &mut Context<Self>) {
        let body = error.body;
        let message =
            ServerMessage::Error { request_id, code: body.code.to_owned(), message: body.message, field: body.field };
        self.send(&message, ctx);
    }

    fn topic(&self) -> Topic {
        match self.credentials.identity.role {
            Role::Customer => Topic::Customer(CustomerId::from_uuid(self.credentials.identity.subject)),
            Role::Store => Topic::Store(StoreId::from_uuid(self.credentials.identity.subject)),
            Role::Rider | Role::Operator => Topic::Rider(RiderId::from_uuid(self.credentials.identity.subject)),
        }
    }

    /// The orders (and rider) this connection starts from: the subject's live orders (the
    /// store's board, every order of the rider's trip), and the orders the app said it holds that
    /// are its to see, finished or not. A store sees no order before it is paid for, as on
    /// the live stream.
    fn snapshot(&self) -> impl std::future::Future<Output = (Vec<(Order, i64)>, Option<RiderView>)> + 'static {
        let platform = self.platform.clone();
        let identity = self.credentials.identity;
        let held = self.held.clone();
        async move {
            let mut rider = None;
            let ids: Vec<OrderId> = match identity.role {
                Role::Customer => platform.hub.orders_of(CustomerId::from_uuid(identity.subject)),
                Role::Store => match platform.store(StoreId::from_uuid(identity.subject)) {
                    Some(store) => store.send(GetBoard).await.unwrap_or_default().iter().map(|e| e.order_id).collect(),
                    None => Vec::new(),
                },
                Role::Rider | Role::Operator => {
                    let view = match platform.rider(RiderId::from_uuid(identity.subject)) {
                        Some(addr) => addr.send(GetRider).await.ok().and_then(Result::ok).flatten(),
                        None => None,
                    };
                    // Every order of its trip (the route names them), offered ones included.
                    let mut jobs: Vec<OrderId> = view.as_ref().and_then(|v| v.duty.order()).into_iter().collect();
                    for stop in view.iter().flat_map(|v| &v.trip) {
                        if !jobs.contains(&stop.order_id) {
                            jobs.push(stop.order_id);
                        }
                    }
                    rider = view;
                    jobs
                }
            };
            let mut orders = Vec::with_capacity(ids.len() + held.len());
            for id in &ids {
                if let Some(addr) = platform.order(*id) {
                    if let Ok(Ok(Some(versioned))) = addr.send(GetOrderVersioned).await {
                        orders.push(versioned);
                    }
                }
            }
            for id in held.iter().filter(|id| !ids.contains(id)) {
                if let Ok(Some((order, version))) = orders_access::load_versioned(&platform, *id).await {
                    if Caller(identity).can_see(&order) {
                        orders.push((order, version));
                    }
                }
            }
            if identity.role == Role::Store {
                orders.retain(|(order, _)| order.status() != OrderStatus::AwaitingPayment);
            }
            orders.sort_by_key(|(order, _)| order.placed_at);
            (orders, rider)
        }
    }

    fn versioned(&mut self, order: &Order, version: i64) -> Option<VersionedOrder> {
        let in_view = self.follows(order);
        self.versions
            .admit(order.id, version, in_view)
            .then(|| VersionedOrder { version, order: OrderView::from(order) })
    }

    /// Whether this session will hear more of `order`: not once it is finished, nor, on a
    /// rider's topic, once another rider (or none) has it, since only the rider holding an
    /// order and the one it just let go are told of it.
    fn follows(&self, order: &Order) -> bool {
        let mine = match self.credentials.identity.role {
            Role::Rider | Role::Operator => {
                order.rider() == Some(RiderId::from_uuid(self.credentials.identity.subject))
            }
            Role::Customer | Role::Store => true,
        };
        mine && !order.status().is_terminal()
    }

    fn on_order(&mut self, order: &Order, version: i64, events: &[&'static str], ctx: &mut Context<Self>) {
        // The store sees an order once it is paid for and needs its answer.
        if self.credentials.identity.role == Role::Store && order.status() == OrderStatus::AwaitingPayment {
            return;
        }
        let Some(versioned) = self.versioned(order, version) else { return };
        let me = RiderId::from_uuid(self.credentials.identity.subject);
        let message = match &order.phase {
            Phase::Active { courier: Courier::Offered { rider, deadline }, .. }
                if self.credentials.identity.role == Role::Rider
                    && *rider == me
                    && events.contains(&"rider_offered") =>
            {
                ServerMessage::Offer { deadline: *deadline, order: versioned }
            }
            _ => ServerMessage::Order { events: events.to_vec(), order: versioned },
        };
        self.send(&message, ctx);
    }
}

impl Actor for WsSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.platform.hub.session_opened();
        // The socket lives no longer than its token.
        let left = (self.credentials.expires_at - chrono::Utc::now().timestamp()).max(0) as u64;
        ctx.run_later(Duration::from_secs(left), |act, ctx| {
            act.close(close_codes::code(TOKEN_EXPIRED), "token expired: refresh it and reconnect", ctx);
        });
        if let Some(jti) = self.credentials.jti {
            let addr = ctx.address();
            self.watch = Some(self.revocations.watch(jti, move || addr.do_send(Revoked)));
        }
        // Subscribe first, then take the snapshot while the mailbox is held: pushes that
        // arrive meanwhile wait in the mailbox and are filtered by version after it.
        let topic = self.topic();
        let id = self.platform.hub.subscribe(topic, ctx.address().recipient());
        self.subscription = Some((topic, id));
        let welcome = ServerMessage::Welcome {
            session: self.id,
            role: self.credentials.identity.role.as_str(),
            subject: self.credentials.identity.subject,
        };
        self.send(&welcome, ctx);
        ctx.wait(self.snapshot().into_actor(self).map(|(orders, rider), act, ctx| {
            let orders = orders.iter().filter_map(|(order, version)| act.versioned(order, *version)).collect();
            act.send(&ServerMessage::Snapshot { orders, rider }, ctx);
        }));
        let heartbeat = Duration::from_secs(self.settings.heartbeat_secs.max(1));
        let timeout = Duration::from_secs(self.settings.client_timeout_secs.max(2));
        ctx.run_interval(heartbeat, move |act, ctx| {
            if act.last_heard.elapsed() > timeout {
                act.close(CloseCode::Away, "heartbeat timeout", ctx);
                return;
            }
            let mut socket = act.socket.clone();
            actix::spawn(async move {
                let _ = socket.ping(b"").await;
            });
        });
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        if let Some(watch) = self.watch.take() {
            self.revocations.unwatch(watch);
        }
        if let Some((topic, id)) = self.subscription.take() {
            self.platform.hub.unsubscribe(topic, id);
        }
        self.platform.hub.session_closed();
    }
}

impl Handler<Push> for WsSession {
    type Result = ();

    fn handle(&mut self, push: Push, ctx: &mut Context<Self>) {
        match push {
            Push::Order { order, version, events } => self.on_order(&order, version, &events, ctx),
            Push::RiderPosition { order, rider, position, at } => {
                if self.credentials.identity.role == Role::Customer {
                    self.send(&ServerMessage::RiderPosition { order_id: order, rider_id: rider, position, at }, ctx);
                }
            }
            Push::Rider(rider) => self.send(&ServerMessage::Rider { rider: (*rider).clone() }, ctx),
        }
    }
}

impl Handler<Revoked> for WsSession {
    type Result = ();

    fn handle(&mut self, _: Revoked, ctx: &mut Context<Self>) {
        self.close(close_codes::code(TOKEN_REVOKED), "token revoked: sign in again", ctx);
    }
}

impl Handler<Unsupported> for WsSession {
    type Result = ();

    fn handle(&mut self, _: Unsupported, ctx: &mut Context<Self>) {
        let error = ApiError::bad_request("unsupported_frame", "only text frames carrying JSON are accepted");
        self.error(None, error, ctx);
    }
}

impl Handler<Heard> for WsSession {
    type Result = ();

    fn handle(&mut self, _: Heard, _: &mut Context<Self>) {
        self.last_heard = Instant::now();
    }
}

impl Handler<Gone> for WsSession {
    type Result = ();

    fn handle(&mut self, Gone(reason): Gone, ctx: &mut Context<Self>) {
        match reason {
            Some(reason) if reason.code != CloseCode::Normal && reason.code != CloseCode::Away => {
                let why = reason.description.unwrap_or_default();
                self.close(reason.code, &why, ctx);
            }
            _ => {
                self.closed = true;
                ctx.stop();
            }
        }
    }
}

impl Handler<Frame> for WsSession {
    type Result = ();

    fn handle(&mut self, Frame(text): Frame, ctx: &mut Context<Self>) {
        self.last_heard = Instant::now();
        let command = match commands::parse(self.credentials.identity.role, &text) {
            Ok(command) => command,
            Err(error) => {
                self.error(commands::request_id(&text), error, ctx);
                return;
            }
        };
        if self.pending.len() >= self.settings.commands_queued.max(1) {
            // Far more than any app sends before hearing back: refused, not queued without end.
            let error = ApiError::new(
                actix_web::http::StatusCode::TOO_MANY_REQUESTS,
                "too_many_commands",
                format!("at most {} commands wait on one socket; wait for the answers", self.settings.commands_queued),
            );
            self.error(command.request_id(), error, ctx);
            return;
        }
        self.pending.push_back(command);
        self.next_command(ctx);
    }
}

impl WsSession {
    /// Run the oldest waiting command, unless one is running: a socket's commands run one
    /// at a time, in the order sent (a ping and the delivery after it land in that order),
    /// while pushes keep flowing to the client.
    fn next_command(&mut self, ctx: &mut Context<Self>) {
        if self.running || self.closed {
            return;
        }
        let Some(command) = self.pending.pop_front() else { return };
        self.running = true;
        let request_id = command.request_id();
        let run = commands::run(command, self.credentials.identity, self.platform.clone());
        ctx.spawn(run.into_actor(self).map(move |result, act, ctx| {
            act.running = false;
            match result {
                Ok(Some(result)) => act.send(&ServerMessage::Ack { request_id, result }, ctx),
                Ok(None) => {}
                Err(error) => act.error(request_id, error, ctx),
            }
            act.next_command(ctx);
        }));
    }
}
