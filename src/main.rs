//! `baedal`: start the server (with the demo city unless disabled).

use baedal::config::Settings;
use baedal::startup::Application;
use baedal::telemetry;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load()?;
    telemetry::init(&settings.log.filter);
    let demo = settings.demo.enabled;
    let host = settings.server.host.clone();
    let backend = if settings.database.url.starts_with("sqlite:") { "SQLite" } else { "PostgreSQL" };
    let app = Application::build(settings).await?;
    let base = format!("http://{host}:{}", app.port());
    println!(
        "baedal listening on {base} ({backend}; recovered {} stores, {} riders, {} live orders)",
        app.recovered.stores, app.recovered.riders, app.recovered.orders
    );
    if demo {
        println!("{}", baedal::sim::demo::hints(&base));
    }
    app.run_until_stopped().await
}
