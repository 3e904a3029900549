//! The `baedal` binary as a child process the drills can kill and start again.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{bail, Context as _};

/// Where the server currently listens. It moves on every start (port 0), so clients read
/// it before each request.
#[derive(Clone, Default)]
pub struct Endpoint(Arc<RwLock<String>>);

impl Endpoint {
    pub fn base(&self) -> String {
        self.0.read().map(|b| b.clone()).unwrap_or_default()
    }

    fn set(&self, base: String) {
        if let Ok(mut current) = self.0.write() {
            *current = base;
        }
    }
}

/// How to start the server: which binary, which database, which settings.
#[derive(Clone, Debug)]
pub struct ServerSpec {
    pub binary: PathBuf,
    pub database_url: String,
    pub env: Vec<(String, String)>,
    /// Server logs go here (appended across restarts); `None` discards them.
    pub log: Option<PathBuf>,
}

impl ServerSpec {
    /// The `baedal` binary next to the running executable (`target/<profile>/`), the usual
    /// place when the drill runs through cargo.
    pub fn sibling_binary() -> anyhow::Result<PathBuf> {
        let me = std::env::current_exe().context("locating the running executable")?;
        let dir = me.parent().context("executable has no folder")?;
        // Integration tests run from target/<profile>/deps.
        for candidate in [dir.join("baedal"), dir.join("../baedal")] {
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
        bail!("no baedal binary beside {}; build it first (cargo build --release)", me.display())
    }
}

/// A running server.
pub struct ServerProcess {
    spec: ServerSpec,
    child: Option<Child>,
    pub endpoint: Endpoint,
    pub starts: u32,
    logged: Arc<std::sync::atomic::AtomicU64>,
}

impl ServerProcess {
    pub fn start(spec: ServerSpec) -> anyhow::Result<ServerProcess> {
        let mut server =
            ServerProcess { spec, child: None, endpoint: Endpoint::default(), starts: 0, logged: Arc::default() };
        server.restart()?;
        Ok(server)
    }

    /// SIGKILL: no shutdown hook, no final snapshot, no flush.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start again on the same database and settings (on a new port).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        let spec = &self.spec;
        let mut command = Command::new(&spec.binary);
        command
            .env("DATABASE_URL", &spec.database_url)
            .env("BAEDAL__SERVER__PORT", "0")
            .env_remove("BAEDAL_CONFIG")
            .env("RUST_LOG", std::env::var("DRILL_SERVER_LOG").unwrap_or_else(|_| "warn".into()))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in &spec.env {
            command.env(key, value);
        }
        let mut log = match &spec.log {
            Some(path) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("opening {}", path.display()))?,
            ),
            None => None,
        };
        let mut child = command.spawn().with_context(|| format!("starting {}", spec.binary.display()))?;
        // The logs pass through here, counted (the outage drill measures their volume), and
        // go to the log file if there is one.
        let mut stderr = child.stderr.take().context("server stderr")?;
        let logged = self.logged.clone();
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            let mut buf = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                logged.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
                if let Some(file) = log.as_mut() {
                    let _ = file.write_all(&buf[..n]);
                }
            }
        });
        let stdout = child.stdout.take().context("server stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent {
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        let _ = tx.send(rest.split_whitespace().next().unwrap_or_default().to_owned());
                        sent = true;
                    }
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(base) => {
                self.endpoint.set(base);
                self.child = Some(child);
                self.starts += 1;
                Ok(())
            }
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                bail!("the server did not start within 120 s (exit: {status:?})")
            }
        }
    }

    /// The process id while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Bytes the server has logged (stderr) since the first start.
    pub fn logged_bytes(&self) -> u64 {
        self.logged.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// CPU time the running server has used (user and system), from `/proc` (Linux).
    pub fn cpu_time(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()?)).ok()?;
        // Fields after the command name, which is in parentheses and may hold spaces.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        // SAFETY: sysconf only reads a system constant.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        Some(Duration::from_secs_f64(ticks as f64 / per_second))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
