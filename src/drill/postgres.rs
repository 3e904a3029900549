//! The PostgreSQL side of a drill: a fresh database for each run, and a way to take the
//! server's database down and bring it back.
//!
//! Two clusters can be driven: the machine's own (`pg_ctlcluster`, the operator's view of a
//! restart) or a private one made with `initdb` in a temporary folder, so that a drill run
//! beside other users of the machine's cluster (a test suite) does not take theirs down.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context as _};
use sqlx::{Connection, Executor, PgConnection};

/// A PostgreSQL cluster the drill may stop and start.
pub enum Cluster {
    /// The machine's cluster, by `pg_ctlcluster <version> main`.
    System { version: String, url: String },
    /// A throwaway cluster in `dir`, listening on `port`; removed on drop.
    Private { dir: PathBuf, port: u16, bin: PathBuf, as_postgres: bool },
}

impl Cluster {
    /// The machine's cluster at `url` (the version is the only folder in /etc/postgresql).
    pub fn system(url: &str) -> anyhow::Result<Cluster> {
        Ok(Cluster::System { version: installed_version()?, url: url.to_owned() })
    }

    /// A new cluster of the installed version, started, trusting local connections.
    pub fn private() -> anyhow::Result<Cluster> {
        let version = installed_version()?;
        let bin = PathBuf::from(format!("/usr/lib/postgresql/{version}/bin"));
        let as_postgres = is_root();
        let dir = std::env::temp_dir().join(format!("baedal-drill-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        if as_postgres {
            // initdb refuses to run as root: the cluster belongs to the postgres user.
            run(Command::new("chown").arg("postgres:postgres").arg(&dir))?;
        }
        let port = free_port()?;
        let cluster = Cluster::Private { dir: dir.clone(), port, bin, as_postgres };
        cluster.pg(&["initdb", "-D", &dir.join("data").to_string_lossy(), "-A", "trust", "-U", "postgres"])?;
        cluster.start()?;
        Ok(cluster)
    }

    /// Where a client connects to database `name`.
    pub fn url(&self, name: &str) -> String {
        match self {
            Cluster::System { url, .. } => {
                let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(url);
                format!("{base}/{name}")
            }
            Cluster::Private { port, .. } => format!("postgres://postgres@127.0.0.1:{port}/{name}"),
        }
    }

    pub fn stop(&self) -> anyhow::Result<()> {
        match self {
            Cluster::System { version, .. } => run(Command::new("pg_ctlcluster").args([
                "--skip-systemctl-redirect",
                version,
                "main",
                "stop",
                "-m",
                "fast",
            ])),
            Cluster::Private { dir, .. } => {
                self.pg(&["pg_ctl", "-D", &dir.join("data").to_string_lossy(), "-m", "fast", "-w", "stop"])
            }
        }
    }

    pub fn start(&self) -> anyhow::Result<()> {
        match self {
            Cluster::System { version, .. } => {
                run(Command::new("pg_ctlcluster").args(["--skip-systemctl-redirect", version, "main", "start"]))
            }
            Cluster::Private { dir, port, .. } => {
                let options = format!("-p {port} -k {} -c listen_addresses=127.0.0.1", dir.display());
                let data = dir.join("data");
                let log = dir.join("postgres.log");
                self.pg(&[
                    "pg_ctl",
                    "-D",
                    &data.to_string_lossy(),
                    "-l",
                    &log.to_string_lossy(),
                    "-o",
                    &options,
                    "-w",
                    "start",
                ])
            }
        }
    }

    /// Run a PostgreSQL tool of the private cluster, as the postgres user when we are root.
    fn pg(&self, args: &[&str]) -> anyhow::Result<()> {
        let Cluster::Private { bin, as_postgres, .. } = self else { bail!("only a private cluster runs its tools") };
        let tool = bin.join(args[0]);
        let mut command = if *as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&tool);
            c
        } else {
            Command::new(&tool)
        };
        command.args(&args[1..]);
        run(&mut command)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Cluster::Private { dir, .. } = self {
            let dir = dir.clone();
            let _ = self.stop();
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A database made for one drill run and dropped after it.
pub struct Database {
    admin_url: String,
    pub name: String,
    pub url: String,
}

impl Database {
    /// Create `baedal_drill_<random>` through the `postgres` database of the cluster.
    pub async fn create(cluster: &Cluster) -> anyhow::Result<Database> {
        let name = format!("baedal_drill_{}", uuid::Uuid::new_v4().simple());
        let admin_url = cluster.url("postgres");
        let mut admin = connect_retrying(&admin_url).await?;
        admin.execute(format!(r#"CREATE DATABASE "{name}""#).as_str()).await.context("creating the drill database")?;
        Ok(Database { url: cluster.url(&name), admin_url, name })
    }

    pub async fn drop_now(self) -> anyhow::Result<()> {
        let mut admin = connect_retrying(&self.admin_url).await?;
        admin.execute(format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, self.name).as_str()).await?;
        Ok(())
    }
}

async fn connect_retrying(url: &str) -> anyhow::Result<PgConnection> {
    let mut last = None;
    for _ in 0..50 {
        match PgConnection::connect(url).await {
            Ok(connection) => return Ok(connection),
            Err(error) => last = Some(error),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(last.map(anyhow::Error::from).unwrap_or_else(|| anyhow::anyhow!("no attempt made")))
        .with_context(|| format!("connecting to {url}"))
}

/// The PostgreSQL version installed from Debian's packages: the folder in /etc/postgresql.
fn installed_version() -> anyhow::Result<String> {
    std::fs::read_dir("/etc/postgresql")
        .context("reading /etc/postgresql (is PostgreSQL installed from Debian's packages?)")?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .max()
        .context("no cluster under /etc/postgresql")
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let output = command.output().with_context(|| format!("running {command:?}"))?;
    if !output.status.success() {
        bail!("{command:?} failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(())
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
