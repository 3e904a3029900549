//! `baedal`: start the server (with the demo city unless disabled).

use baedal::auth::{Identity, JwtAuthenticator};
use baedal::config::Settings;
use baedal::startup::Application;
use baedal::telemetry;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load()?;
    telemetry::init(&settings.log.filter, &settings.log.format);
    let demo = settings.demo.enabled;
    let keys = settings.auth.keys();
    let host = settings.server.host.clone();
    let backend = if settings.database.url.starts_with("sqlite:") { "SQLite" } else { "PostgreSQL" };
    let app = Application::build(settings).await?;
    let base = format!("http://{host}:{}", app.port());
    println!(
        "baedal listening on {base} ({backend}; recovered {} stores, {} riders, {} live orders)",
        app.recovered.stores, app.recovered.riders, app.recovered.orders
    );
    if demo {
        let auth = JwtAuthenticator::new(&keys).map_err(|e| anyhow::anyhow!("token keys: {e}"))?;
        let token = |role, subject| auth.issue(Identity { role, subject }, 24 * 3600);
        println!("{}", baedal::sim::demo::hints(&base, token));
    }
    app.run_until_stopped().await
}
