//! Real backends the tests run against, started on loopback by the tests themselves (see the
//! scripts beside this file) and stopped by PID when the test process ends. Shared by the
//! library's unit tests (included there by path) and the integration tests.
//!
//! Where a backend cannot be installed or started here, the accessor prints why, loudly, and
//! answers `None`: the caller skips. Nothing is faked.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// One free loopback port (free when asked: the caller binds it soon after).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
    l.local_addr().expect("local address").port()
}

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/services")
}

fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

fn skip(what: &str, why: &str) {
    eprintln!(
        "\n=====================================================================\n\
         SKIPPED: {what} is not available here: {why}\n\
         =====================================================================\n"
    );
}

/// A PostgreSQL cluster of this test process.
pub struct Postgres {
    pub port: u16,
    pub password: String,
    pub dir: PathBuf,
}

impl Postgres {
    /// The URL of database `db` as the superuser `coffer`.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://coffer:{}@127.0.0.1:{}/{db}",
            self.password, self.port
        )
    }

    /// Runs one SQL statement with psql against database `postgres`.
    pub fn psql(&self, sql: &str) -> String {
        self.psql_on(&self.url("postgres"), sql)
    }

    /// Runs one SQL statement with psql against the database at `url`; its output.
    pub fn psql_on(&self, url: &str, sql: &str) -> String {
        let out = Command::new(pg_bin().join("psql"))
            .args(["-X", "-q", "-t", "-A", "-d", url, "-c", sql])
            .output()
            .expect("running psql");
        assert!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A new, empty database; its URL.
    pub fn fresh_database(&self) -> String {
        let name = format!("t_{}", random_hex(8));
        self.psql(&format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    fn pg_ctl(&self, args: &[&str]) -> bool {
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"])
                .arg(pg_bin().join("pg_ctl"));
            c
        } else {
            Command::new(pg_bin().join("pg_ctl"))
        };
        cmd.arg("-D")
            .arg(self.dir.join("data"))
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    /// Stops the server at once (connections cut, as a crash or a failover would).
    pub fn stop(&self) {
        assert!(
            self.pg_ctl(&["-m", "immediate", "-w", "stop"]),
            "pg_ctl stop"
        );
    }

    /// Starts it again after [`Postgres::stop`].
    pub fn start(&self) {
        let log = self.dir.join("log");
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {}",
            self.port,
            self.dir.display()
        );
        assert!(
            self.pg_ctl(&[
                "-l",
                &log.to_string_lossy(),
                "-w",
                "-t",
                "60",
                "-o",
                &opts,
                "start"
            ]),
            "pg_ctl start"
        );
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

fn pg_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("pg_ctl").exists())
        .collect();
    found.sort();
    found
        .pop()
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/bin"))
}

/// This process's PostgreSQL, started (and installed) on first use; `None`, after a loud
/// message, where it cannot be.
pub fn postgres() -> Option<&'static Postgres> {
    static PG: OnceLock<Option<Postgres>> = OnceLock::new();
    PG.get_or_init(|| {
        let pg = Postgres {
            port: free_port(),
            password: random_hex(16),
            dir: std::env::temp_dir().join(format!("coffer-test-pg-{}", std::process::id())),
        };
        let out = Command::new("bash")
            .arg(scripts().join("postgres.sh"))
            .arg(&pg.dir)
            .arg(pg.port.to_string())
            .arg(&pg.password)
            .arg(std::process::id().to_string())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(pg),
            Ok(o) => {
                skip("PostgreSQL", String::from_utf8_lossy(&o.stderr).trim());
                None
            }
            Err(e) => {
                skip("PostgreSQL", &e.to_string());
                None
            }
        }
    })
    .as_ref()
}
