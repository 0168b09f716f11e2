//! Load test of `irtlab serve`: starts the release binary on 127.0.0.1 at a free port and drives
//! it with a load generator written here (keep-alive HTTP/1.1 connections on one tokio thread,
//! like `wrk -t1`), bounded in time, and stops it with SIGTERM.
//!
//! ```sh
//! cargo bench --no-default-features --bench serve_load                      # 5 s per load, 60 s soak
//! cargo bench --no-default-features --bench serve_load -- --duration 10 --soak 0
//! cargo bench --no-default-features --bench serve_load -- --connections 1,64 --workers 2
//! ```
//!
//! Loads: `POST /v1/probabilities` with one θ and with 1,000 θ (a grid on [−3, 3]), and
//! `POST /v1/scores` with 100 response patterns (EAP), on a bank of 20 items (10 2PL, 10 3PL,
//! fixed seed: the bank `benches/peers/http_load.py` gives the Flask peer), each at 1, 16 and
//! 64 connections. Every answer is checked (status 200 and the length of the first answer);
//! errors are counted, not hidden. Reported: requests per second, p50 and p99 latency. Then a
//! soak (`--soak` seconds, 60 by default) of the three bodies in turn at 16 connections, with the
//! server's resident memory read from /proc every 5 s: it must stay level.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use irtlab::prediction::ItemParameters;
use irtlab::prediction::simulation::{SplitMix64, simulate_responses};
use tokio::net::TcpStream;

struct Settings {
    duration: Duration,
    connections: Vec<usize>,
    soak: Duration,
    workers: Option<usize>,
    binary: String,
}

fn settings() -> Settings {
    let mut settings = Settings {
        duration: Duration::from_secs(5),
        connections: vec![1, 16, 64],
        soak: Duration::from_secs(60),
        workers: None,
        binary: env!("CARGO_BIN_EXE_irtlab").to_string(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--duration" => settings.duration = Duration::from_secs_f64(value().parse().unwrap()),
            "--soak" => settings.soak = Duration::from_secs_f64(value().parse().unwrap()),
            "--connections" => {
                settings.connections = value().split(',').map(|c| c.parse().unwrap()).collect()
            }
            "--workers" => settings.workers = Some(value().parse().unwrap()),
            "--binary" => settings.binary = value(),
            // cargo bench passes --bench to harness-less benches.
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    settings
}

/// The 20-item bank: items 1–10 2PL, 11–20 3PL, a ~ lognormal(0, 0.25), b ~ N(0, 1).
fn bank() -> Vec<ItemParameters> {
    let mut rng = SplitMix64::new(7);
    (0..20)
        .map(|j| {
            let a = (0.25 * rng.normal()).exp();
            let b = rng.normal();
            let c = if j < 10 {
                0.0
            } else {
                0.1 + 0.15 * rng.uniform()
            };
            ItemParameters::dichotomous(format!("item{:02}", j + 1), a, b, c, 1.0)
        })
        .collect()
}

fn items_csv(items: &[ItemParameters]) -> String {
    let mut text = String::from("item,a,b,c\n");
    for item in items {
        let form = item.irt(1.0);
        text.push_str(&format!(
            "{},{},{},{}\n",
            item.item,
            form.a.unwrap_or(1.0),
            form.b[0],
            form.c.map(|c| c.to_string()).unwrap_or_default()
        ));
    }
    text
}

/// The request bodies: (label, path, body).
fn loads(items: &[ItemParameters]) -> Vec<(&'static str, &'static str, String)> {
    let grid: Vec<f64> = (0..1000).map(|i| -3.0 + 6.0 * i as f64 / 999.0).collect();
    let (responses, _) = simulate_responses(items, 100, 0.0, 11);
    let persons: Vec<serde_json::Value> = (0..responses.n_persons())
        .map(|p| {
            let answers: serde_json::Map<String, serde_json::Value> = responses
                .responses_of(p)
                .map(|(j, code)| (responses.item_names()[j].clone(), code.into()))
                .collect();
            serde_json::json!({"id": format!("s{}", p + 1), "answers": answers})
        })
        .collect();
    vec![
        (
            "probabilities, 1 θ",
            "/v1/probabilities",
            serde_json::json!({"theta": [0.5]}).to_string(),
        ),
        (
            "probabilities, 1,000 θ",
            "/v1/probabilities",
            serde_json::json!({ "theta": grid }).to_string(),
        ),
        (
            "scores, 100 patterns",
            "/v1/scores",
            serde_json::json!({"responses": persons, "method": "eap"}).to_string(),
        ),
    ]
}

fn request_bytes(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The server under test, as a child process.
struct Server {
    child: Child,
    address: SocketAddr,
}

impl Server {
    fn start(binary: &str, items: &std::path::Path, workers: Option<usize>) -> Server {
        let mut command = Command::new(binary);
        command
            .args(["serve", "--item-parameters"])
            .arg(items)
            .args(["--port", "0"]);
        if let Some(workers) = workers {
            command.args(["--workers", &workers.to_string()]);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .expect("the irtlab binary starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the address line");
        let address = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Server { child, address }
    }

    /// Resident memory (VmRSS) and its peak (VmHWM), in MB.
    fn memory_mb(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
                .map_or(f64::NAN, |kb| kb / 1024.0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// SIGTERM, then waits: the server must stop by itself, successfully.
    fn stop(mut self) -> bool {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        false
    }
}

// ---- the load generator ---------------------------------------------------------------------

async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads one answer; returns its status and body length.
async fn read_answer(stream: &TcpStream, buffer: &mut Vec<u8>) -> std::io::Result<(u16, usize)> {
    buffer.clear();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut wanted: Option<(usize, u16, usize)> = None;
    loop {
        if let Some((total, status, length)) = wanted
            && buffer.len() >= total
        {
            return Ok((status, length));
        }
        stream.readable().await?;
        match stream.try_read(&mut chunk) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
        if wanted.is_none()
            && let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n")
        {
            let head = String::from_utf8_lossy(&buffer[..end]);
            let status = head
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let length = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            wanted = Some((end + 4 + length, status, length));
        }
    }
}

#[derive(Default)]
struct Outcome {
    latencies_us: Vec<u32>,
    errors: usize,
    wrong_answers: usize,
}

/// One connection sending `request` back to back until `until`.
async fn connection(
    address: SocketAddr,
    request: std::sync::Arc<Vec<u8>>,
    expected_length: usize,
    until: Instant,
) -> Outcome {
    let mut outcome = Outcome::default();
    let mut buffer = Vec::with_capacity(1 << 20);
    let mut stream: Option<TcpStream> = None;
    while Instant::now() < until {
        if stream.is_none() {
            match TcpStream::connect(address).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    stream = Some(s);
                }
                Err(_) => {
                    outcome.errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(s) = stream.as_ref() else { continue };
        let started = Instant::now();
        let result = async {
            write_all(s, &request).await?;
            read_answer(s, &mut buffer).await
        }
        .await;
        match result {
            Ok((status, length)) => {
                outcome
                    .latencies_us
                    .push(started.elapsed().as_micros().min(u32::MAX as u128) as u32);
                if status != 200 || length != expected_length {
                    outcome.wrong_answers += 1;
                }
            }
            Err(_) => {
                outcome.errors += 1;
                stream = None;
            }
        }
    }
    outcome
}

struct Figures {
    requests: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
    wrong: usize,
}

fn run_load(
    runtime: &tokio::runtime::Runtime,
    address: SocketAddr,
    request: &[u8],
    expected_length: usize,
    connections: usize,
    duration: Duration,
) -> Figures {
    let request = std::sync::Arc::new(request.to_vec());
    let started = Instant::now();
    let until = started + duration;
    let outcomes: Vec<Outcome> = runtime.block_on(async {
        let tasks: Vec<_> = (0..connections)
            .map(|_| tokio::spawn(connection(address, request.clone(), expected_length, until)))
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap_or_default());
        }
        outcomes
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies: Vec<u32> = outcomes
        .iter()
        .flat_map(|o| o.latencies_us.iter().copied())
        .collect();
    latencies.sort_unstable();
    let quantile = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(f64::NAN, |&us| us as f64 / 1000.0)
    };
    Figures {
        requests: latencies.len(),
        per_second: latencies.len() as f64 / elapsed,
        p50_ms: quantile(0.50),
        p99_ms: quantile(0.99),
        errors: outcomes.iter().map(|o| o.errors).sum(),
        wrong: outcomes.iter().map(|o| o.wrong_answers).sum(),
    }
}

/// The length of the answer to `request`, asked once.
fn reference_length(
    runtime: &tokio::runtime::Runtime,
    address: SocketAddr,
    request: &[u8],
) -> usize {
    runtime.block_on(async {
        let stream = TcpStream::connect(address).await.expect("connect");
        write_all(&stream, request).await.expect("write");
        let mut buffer = Vec::new();
        let (status, length) = read_answer(&stream, &mut buffer).await.expect("answer");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&buffer));
        length
    })
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn main() {
    let settings = settings();
    let dir = tempfile::tempdir().expect("a temp dir");
    let items = bank();
    let items_path = dir.path().join("items.csv");
    std::fs::write(&items_path, items_csv(&items)).expect("items.csv written");
    let loads = loads(&items);

    let server = Server::start(&settings.binary, &items_path, settings.workers);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let requests: Vec<(&str, Vec<u8>, usize)> = loads
        .iter()
        .map(|(label, path, body)| {
            let request = request_bytes(path, body);
            let length = reference_length(&runtime, server.address, &request);
            (*label, request, length)
        })
        .collect();
    println!(
        "irtlab serve on {} ({} cores; load average before: {}), load generator: 1 thread, keep-alive",
        server.address,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
    // Warm-up, unreported.
    run_load(
        &runtime,
        server.address,
        &requests[0].1,
        requests[0].2,
        16,
        Duration::from_secs(1),
    );
    println!(
        "{:<24} {:>5} {:>10} {:>8} {:>8} {:>10} {:>7}",
        "load", "conns", "req/s", "p50 ms", "p99 ms", "requests", "errors"
    );
    let mut all_errors = 0;
    for (label, request, length) in &requests {
        for &connections in &settings.connections {
            let f = run_load(
                &runtime,
                server.address,
                request,
                *length,
                connections,
                settings.duration,
            );
            all_errors += f.errors + f.wrong;
            println!(
                "{:<24} {:>5} {:>10.0} {:>8.3} {:>8.3} {:>10} {:>7}",
                label,
                connections,
                f.per_second,
                f.p50_ms,
                f.p99_ms,
                f.requests,
                f.errors + f.wrong
            );
        }
    }
    println!("load average after the loads: {}", load_average());

    if !settings.soak.is_zero() {
        let (start_rss, _) = server.memory_mb();
        println!(
            "soak: {:.0} s at 16 connections, the three loads in turn; server memory (VmRSS) every 5 s:",
            settings.soak.as_secs_f64()
        );
        let soak_started = Instant::now();
        let mut samples = vec![start_rss];
        let mut requests_done = 0;
        let mut turn = 0;
        while soak_started.elapsed() < settings.soak {
            let (_, request, length) = &requests[turn % requests.len()];
            let f = run_load(
                &runtime,
                server.address,
                request,
                *length,
                16,
                Duration::from_secs(5),
            );
            requests_done += f.requests;
            all_errors += f.errors + f.wrong;
            samples.push(server.memory_mb().0);
            turn += 1;
        }
        let (_, peak) = server.memory_mb();
        let shown: Vec<String> = samples.iter().map(|m| format!("{m:.1}")).collect();
        println!("  MB: {}", shown.join(" "));
        let settled = samples.get(2..).unwrap_or(&samples);
        let low = settled.iter().copied().fold(f64::INFINITY, f64::min);
        let high = settled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        println!(
            "  {} requests; after the first 10 s between {low:.1} and {high:.1} MB; peak {peak:.1} MB",
            requests_done
        );
    }
    let stopped = server.stop();
    println!(
        "errors: {all_errors}; SIGTERM: {}",
        if stopped {
            "stopped cleanly (exit 0)"
        } else {
            "DID NOT STOP CLEANLY"
        }
    );
    if all_errors > 0 || !stopped {
        std::process::exit(1);
    }
}
