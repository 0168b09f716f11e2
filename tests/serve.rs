//! `irtlab serve`: the service started in-process on an ephemeral 127.0.0.1 port and called
//! over real TCP with a minimal HTTP/1.1 client — every endpoint, every error class, malformed
//! input of every kind (never a 500), concurrent clients, shutdown with a request in flight —
//! and the binary started, called and stopped with SIGTERM. Numbers are compared with the
//! library functions the command line uses.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::{lsat7, spread_items, write_file};
use irtlab::prediction::simulation::{SplitMix64, typical_polytomous_items};
use irtlab::prediction::{
    ItemParameters, ItemType, ResponseMatrix, ScoringMethod, ScoringOptions, score_persons, tables,
};
use irtlab::serve::{ItemBank, ServeError, ServeOptions};
use serde_json::{Value, json};

// ---- a minimal HTTP/1.1 client ----------------------------------------------------------

/// An answer: status, headers (names lower-case) and body.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Asserts an error answer: the status, JSON `{"error_message", "result"}` with `result`
    /// equal to the status, and the message containing each of `words`.
    fn assert_error(&self, status: u16, words: &[&str]) {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.header("content-type"), Some("application/json"));
        let body = self.json();
        assert_eq!(body["result"], json!(status), "{body}");
        let message = body["error_message"].as_str().unwrap();
        assert!(!message.is_empty() && !message.contains('\n'), "{message}");
        for word in words {
            assert!(message.contains(word), "{message:?} lacks {word:?}");
        }
        assert_eq!(body.as_object().unwrap().len(), 2, "{body}");
    }
}

/// A kept-alive connection.
struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Connection {
    fn open(address: SocketAddr) -> Connection {
        let stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Connection {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
    }

    /// Reads one answer (the service always sends a Content-Length).
    fn read_reply(&mut self) -> Reply {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .unwrap_or_else(|| panic!("no status line: {line:?}"))
            .parse()
            .unwrap();
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            let trimmed = line.trim_end();
            if trimmed.is_empty() {
                break;
            }
            let (name, value) = trimmed.split_once(':').unwrap();
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map(|(_, v)| v.parse().unwrap())
            .expect("a content-length");
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).unwrap();
        Reply {
            status,
            headers,
            body,
        }
    }

    fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        self.send_raw(&request_bytes(method, path, headers, body));
        self.read_reply()
    }

    fn get(&mut self, path: &str) -> Reply {
        self.request("GET", path, &[], b"")
    }

    fn post_json(&mut self, path: &str, body: &Value) -> Reply {
        self.request(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
    }
}

/// A request with Host and, for a body, Content-Length.
fn request_bytes(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n").into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    if !body.is_empty() || method == "POST" {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

// ---- the server in-process ----------------------------------------------------------------

struct TestServer {
    address: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), ServeError>>>,
}

impl TestServer {
    fn start(bank: ItemBank, options: ServeOptions) -> TestServer {
        let options = ServeOptions {
            host: "127.0.0.1".into(),
            port: 0,
            workers: 2,
            ..options
        };
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            irtlab::serve::run(
                bank,
                options,
                move |address, _| address_tx.send(address).unwrap(),
                async move {
                    let _ = stop_rx.await;
                },
            )
        });
        let address = address_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server started");
        TestServer {
            address,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    fn connect(&self) -> Connection {
        Connection::open(self.address)
    }

    /// Sends the stop signal and waits for the server to finish.
    fn stop(mut self) -> Result<(), ServeError> {
        self.stop.take().unwrap().send(()).unwrap();
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// ---- fixtures -----------------------------------------------------------------------------

/// Right/wrong items (2PL and 3PL) and polytomous ones of every type.
fn mixed_items() -> Vec<ItemParameters> {
    let mut items = spread_items(4, 0.0, 3);
    items.extend(irtlab::prediction::simulation::typical_items(
        3, 0.2, 5, "G",
    ));
    for (model, k, prefix) in [
        (ItemType::Graded, 4, "GR"),
        (ItemType::Gpcm, 3, "GP"),
        (ItemType::Pcm, 3, "PC"),
        (ItemType::Rsm, 4, "RS"),
        (ItemType::Nominal, 3, "NO"),
    ] {
        items.extend(typical_polytomous_items(model, 2, k, 11, prefix));
    }
    items
}

/// The items written as an items table (CSV) and read back as the service reads them.
fn bank_from_table(items: &[ItemParameters], dir: &std::path::Path) -> ItemBank {
    let mut frame = tables::parameters_table(items, 1.0).unwrap();
    let path = dir.join("items.csv");
    let _ = std::fs::remove_file(&path);
    irtlab::export::write_table_to(&mut frame, &path, "items").unwrap();
    ItemBank::from_items_table(&path, 1.0).unwrap()
}

fn lsat7_bank() -> ItemBank {
    ItemBank::new(
        spread_items(5, 0.0, 1),
        1.0,
        ScoringOptions::default(),
        "LSAT7 items",
    )
    .unwrap()
}

fn start_default(bank: ItemBank) -> TestServer {
    TestServer::start(bank, ServeOptions::default())
}

/// A number from a JSON answer.
fn number(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

// ---- endpoints ----------------------------------------------------------------------------

#[test]
fn health_items_and_schemas_answer() {
    let server = start_default(lsat7_bank());
    let mut connection = server.connect();

    let health = connection.get("/v1/health");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    assert_eq!(health.json()["items"], 5);

    let items = connection.get("/v1/items").json();
    assert_eq!(items["n_items"], 5);
    let expected = spread_items(5, 0.0, 1);
    for (entry, item) in items["items"].as_array().unwrap().iter().zip(&expected) {
        let form = item.irt(1.0);
        assert_eq!(entry["item"], item.item.as_str());
        assert_eq!(entry["model"], "2pl");
        assert_eq!(entry["categories"], json!(["0", "1"]));
        assert_eq!(number(&entry["a"]), form.a.unwrap());
        assert_eq!(number(&entry["b"]), form.b[0]);
        assert!(entry.get("c").is_none());
    }

    let list = connection.get("/v1/schema").json();
    assert_eq!(
        list["schemas"],
        json!(["/v1/schema/probabilities", "/v1/schema/scores"])
    );
    for name in ["probabilities", "scores"] {
        let schema = connection.get(&format!("/v1/schema/{name}"));
        assert_eq!(schema.status, 200);
        let schema = schema.json();
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert_eq!(schema["additionalProperties"], false);
        // The published schema compiles, and it is the one bodies are checked against.
        let validator = jsonschema::draft202012::new(&schema).unwrap();
        let example = if name == "probabilities" {
            json!({"theta": [0.5], "items": ["Item.1"]})
        } else {
            json!({"responses": [{"id": "a", "answers": {"Item.1": 1}}], "method": "wle"})
        };
        assert!(validator.is_valid(&example));
        assert!(!validator.is_valid(&json!({"unknown": 1})));
    }
    let schema = connection.get("/v1/schema/probabilities").json();
    assert_eq!(schema["properties"]["theta"]["maxItems"], 10_000);

    // HEAD works on GET routes.
    connection.send_raw(&request_bytes("HEAD", "/v1/health", &[], b""));
    let mut line = String::new();
    connection.reader.read_line(&mut line).unwrap();
    assert!(line.contains("200"), "{line}");
}

#[test]
fn probabilities_equal_the_library_for_every_item_type() {
    let dir = tempfile::tempdir().unwrap();
    let items = mixed_items();
    let bank = bank_from_table(&items, dir.path());
    let server = start_default(bank);
    let mut connection = server.connect();
    let grid = tables::theta_grid(-4.0, 4.0, 0.25).unwrap();
    let answer = connection.post_json("/v1/probabilities", &json!({ "theta": grid }));
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let answer = answer.json();
    let names: Vec<&str> = items.iter().map(|i| i.item.as_str()).collect();
    assert_eq!(answer["items"], json!(names));
    assert_eq!(answer["theta"], json!(grid));

    // What `irtlab probabilities --theta -4:4:0.25` writes, computed from the table read back.
    let read_back = bank_from_table(&items, dir.path());
    let table = tables::grid_probabilities_table(read_back.items(), &grid).unwrap();
    let rows = answer["probabilities"].as_array().unwrap();
    assert_eq!(rows.len(), grid.len());
    for (t, row) in rows.iter().enumerate() {
        let row = row.as_array().unwrap();
        assert_eq!(row.len(), items.len());
        for (item, entry) in read_back.items().iter().zip(row) {
            let columns = tables::probability_column_names(item);
            let served: Vec<f64> = match entry {
                Value::Array(values) => values.iter().map(number).collect(),
                value => vec![number(value)],
            };
            if item.n_categories() == 2 {
                assert_eq!(served.len(), 1);
            } else {
                assert_eq!(served.len(), item.n_categories(), "{}", item.item);
                assert!((served.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            }
            for (column, value) in columns.iter().zip(&served) {
                let expected = table.column(column).unwrap().f64().unwrap().get(t).unwrap();
                assert_eq!(*value, expected, "{column} at θ = {}", grid[t]);
            }
        }
    }
    // The table read back holds the same items as the originals.
    for (a, b) in read_back.items().iter().zip(&items) {
        for theta in [-2.0, 0.3, 1.7] {
            let (pa, pb) = (a.probabilities(theta), b.probabilities(theta));
            for (x, y) in pa.iter().zip(&pb) {
                assert!((x - y).abs() < 1e-12, "{}", a.item);
            }
        }
    }
}

#[test]
fn probabilities_by_get_and_for_chosen_items() {
    let dir = tempfile::tempdir().unwrap();
    let items = mixed_items();
    let server = start_default(bank_from_table(&items, dir.path()));
    let mut connection = server.connect();
    let posted = connection
        .post_json(
            "/v1/probabilities",
            &json!({"theta": [0.5, -1.25], "items": ["GR2", "Item.3"]}),
        )
        .json();
    let got = connection
        .get("/v1/probabilities?theta=0.5&theta=-1.25&item=GR2&item=Item.3")
        .json();
    assert_eq!(posted, got);
    let comma = connection
        .get("/v1/probabilities?theta=0.5,-1.25&item=GR2&item=Item%2E3")
        .json();
    assert_eq!(posted, comma);
    assert_eq!(posted["items"], json!(["GR2", "Item.3"]));
    let graded = items.iter().find(|i| i.item == "GR2").unwrap();
    let item3 = items.iter().find(|i| i.item == "Item.3").unwrap();
    let row = &posted["probabilities"][1];
    let served: Vec<f64> = row[0].as_array().unwrap().iter().map(number).collect();
    let expected = graded.probabilities(-1.25);
    for (x, y) in served.iter().zip(&expected) {
        assert!((x - y).abs() < 1e-15);
    }
    assert!((number(&row[1]) - item3.probability(-1.25)).abs() < 1e-15);
}

/// The LSAT7 response patterns as a scores request.
fn lsat7_request(matrix: &ResponseMatrix, method: &str) -> Value {
    let responses: Vec<Value> = (0..matrix.n_persons())
        .map(|p| {
            let answers: serde_json::Map<String, Value> = matrix
                .responses_of(p)
                .map(|(j, code)| (matrix.item_names()[j].clone(), json!(code)))
                .collect();
            json!({"id": matrix.person_ids()[p], "answers": answers})
        })
        .collect();
    json!({"responses": responses, "method": method})
}

#[test]
fn scores_equal_the_library_for_every_method() {
    let server = start_default(lsat7_bank());
    let mut connection = server.connect();
    let matrix = lsat7();
    // The 32 distinct patterns plus a few persons, to keep the body small.
    let persons: Vec<usize> = (0..matrix.n_persons()).step_by(25).collect();
    let matrix = matrix.select_persons(&persons);
    for method in ScoringMethod::ALL {
        let answer = connection.post_json("/v1/scores", &lsat7_request(&matrix, method.name()));
        assert_eq!(
            answer.status,
            200,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        let answer = answer.json();
        assert_eq!(answer["method"], method.name());
        let options = ScoringOptions {
            method,
            ..ScoringOptions::default()
        };
        let expected = score_persons(&matrix, &spread_items(5, 0.0, 1), &options).unwrap();
        let served = answer["scores"].as_array().unwrap();
        assert_eq!(served.len(), expected.len());
        for (s, e) in served.iter().zip(&expected) {
            assert_eq!(s["id"], e.id.as_str());
            assert_eq!(s["n_answered"], e.n_answered);
            assert_eq!(s["sum_score"], e.sum_score);
            assert_eq!(s["flag"], serde_json::to_value(e.flag).unwrap());
            match e.theta {
                Some(theta) => {
                    assert!((number(&s["theta"]) - theta).abs() < 1e-9, "{method:?}");
                    assert!(
                        (number(&s["theta_se"]) - e.theta_se.unwrap()).abs() < 1e-9,
                        "{method:?}"
                    );
                }
                None => assert!(s["theta"].is_null()),
            }
        }
    }
    // ML on an all-correct pattern: no finite θ, flagged.
    let answer = connection
        .post_json(
            "/v1/scores",
            &json!({"responses": [{"id": "x", "answers": {"Item.1": 1, "Item.2": "1", "Item.3": 1.0, "Item.4": null}}], "method": "ml"}),
        )
        .json();
    assert_eq!(answer["scores"][0]["flag"], "all_correct");
    assert_eq!(answer["scores"][0]["n_answered"], 3);
    assert!(answer["scores"][0]["theta"].is_null());
    // No answers at all: flagged, not an error; the default method is EAP.
    let answer = connection
        .post_json(
            "/v1/scores",
            &json!({"responses": [{"id": "y", "answers": {}}]}),
        )
        .json();
    assert_eq!(answer["method"], "eap");
    assert_eq!(answer["scores"][0]["flag"], "no_responses");
}

#[test]
fn polytomous_answers_are_matched_by_category_value() {
    let dir = tempfile::tempdir().unwrap();
    let items = mixed_items();
    let server = start_default(bank_from_table(&items, dir.path()));
    let mut connection = server.connect();
    let answer = connection.post_json(
        "/v1/scores",
        &json!({"responses": [
            {"id": "a", "answers": {"GR1": 3, "GP1": "2", "NO1": 0, "Item.1": 1}},
            {"id": "b", "answers": {"GR1": 0, "GP1": 0.0, "NO1": "1"}}
        ], "method": "map"}),
    );
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let answer = answer.json();
    let names = ["GR1", "GP1", "NO1", "Item.1"];
    let chosen: Vec<ItemParameters> = items
        .iter()
        .filter(|i| names.contains(&i.item.as_str()))
        .cloned()
        .collect();
    let order: Vec<&str> = chosen.iter().map(|i| i.item.as_str()).collect();
    let code = |person: &[(&str, u8)], name: &str| {
        person.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
    };
    let a = [("GR1", 3), ("GP1", 2), ("NO1", 0), ("Item.1", 1)];
    let b = [("GR1", 0), ("GP1", 0), ("NO1", 1)];
    let rows: Vec<Vec<Option<u8>>> = [&a[..], &b[..]]
        .iter()
        .map(|p| order.iter().map(|n| code(p, n)).collect())
        .collect();
    let matrix = ResponseMatrix::from_triples(
        vec!["a".into(), "b".into()],
        order.iter().map(|s| s.to_string()).collect(),
        chosen.iter().map(|i| i.categories.clone()).collect(),
        &rows
            .iter()
            .enumerate()
            .flat_map(|(p, row)| {
                row.iter()
                    .enumerate()
                    .filter_map(move |(j, c)| c.map(|c| (p as u32, j as u32, c)))
            })
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let options = ScoringOptions {
        method: ScoringMethod::Map,
        ..ScoringOptions::default()
    };
    let expected = score_persons(&matrix, &chosen, &options).unwrap();
    for (s, e) in answer["scores"].as_array().unwrap().iter().zip(&expected) {
        assert!((number(&s["theta"]) - e.theta.unwrap()).abs() < 1e-9);
        assert_eq!(s["sum_score"], e.sum_score);
    }
}

#[test]
fn a_project_is_fitted_and_served() {
    let bank = ItemBank::from_project(
        &common::assets().join("sample.irtlab.json"),
        &mut |_| {},
        &std::sync::atomic::AtomicBool::new(false),
    )
    .unwrap();
    let project =
        irtlab::project::Project::load(&common::assets().join("sample.irtlab.json")).unwrap();
    let run = irtlab::project::run_project(
        &project,
        Some(&common::assets()),
        &mut |_| {},
        &std::sync::atomic::AtomicBool::new(false),
    )
    .unwrap();
    let fitted = run.analysis.calibration.item_parameters();
    assert_eq!(bank.items(), fitted.as_slice());
    let server = start_default(bank);
    let mut connection = server.connect();
    let answer = connection
        .post_json("/v1/probabilities", &json!({"theta": [0.0]}))
        .json();
    for (item, value) in fitted
        .iter()
        .zip(answer["probabilities"][0].as_array().unwrap())
    {
        if item.n_categories() == 2 {
            assert_eq!(number(value), item.probability(0.0));
        }
    }
}

// ---- errors -------------------------------------------------------------------------------

#[test]
fn every_error_class_is_json_with_its_status() {
    let options = ServeOptions {
        max_body: 2_000,
        max_array: 50,
        max_values: 100,
        ..ServeOptions::default()
    };
    let server = TestServer::start(lsat7_bank(), options);
    let mut c = server.connect();
    let json_header = [("Content-Type", "application/json")];
    let post = |c: &mut Connection, path: &str, body: &str| {
        c.request("POST", path, &json_header, body.as_bytes())
    };

    // 400: malformed JSON, with where.
    post(&mut c, "/v1/probabilities", r#"{"theta": [0.5,"#)
        .assert_error(400, &["malformed JSON", "line 1"]);
    post(&mut c, "/v1/probabilities", "").assert_error(400, &["empty"]);
    post(&mut c, "/v1/probabilities", r#"{"theta": [NaN]}"#).assert_error(400, &["malformed"]);
    post(&mut c, "/v1/probabilities", r#"{"theta": [1e999]}"#).assert_error(400, &["malformed"]);
    post(&mut c, "/v1/probabilities", r#"{"theta": [1]} trailing"#)
        .assert_error(400, &["malformed"]);
    // 400: schema violations, naming the field path.
    post(
        &mut c,
        "/v1/probabilities",
        r#"{"theta": [0.5, 1, 2, "x"]}"#,
    )
    .assert_error(400, &["/theta/3: expected a number, got a string"]);
    post(&mut c, "/v1/probabilities", r#"{"items": ["Item.1"]}"#)
        .assert_error(400, &["missing field \"theta\""]);
    post(
        &mut c,
        "/v1/probabilities",
        r#"{"theta": [1], "thetas": [2]}"#,
    )
    .assert_error(400, &["unknown field \"thetas\""]);
    post(&mut c, "/v1/probabilities", r#"{"theta": []}"#)
        .assert_error(400, &["/theta", "at least 1"]);
    post(&mut c, "/v1/probabilities", r#"{"theta": 0.5}"#)
        .assert_error(400, &["/theta: expected an array, got a number"]);
    post(&mut c, "/v1/probabilities", r#"[0.5]"#).assert_error(400, &["body: expected an object"]);
    post(&mut c, "/v1/probabilities", r#"{"theta": [1e7]}"#)
        .assert_error(400, &["/theta/0", "at most 1000000"]);
    post(
        &mut c,
        "/v1/probabilities",
        r#"{"theta": [1], "items": ["Item.1", "Item.1"]}"#,
    )
    .assert_error(400, &["/items", "repeat"]);
    let too_many: Vec<f64> = (0..51).map(|i| i as f64 / 10.0).collect();
    post(
        &mut c,
        "/v1/probabilities",
        &json!({ "theta": too_many }).to_string(),
    )
    .assert_error(400, &["/theta", "51 values", "at most 50"]);
    post(
        &mut c,
        "/v1/scores",
        r#"{"responses": [{"id": 1, "answers": {}}]}"#,
    )
    .assert_error(400, &["/responses/0/id: expected a string"]);
    post(
        &mut c,
        "/v1/scores",
        r#"{"responses": [{"id": "a", "answers": {"Item.1": [1]}}]}"#,
    )
    .assert_error(400, &["/responses/0/answers/Item.1: expected"]);
    post(
        &mut c,
        "/v1/scores",
        r#"{"responses": [{"id": "a", "answers": {}}], "method": "mle"}"#,
    )
    .assert_error(400, &["/method", "eap", "wle", "\"mle\""]);
    post(&mut c, "/v1/scores", r#"{"responses": [{"id": "a"}]}"#)
        .assert_error(400, &["/responses/0", "missing field \"answers\""]);
    c.get("/v1/probabilities?theta=abc")
        .assert_error(400, &["/theta/0", "\"abc\""]);
    c.get("/v1/probabilities?theta=1,inf")
        .assert_error(400, &["/theta/1", "finite"]);
    c.get("/v1/probabilities?theta=1&colour=red")
        .assert_error(400, &["\"colour\""]);
    c.get("/v1/probabilities")
        .assert_error(400, &["missing field \"theta\""]);
    c.get("/v1/probabilities?item=Item.1")
        .assert_error(400, &["theta"]);

    // 404: unknown route, item, schema.
    c.get("/v2/probabilities")
        .assert_error(404, &["no such route"]);
    c.get("/").assert_error(404, &[]);
    post(
        &mut c,
        "/v1/probabilities",
        r#"{"theta": [1], "items": ["Item.1", "Q9"]}"#,
    )
    .assert_error(404, &["/items/1", "unknown item \"Q9\"", "Item.1"]);
    c.get("/v1/probabilities?theta=1&item=nope")
        .assert_error(404, &["unknown item \"nope\""]);
    post(&mut c, "/v1/scores", r#"{"responses": [{"id": "a", "answers": {"Item.1": 1}}, {"id": "b", "answers": {"Q/9": 1}}]}"#)
        .assert_error(404, &["/responses/1/answers/Q~19", "unknown item"]);
    c.get("/v1/schema/nothing")
        .assert_error(404, &["no schema called \"nothing\""]);

    // 405: wrong method, with Allow.
    let reply = c.request("DELETE", "/v1/probabilities", &[], b"");
    reply.assert_error(405, &[]);
    assert!(reply.header("allow").unwrap().contains("POST"));
    post(&mut c, "/v1/health", "{}").assert_error(405, &[]);
    c.get("/v1/scores").assert_error(405, &[]);

    // 411: no length (a chunked body).
    c.send_raw(
        b"POST /v1/probabilities HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"the\r\n0\r\n\r\n",
    );
    c.read_reply().assert_error(411, &["Content-Length"]);
    // 413: above the body limit, refused from the header.
    let big = format!("{{\"theta\": [{}]}}", vec!["0.5"; 1000].join(","));
    let mut fresh = server.connect();
    post(&mut fresh, "/v1/probabilities", &big).assert_error(413, &["at most 2,000 bytes"]);

    // 415: not JSON.
    c.request(
        "POST",
        "/v1/probabilities",
        &[("Content-Type", "text/plain")],
        b"{\"theta\":[1]}",
    )
    .assert_error(415, &["application/json", "text/plain"]);
    c.request("POST", "/v1/probabilities", &[], b"{\"theta\":[1]}")
        .assert_error(415, &["Content-Type"]);
    // JSON with parameters is fine.
    let ok = c.request(
        "POST",
        "/v1/probabilities",
        &[("Content-Type", "Application/JSON; charset=utf-8")],
        b"{\"theta\":[1]}",
    );
    assert_eq!(ok.status, 200);

    // 422: valid, but cannot be computed.
    post(
        &mut c,
        "/v1/scores",
        r#"{"responses": [{"id": "a", "answers": {"Item.1": 2}}]}"#,
    )
    .assert_error(
        422,
        &["/responses/0/answers/Item.1", "not a category", "0, 1"],
    );
    post(
        &mut c,
        "/v1/scores",
        r#"{"responses": [{"id": "a", "answers": {"Item.1": "yes"}}]}"#,
    )
    .assert_error(422, &["\"yes\""]);
    let forty: Vec<f64> = (0..40).map(|i| i as f64 / 10.0).collect();
    post(
        &mut c,
        "/v1/probabilities",
        &json!({ "theta": forty }).to_string(),
    )
    .assert_error(422, &["200 probabilities", "limit of 100"]);

    // The connection is still usable after all of that.
    assert_eq!(c.get("/v1/health").status, 200);
}

#[test]
fn a_body_that_does_not_arrive_times_out() {
    let options = ServeOptions {
        body_timeout: Duration::from_millis(300),
        ..ServeOptions::default()
    };
    let server = TestServer::start(lsat7_bank(), options);
    let mut c = server.connect();
    c.send_raw(b"POST /v1/probabilities HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"theta\":");
    c.read_reply().assert_error(408, &["did not arrive"]);
}

/// Requests built from pieces of valid ones, cut, flipped and mixed at random (seeded).
fn random_request(rng: &mut SplitMix64) -> Vec<u8> {
    const PATHS: [&str; 9] = [
        "/v1/probabilities",
        "/v1/scores",
        "/v1/items",
        "/v1/health",
        "/v1/schema/scores",
        "/v1/schema/%ff%fe",
        "/v1/probabilities?theta=1e308&item=Item.1",
        "/v1/probabilities?theta=%00&item=%ff",
        "/v1/./probabilities/../x",
    ];
    const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "OPTIONS"];
    const BODIES: [&str; 14] = [
        r#"{"theta": [0.5, -1.2], "items": ["Item.1", "Item.2"]}"#,
        r#"{"responses": [{"id": "s1", "answers": {"Item.1": 1, "Item.2": 0}}], "method": "wle"}"#,
        r#"{"responses": [{"id": "s1", "answers": {"Item.1": 1e308, "Item.2": -0.0}}], "method": "ml"}"#,
        r#"{"theta": [1.7976931348623157e308, -1e6, 1e6, 5e-324]}"#,
        r#"{"theta": [0.5], "items": null}"#,
        r#"{"responses": [{"id": "", "answers": {"": null}}], "method": null}"#,
        r#"{"theta": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#,
        r#"{"theta": "\u0000\ud800"}"#,
        r#"{"theta": [1], "items": ["\u0000", "Item.1\n"]}"#,
        "\u{feff}{\"theta\": [1]}",
        "null",
        "true",
        "{}",
        "{\"theta\": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2]}",
    ];
    let pick = |rng: &mut SplitMix64, n: usize| (rng.uniform() * n as f64) as usize % n;
    let method = METHODS[pick(rng, METHODS.len())];
    let path = PATHS[pick(rng, PATHS.len())];
    let mut body = BODIES[pick(rng, BODIES.len())].as_bytes().to_vec();
    match pick(rng, 5) {
        0 => {
            let cut = pick(rng, body.len() + 1);
            body.truncate(cut);
        }
        1 => {
            for _ in 0..1 + pick(rng, 4) {
                if !body.is_empty() {
                    let at = pick(rng, body.len());
                    body[at] = (rng.next_u64() & 0xff) as u8;
                }
            }
        }
        2 => {
            let other = BODIES[pick(rng, BODIES.len())].as_bytes();
            let cut = pick(rng, body.len() + 1);
            body.truncate(cut);
            body.extend_from_slice(&other[pick(rng, other.len() + 1)..]);
        }
        3 => {
            // Deep nesting: serde_json's recursion limit answers it, without a stack overflow.
            body = format!("{{\"theta\": {}1{}}}", "[".repeat(5000), "]".repeat(5000)).into_bytes();
        }
        _ => {}
    }
    let content_type = [
        "application/json",
        "text/plain",
        "application/json; charset=latin1",
    ][pick(rng, 3)];
    request_bytes(
        method,
        path,
        &[("Content-Type", content_type), ("Connection", "close")],
        &body,
    )
}

#[test]
fn no_input_gives_a_500() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(
        bank_from_table(&mixed_items(), dir.path()),
        ServeOptions::default(),
    );
    let mut rng = SplitMix64::new(2024);
    let mut statuses = std::collections::BTreeMap::new();
    for _ in 0..1500 {
        let request = random_request(&mut rng);
        // A fresh connection each time (`Connection: close`): a request hyper itself refuses
        // closes the connection anyway. The write side stays open, as HTTP clients keep it.
        let mut stream = TcpStream::connect(server.address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.write_all(&request).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer);
        let status: u16 = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no answer to {:?}", String::from_utf8_lossy(&request)));
        assert!(
            status < 500,
            "{status} for {:?}: {text}",
            String::from_utf8_lossy(&request)
        );
        if status >= 400 {
            let body = &text[text.find("\r\n\r\n").map_or(0, |i| i + 4)..];
            // Every error the service answers is its JSON; hyper's own refusals of broken
            // HTTP (400 with no body) are the one exception.
            if !body.is_empty() {
                let value: Value =
                    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
                assert_eq!(value["result"], json!(status));
            }
        }
        *statuses.entry(status).or_insert(0) += 1;
    }
    // The mix reached the answers and the errors both.
    for status in [200, 400, 404, 405, 415] {
        assert!(statuses.contains_key(&status), "{statuses:?}");
    }
    // Still serving.
    assert_eq!(server.connect().get("/v1/health").status, 200);
}

async fn boom() -> &'static str {
    panic!("test panic")
}

#[test]
fn a_panicking_handler_answers_500_json_and_the_server_lives_on() {
    use axum::Router;
    use axum::routing::get;
    let router = Router::new()
        .route("/boom", get(boom))
        .route("/fine", get(|| async { "fine" }));
    let app = irtlab::serve::common_layers(router, false);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await });
    let mut c = Connection::open(address);
    c.get("/boom")
        .assert_error(500, &["internal error", "test panic"]);
    let fine = c.get("/fine");
    assert_eq!(fine.status, 200);
    assert_eq!(fine.body, b"fine");
}

// ---- concurrency and shutdown -------------------------------------------------------------

#[test]
fn concurrent_clients_get_the_same_answers() {
    let server = start_default(lsat7_bank());
    let mut reference = server.connect();
    let probabilities_body = json!({"theta": [-1.0, 0.0, 1.5]});
    let expected_probabilities = reference
        .post_json("/v1/probabilities", &probabilities_body)
        .body;
    let scores_body = lsat7_request(&lsat7().select_persons(&[0, 100, 500, 999]), "eap");
    let expected_scores = reference.post_json("/v1/scores", &scores_body).body;
    let address = server.address;
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let (pb, sb) = (probabilities_body.clone(), scores_body.clone());
            let (ep, es) = (expected_probabilities.clone(), expected_scores.clone());
            std::thread::spawn(move || {
                let mut c = Connection::open(address);
                for i in 0..40 {
                    match (t + i) % 4 {
                        0 => assert_eq!(c.post_json("/v1/probabilities", &pb).body, ep),
                        1 => assert_eq!(c.post_json("/v1/scores", &sb).body, es),
                        2 => assert_eq!(c.get("/v1/health").status, 200),
                        _ => assert_eq!(c.get("/nothing").status, 404),
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn stopping_lets_a_request_in_flight_finish() {
    let server = start_default(lsat7_bank());
    let body = br#"{"theta": [0.25]}"#;
    // Headers and part of the body, then the stop signal, then the rest.
    let mut c = server.connect();
    let head = format!(
        "POST /v1/probabilities HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    c.send_raw(head.as_bytes());
    c.send_raw(&body[..8]);
    std::thread::sleep(Duration::from_millis(100));
    let address = server.address;
    let stopper = std::thread::spawn(move || server.stop());
    std::thread::sleep(Duration::from_millis(300));
    c.send_raw(&body[8..]);
    let reply = c.read_reply();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("connection"), Some("close"));
    stopper.join().unwrap().unwrap();
    assert!(TcpStream::connect(address).is_err(), "still listening");
}

#[test]
fn bad_settings_and_banks_are_refused_before_serving() {
    let options = ServeOptions {
        max_array: 0,
        ..ServeOptions::default()
    };
    let error = irtlab::serve::run(lsat7_bank(), options, |_, _| {}, async {}).unwrap_err();
    assert!(error.to_string().contains("array limit"), "{error}");
    let error = ItemBank::new(Vec::new(), 1.0, ScoringOptions::default(), "x").unwrap_err();
    assert!(error.to_string().contains("no items"));
    let mut items = spread_items(2, 0.0, 1);
    items[1].item = items[0].item.clone();
    let error = ItemBank::new(items, 1.0, ScoringOptions::default(), "x").unwrap_err();
    assert!(error.to_string().contains("twice"), "{error}");
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "items.csv", b"item,a\nQ1,1\n");
    let error = ItemBank::from_items_table(&path, 1.0).unwrap_err();
    assert!(error.to_string().contains("items.csv"), "{error}");
    // A port already taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let options = ServeOptions {
        port: taken.local_addr().unwrap().port(),
        ..ServeOptions::default()
    };
    let error = irtlab::serve::run(lsat7_bank(), options, |_, _| {}, async {}).unwrap_err();
    assert!(
        error.to_string().contains("cannot listen on 127.0.0.1:"),
        "{error}"
    );
}

// ---- the binary ---------------------------------------------------------------------------

#[test]
fn the_command_serves_logs_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        dir.path(),
        "items.csv",
        b"item,a,b,c\nQ01,1.2,-0.5,\nQ02,0.8,0.3,0.2\n",
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_irtlab"))
        .args(["serve", "--item-parameters"])
        .arg(&path)
        .args(["--port", "0", "--log", "--workers", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(
        line.contains("2 items") && line.contains("items.csv"),
        "{line}"
    );
    let address: SocketAddr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    let mut c = Connection::open(address);
    let answer = c.get("/v1/probabilities?theta=0.5&item=Q02").json();
    let expected = ItemParameters::dichotomous("Q02", 0.8, 0.3, 0.2, 1.0).probability(0.5);
    assert_eq!(number(&answer["probabilities"][0][0]), expected);
    c.get("/missing").assert_error(404, &[]);
    drop(c);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{:?}", output.status);
    let log = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines[0].starts_with("GET /v1/probabilities 200 "), "{log}");
    assert!(lines[0].ends_with("µs"), "{log}");
    assert!(lines[1].starts_with("GET /missing 404 "), "{log}");
    assert!(log.contains("stopped"), "{log}");
}

#[test]
fn the_command_refuses_a_bad_bank_in_one_line() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_irtlab"))
        .args([
            "serve",
            "--item-parameters",
            "/nonexistent/items.csv",
            "--port",
            "0",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("/nonexistent/items.csv"), "{stderr}");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_irtlab"))
        .args(["serve", "--port", "0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
}
