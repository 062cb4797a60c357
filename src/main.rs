//! `coffer`: the command line. Parse arguments, load the config, bind, run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use coffer::config::{Config, ProcessEnv};

/// jemalloc rather than the system allocator: every GET and PUT moves 64 KiB chunk buffers through
/// the allocator at up to GB/s, interleaved with sled's cached values. glibc kept the freed memory
/// (fragmented over per-thread arenas) and the process stayed 100+ MiB above idle for good after
/// one large transfer; jemalloc with one arena and a 100 ms decay, purged by its background thread,
/// returns it (README, "Memory under large transfers"). `_RJEM_MALLOC_CONF` overrides the settings.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's compiled-in options (a C string it reads at start-up).
#[unsafe(export_name = "_rjem_malloc_conf")]
static JEMALLOC_CONF: &[u8; 69] =
    b"background_thread:true,narenas:1,dirty_decay_ms:100,muzzy_decay_ms:0\0";

#[derive(Parser)]
#[command(
    name = "coffer",
    version,
    about = "An S3-compatible object store that never stores an object in plaintext"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve S3 and the KMS JSON API on one endpoint.
    Serve {
        /// TOML config file (see config/coffer.example.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to listen on, ADDR:PORT (default 127.0.0.1:9000; env COFFER_LISTEN).
        #[arg(long)]
        listen: Option<String>,
        /// Data directory (default ./coffer-data; env COFFER_DATA_DIR).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Seconds in-flight requests get to finish after SIGTERM.
        #[arg(long, default_value_t = 30)]
        shutdown_grace_secs: u64,
        /// Serve HTTPS on --listen with this PEM certificate chain (needs --tls-key).
        #[arg(long, requires = "tls_key", conflicts_with = "tls_self_signed")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key for --tls-cert.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Serve HTTPS on --listen with a certificate for localhost and 127.0.0.1, generated
        /// once into DATA_DIR/tls/ (cert.pem doubles as the clients' --ca-bundle).
        #[arg(long)]
        tls_self_signed: bool,
        /// With TLS on: also serve plain HTTP on this ADDR:PORT.
        #[arg(long)]
        listen_http: Option<String>,
    },
    /// Check a stopped data directory: decrypt every object against its checksums, report
    /// failures (bucket and key) and orphaned chunks; exit non-zero on any failure.
    Verify {
        /// TOML config file (for root_key_file and the data directory).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Data directory (default ./coffer-data; env COFFER_DATA_DIR).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Load-generate against an S3 endpoint (or an in-process Coffer) and report ops/s, MB/s
    /// and latency percentiles per phase; `--ceiling` also times the raw parts with no HTTP.
    Bench(Box<coffer::bench::BenchArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            config,
            listen,
            data_dir,
            shutdown_grace_secs,
            tls_cert,
            tls_key,
            tls_self_signed,
            listen_http,
        } => {
            let mut cfg = match Config::load(config.as_deref(), &ProcessEnv) {
                Ok(c) => c,
                Err(e) => return fail(&e.to_string()),
            };
            if let Some(l) = listen {
                cfg.listen = l;
            }
            if let Some(d) = data_dir {
                cfg.data_dir = d;
            }
            // The TLS flags replace the config file's [tls] choice.
            if let (Some(cert), Some(key)) = (tls_cert, tls_key) {
                cfg.tls.cert_file = Some(cert);
                cfg.tls.key_file = Some(key);
                cfg.tls.self_signed = false;
            } else if tls_self_signed {
                cfg.tls.cert_file = None;
                cfg.tls.key_file = None;
                cfg.tls.self_signed = true;
            }
            if listen_http.is_some() {
                if cfg.tls.source(&cfg.data_dir).is_none() {
                    return fail(
                        "--listen-http adds a plain-HTTP listener beside HTTPS: it needs \
                         --tls-cert/--tls-key or --tls-self-signed (or [tls] in the config)",
                    );
                }
                cfg.tls.listen_http = listen_http;
            }
            serve(cfg, Duration::from_secs(shutdown_grace_secs))
        }
        Command::Verify { config, data_dir } => {
            let mut cfg = match Config::load(config.as_deref(), &ProcessEnv) {
                Ok(c) => c,
                Err(e) => return fail(&e.to_string()),
            };
            if let Some(d) = data_dir {
                cfg.data_dir = d;
            }
            verify(&cfg)
        }
        Command::Bench(args) => match coffer::bench::run_cli(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e.to_string()),
        },
    }
}

fn verify(cfg: &Config) -> ExitCode {
    let report = match coffer::verify::verify_data_dir(cfg) {
        Ok(r) => r,
        Err(e) => return fail(&e.to_string()),
    };
    let mut out = std::io::stdout().lock();
    if let Err(e) = coffer::verify::print_report(&report, &mut out) {
        return fail(&format!("cannot write the report: {e}"));
    }
    if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("coffer: {msg}");
    ExitCode::FAILURE
}

fn init_logging(cfg: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&cfg.log.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cfg.log.format == "json" {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

fn serve(cfg: Config, grace: Duration) -> ExitCode {
    if let Err(e) = cfg.validate() {
        return fail(&e.to_string());
    }
    let tls = cfg.tls.source(&cfg.data_dir);
    let listen_http = cfg.tls.listen_http.clone();
    init_logging(&cfg);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    let served = runtime.block_on(async {
        let prepared = match coffer::app::prepare(&cfg, None) {
            Ok(p) => p,
            Err(e) => return Err(fail(&e.to_string())),
        };
        let listener = match tokio::net::TcpListener::bind(&cfg.listen).await {
            Ok(l) => l,
            Err(e) => return Err(fail(&format!("cannot listen on {}: {e}", cfg.listen))),
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => return Err(fail(&format!("cannot read the listening address: {e}"))),
        };
        let (tls_config, cert_file) = match &tls {
            Some(src) => match coffer::server::tls::load(src) {
                Ok((c, f)) => (Some(c), Some(f)),
                Err(e) => return Err(fail(&e.to_string())),
            },
            None => (None, None),
        };
        let http = match &listen_http {
            Some(a) => match tokio::net::TcpListener::bind(a).await {
                Ok(l) => Some(l),
                Err(e) => return Err(fail(&format!("cannot listen on {a}: {e}"))),
            },
            None => None,
        };
        let http_addr = http.as_ref().and_then(|l| l.local_addr().ok());
        print_banner(&cfg, &prepared, addr, cert_file.as_deref(), http_addr);
        let store = prepared.store.clone();
        // One signal stops every listener.
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            coffer::app::shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let main = coffer::server::run_with_tls(
            listener,
            prepared.app.clone(),
            tls_config,
            stopped(stop_rx.clone()),
            grace,
        );
        let result = match http {
            Some(l) => {
                let plain = coffer::server::run(l, prepared.app, stopped(stop_rx), grace);
                let (a, b) = tokio::join!(main, plain);
                a.and(b)
            }
            None => main.await,
        };
        if let Err(e) = store.flush().await {
            return Err(fail(&format!("final flush failed: {e}")));
        }
        result.map_err(|e| fail(&format!("server error: {e}")))
    });
    // Every task, and with them every handle on the store, goes with the runtime.
    drop(runtime);
    if let Err(code) = served {
        return code;
    }
    match coffer::app::write_recovery_snapshot(&cfg) {
        Ok(took) => tracing::info!(
            seconds = took.as_secs_f64(),
            "wrote the recovery snapshot: the next start does not replay this run's log"
        ),
        // The data is durable already; the next start replays the log instead.
        Err(e) => tracing::warn!("could not write the recovery snapshot: {e}"),
    }
    tracing::info!("shut down cleanly");
    ExitCode::SUCCESS
}

fn print_banner(
    cfg: &Config,
    p: &coffer::app::Prepared,
    addr: std::net::SocketAddr,
    cert_file: Option<&std::path::Path>,
    http_addr: Option<std::net::SocketAddr>,
) {
    let scheme = if cert_file.is_some() { "https" } else { "http" };
    let endpoint = format!("{scheme}://{addr}");
    println!("Coffer is serving S3 at {endpoint} (region {})", cfg.region);
    if let Some(h) = http_addr {
        println!("  also plain HTTP at http://{h}");
    }
    if let Some(c) = cert_file {
        println!("  TLS certificate: {} (use as --ca-bundle)", c.display());
    }
    let ca = cert_file.map_or(String::new(), |c| format!(" --ca-bundle {}", c.display()));
    println!("  data directory: {}", cfg.data_dir.display());
    if let Some(root) = &p.dev_root_key {
        println!(
            "  root key:       {} (dev mode: the root key sits beside the data it protects;",
            root.display()
        );
        println!("                  set root_key_file / COFFER_ROOT_KEY_FILE for real use)");
    }
    println!("  access key id:  {}", p.access_key_id);
    if p.dev_credentials {
        // Printed to the terminal so the dev pair can be pasted; never logged, never stored
        // unsealed.
        println!("  secret key:     {}", p.secret_access_key.expose());
        println!();
        println!("Try it:");
        println!(
            "  AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} AWS_DEFAULT_REGION={} aws --endpoint-url {endpoint}{ca} s3 ls",
            p.access_key_id,
            p.secret_access_key.expose(),
            cfg.region
        );
    } else {
        println!("  secret key:     (from your configuration)");
        println!();
        println!("Try it:  aws --endpoint-url {endpoint}{ca} s3 ls");
    }
    println!("  health: curl {endpoint}/health");
    use std::io::Write;
    let _ = std::io::stdout().flush();
}
