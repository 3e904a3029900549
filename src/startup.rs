//! Building the application: storage, actors, recovery, demo data and the HTTP server, so
//! that `main` and the tests start the very same thing.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix::Actor as _;
use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use anyhow::Context as _;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::actors::city_board::CityBoard;
use crate::actors::{self, Platform, Recovered};
use crate::auth::{Accounts, Authenticator, Hashing, JwtAuthenticator, Revocations};
use crate::config::Settings;
use crate::http::limits::Limits;
use crate::http::ws::SocketCaps;
use crate::payment::{CircuitBreaker, SandboxGateway};
use crate::persistence::{EventStore, Storage};
use crate::{http, memory, sim, telemetry};

pub struct Application {
    server: Server,
    port: u16,
    platform: Arc<Platform>,
    pub recovered: Recovered,
}

impl Application {
    /// Connect storage, recover live state, seed the demo city if asked, and bind the
    /// listener (port 0 picks a free one). Must run inside an actix system.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        Application::build_with(settings, |events| events).await
    }

    /// [`Application::build`] with the event store passed through `wrap` first: the tests
    /// put a fault-injecting store around the real one this way.
    pub async fn build_with(
        settings: Settings,
        wrap: impl FnOnce(Arc<dyn EventStore>) -> Arc<dyn EventStore>,
    ) -> anyhow::Result<Application> {
        let settings = Arc::new(settings);
        for warning in settings.auth.check(settings.demo.enabled).context("refusing to start")? {
            tracing::warn!("{warning}: tolerated for the demo city only");
        }
        memory::return_large_blocks();
        telemetry::metrics();
        prepare_sqlite_dir(&settings.database.url)?;
        let storage = Storage::connect(&settings.database.url, settings.database.max_connections)
            .await
            .with_context(|| format!("connecting to the {} database", backend_name(&settings.database.url)))?
            .with_batched_snapshots()
            .with_group_commit(&settings.database.group_commit);
        let storage = Storage { events: wrap(storage.events), ..storage };
        let gateway = Arc::new(CircuitBreaker::new(
            SandboxGateway::new(settings.payment.clone()),
            settings.payment.breaker.clone(),
        ));
        let platform = Platform::new(settings.clone(), storage, gateway.clone(), actix::Arbiter::current());
        let sandbox = web::Data::new(gateway);
        let limits = web::Data::new(Limits::new(&settings.limits));
        let revocations = Arc::new(Revocations::default());
        let (pruned, denied) = (limits.clone(), revocations.clone());
        actix::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                pruned.prune();
                denied.prune(chrono::Utc::now().timestamp());
            }
        });

        let ttl = settings.auth.token_ttl_secs;
        let jwt = Arc::new(
            JwtAuthenticator::new(&settings.auth.keys())
                .context("configuring token keys")?
                .verifying(ttl, revocations.clone()),
        );
        let hashing = Hashing::new(
            settings.auth.hash_concurrency,
            settings.auth.hash_queue,
            Duration::from_millis(settings.auth.hash_wait_ms),
        );
        let accounts = web::Data::new(Accounts::new(
            platform.storage.accounts.clone(),
            jwt.clone(),
            revocations.clone(),
            hashing,
            ttl,
        ));
        accounts.load_revocations().await.context("loading revoked tokens")?;
        let caps = web::Data::new(SocketCaps::new(&settings.ws));
        let revocations = web::Data::new(revocations);

        let recovered = actors::recover(&platform).await.context("recovering live state")?;
        if settings.demo.enabled {
            sim::demo::seed(&platform, &settings.demo).await.context("seeding the demo city")?;
            sim::demo::seed_accounts(&accounts).await.context("seeding the demo accounts")?;
        }
        actors::spawn_position_writer(platform.clone());
        actors::spawn_decision_pruner(platform.clone());
        let board = web::Data::new(CityBoard::new(platform.clone()).start());

        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))
            .with_context(|| format!("binding {}:{}", settings.server.host, settings.server.port))?;
        let port = listener.local_addr()?.port();
        let authenticator: Arc<dyn Authenticator> = jwt;
        let auth = web::Data::new(authenticator);
        let data = web::Data::new(platform.clone());
        let body_timeout = Duration::from_secs(settings.server.request_timeout_secs.max(1));
        let server = HttpServer::new(move || {
            let (app, api) = App::new()
                .wrap(actix_web::middleware::from_fn(http::headers::add))
                .wrap(actix_web::middleware::from_fn(telemetry::observe_http))
                .wrap(tracing_actix_web::TracingLogger::<telemetry::RequestSpans>::new())
                .app_data(data.clone())
                .app_data(auth.clone())
                .app_data(accounts.clone())
                .app_data(sandbox.clone())
                .app_data(limits.clone())
                .app_data(board.clone())
                .app_data(caps.clone())
                .app_data(revocations.clone())
                .app_data(web::Data::new(http::extract::BodyTimeout(body_timeout)))
                .into_utoipa_app()
                .openapi(http::openapi::ApiDoc::openapi())
                .configure(http::configure)
                .split_for_parts();
            // A wrong method on a documented path is a 405, not a 404.
            app.app_data(web::Data::new(http::methods::Routes::of(&api)))
                // The document and an interactive page for it, served by the binary itself.
                .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", api))
                // The dashboard, store tablet and tracking pages.
                .configure(http::pages::configure)
                .default_service(web::to(http::methods::unrouted))
        })
        // Live updates are small frames: send them at once, not after a delayed ACK.
        .on_connect(|connection, _| {
            if let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
                let _ = tcp.set_nodelay(true);
            }
        })
        .listen(listener)?
        // A client gets this long for its headers; the body has its own timeout (see
        // `extract::BodyTimeout`), so a request that stalls part-way is let go either way.
        .client_request_timeout(body_timeout)
        .client_disconnect_timeout(Duration::from_secs(1))
        .workers(settings.server.workers.max(1))
        .shutdown_timeout(settings.server.shutdown_timeout_secs)
        .run();
        // Last, once nothing can fail any more: the city comes alive with the server.
        if settings.demo.enabled && settings.simulator.enabled {
            sim::city::start(platform.clone(), &settings.demo, &settings.simulator);
        }
        Ok(Application { server, port, platform, recovered })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn platform(&self) -> &Arc<Platform> {
        &self.platform
    }

    /// Serve until SIGTERM or SIGINT, let in-flight requests finish, then snapshot every
    /// live actor and write pending rider positions.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.server.await?;
        tracing::info!("server stopped; flushing state");
        if tokio::time::timeout(Duration::from_secs(10), actors::shutdown(&self.platform)).await.is_err() {
            tracing::warn!("state flush did not finish within 10 s");
        }
        Ok(())
    }
}

fn backend_name(url: &str) -> &'static str {
    if url.starts_with("sqlite:") {
        "SQLite"
    } else {
        "PostgreSQL"
    }
}

/// SQLite creates the file but not its folder: make `./data` (or whatever the URL names).
fn prepare_sqlite_dir(url: &str) -> anyhow::Result<()> {
    let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) else {
        return Ok(());
    };
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(())
}
