//! Against the real local Rekor v1 (layer 4 of scripts/test.sh), with two small in-test network
//! doubles, each named for what it is:
//! - FrozenShardStub: an HTTP server answering every request 405 with rekor-tiles' / Rekor's frozen-log
//!   message, registered in rekor_logs as a second (newer) shard of the same operator;
//! - DelayProxy: a TCP proxy in front of the real Rekor that holds every client→Rekor read for a
//!   while, so each submission is slow.
//!
//! Pinned: a frozen shard (405, or valid_until passed) routes to the active log of its operator
//! without costing the item an attempt; a slow Rekor makes the submitter extend its leases
//! (rekor_extend_lease) and a second worker takes none of the leased items meanwhile.
use postgres::Client;
use rekor_meta_client_tests::rekor::*;
use rekor_meta_client_tests::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A test double of a frozen Rekor shard: answers every HTTP request with 405 and counts them.
struct FrozenShardStub {
    url: String,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FrozenShardStub {
    fn start() -> FrozenShardStub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        let _ = conn.set_nonblocking(false);
                        let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                        if read_request(&mut conn) {
                            r.fetch_add(1, Ordering::SeqCst);
                            let body = r#"{"code":405,"message":"This log has been frozen, please switch to the latest log."}"#;
                            let _ = write!(
                                conn,
                                "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                                body.len()
                            );
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        FrozenShardStub { url, requests, stop }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for FrozenShardStub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads one HTTP request (headers and a Content-Length body); false when the peer went away.
fn read_request(conn: &mut TcpStream) -> bool {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                match conn.read(&mut chunk) {
                    Ok(0) | Err(_) => return false,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            return true;
        }
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A test double of a slow network path: a TCP proxy to `upstream` that sleeps `delay` before it
/// forwards each read from the client (so every request, on a new or a reused connection, waits).
struct DelayProxy {
    url: String,
    stop: Arc<AtomicBool>,
}

impl DelayProxy {
    fn start(upstream: &str, delay: Duration) -> DelayProxy {
        let target = upstream.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = client.set_nonblocking(false);
                let Ok(server) = TcpStream::connect(&target) else { continue };
                let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    loop {
                        match c_in.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                std::thread::sleep(delay);
                                if s_out.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    let _ = s_out.shutdown(std::net::Shutdown::Write);
                });
                let (mut s_in, mut c_out) = (server, client);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s_in, &mut c_out);
                    let _ = c_out.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        DelayProxy { url, stop }
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn setup(name: &str) -> (Client, String, LocalRekor, Vec<u8>) {
    let rekor = LocalRekor::from_env();
    let mut c = fresh_db(name);
    apply_submitter_schema(&mut c);
    let active = rekor.trust(&mut c);
    let db: String = c.query_one("SELECT current_database()", &[]).unwrap().get(0);
    (c, db, rekor, active)
}

fn enqueue_n(c: &mut Client, signer: &TestSigner, tag: &str, n: usize) -> Vec<i64> {
    (0..n)
        .map(|i| {
            let env = signer.envelope(&format!("{tag}-{i}"), &openvex(&format!("{tag}-{i}"), "CVE-2026-42000", &format!("pkg:generic/{tag}-{i}@1")));
            c.query_one("SELECT rekor_enqueue($1::text::jsonb, verifier => $2)", &[&env.to_string(), &signer.public_pem])
                .unwrap_or_else(|e| panic!("rekor_enqueue: {e:?}"))
                .get(0)
        })
        .collect()
}

/// Every item submitted, leased once, in log `log_id`, and re-verified.
fn assert_all_in(c: &mut Client, ids: &[i64], log_id: &[u8]) {
    let r = c
        .query_one(
            "SELECT count(*) FILTER (WHERE q.state = 'submitted'), max(q.attempts),
                    bool_and(e.log_id = $2), bool_and(rekor_verify_inclusion(q.entry_id))
             FROM rekor_submission_queue q LEFT JOIN rekor_entries e USING (entry_id) WHERE q.queue_id = ANY ($1)",
            &[&ids, &log_id],
        )
        .unwrap();
    assert_eq!(r.get::<_, i64>(0), ids.len() as i64, "all submitted");
    assert_eq!(r.get::<_, i32>(1), 1, "routing cost no attempt: every item leased once");
    assert_eq!(r.get::<_, Option<bool>>(2), Some(true), "every entry is in the active log");
    assert_eq!(r.get::<_, Option<bool>>(3), Some(true), "every entry re-verifies");
}

fn run(db: &str, worker: &str, extra: &[&str]) -> Summary {
    let child = spawn_submitter(&conninfo(db), worker, extra);
    let (status, s) = wait_submitter(child, Duration::from_secs(180));
    assert!(status.success(), "submitter: {status}\n{}", tail(&s.stderr, 30));
    s
}

#[test]
#[ignore = "needs the local Rekor: layer 4 of scripts/test.sh"]
fn a_frozen_v1_shard_routes_to_the_active_log_of_its_operator_on_405_and_after_valid_until() {
    let (mut c, db, rekor, active) = setup("pipe_frozen");
    let stub = FrozenShardStub::start();
    // The stub is a newer shard of the same operator (signer name), with its own key: the newest
    // endpoint, so the submitter writes to it first.
    let shard_key = TestSigner::new();
    let frozen: Vec<u8> = c
        .query_one("SELECT rekor_add_log($1, $2)", &[&shard_key.public_pem, &rekor.hostname])
        .unwrap()
        .get(0);
    c.execute("SELECT rekor_set_log_endpoint($1, $2, 1)", &[&frozen, &stub.url]).unwrap();
    let newest: Vec<u8> = c.query_one("SELECT log_id FROM rekor_log_endpoints LIMIT 1", &[]).unwrap().get(0);
    assert_eq!(newest, frozen, "the frozen shard is the newest endpoint");
    let signer = TestSigner::new();
    let run_id = std::process::id();
    let size0 = rekor.tree_size();

    // 405 from the endpoint the database gave: routed to the active log at once.
    let ids = enqueue_n(&mut c, &signer, &format!("frozen-a-{run_id}"), 12);
    let s = run(&db, "w-frozen-a", &["--concurrency", "2", "--batch", "4"]);
    assert_eq!((s.get("submitted"), s.get("dead"), s.get("retried")), (12, 0, 0), "{:?}", s.fields);
    let hits = stub.requests();
    assert!((1..=2).contains(&hits), "each worker thread meets the 405 at most once: {hits}");
    assert_all_in(&mut c, &ids, &active);

    // 405 from --rekor-url: routed to the active log of the operator of that URL.
    let ids = enqueue_n(&mut c, &signer, &format!("frozen-b-{run_id}"), 4);
    let s = run(&db, "w-frozen-b", &["--rekor-url", &stub.url, "--concurrency", "1"]);
    assert_eq!((s.get("submitted"), s.get("dead")), (4, 0), "{:?}", s.fields);
    assert_eq!(stub.requests(), hits + 1, "one 405, then the active log");
    assert_all_in(&mut c, &ids, &active);

    // The shard's valid_until passed: it is not written to at all.
    c.execute("UPDATE rekor_logs SET valid_until = now() - interval '1 second' WHERE log_id = $1", &[&frozen]).unwrap();
    let before = stub.requests();
    let ids = enqueue_n(&mut c, &signer, &format!("frozen-c-{run_id}"), 4);
    let s = run(&db, "w-frozen-c", &["--concurrency", "2"]);
    assert_eq!((s.get("submitted"), s.get("dead")), (4, 0), "{:?}", s.fields);
    assert_eq!(stub.requests(), before, "a shard past valid_until is never contacted");
    assert_all_in(&mut c, &ids, &active);
    assert_eq!(rekor.tree_size(), size0 + 20, "each envelope logged once, in the active log");
}

#[test]
#[ignore = "needs the local Rekor: layer 4 of scripts/test.sh"]
fn a_slow_rekor_makes_the_submitter_extend_its_leases_and_a_second_worker_takes_none_of_them() {
    let (mut c, db, rekor, _) = setup("pipe_lease");
    let proxy = DelayProxy::start(&rekor.url, Duration::from_millis(1000));
    let signer = TestSigner::new();
    let n = 24;
    let ids = enqueue_n(&mut c, &signer, &format!("lease-{}", std::process::id()), n);
    let size0 = rekor.tree_size();
    // One thread leases all 24 for 20 s; each submission takes ≥ 1 s through the proxy, so the
    // batch outlasts the lease. The submitter keeps 2 × timeout + 5 s = 15 s of lease ahead.
    let slow = spawn_submitter(
        &conninfo(&db),
        "w-slow",
        &["--rekor-url", &proxy.url, "--concurrency", "1", "--batch", "24", "--lease", "20", "--http-timeout", "5"],
    );
    let t = Instant::now();
    loop {
        let leased: i64 = c
            .query_one("SELECT count(*) FROM rekor_submission_queue WHERE state = 'leased' AND lease_owner = 'w-slow/0'", &[])
            .unwrap()
            .get(0);
        if leased as usize == n {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "the slow worker never leased the batch ({leased})");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A second worker, polling every 200 ms straight to Rekor: it would take any item whose lease ran out.
    let other = spawn_submitter(&conninfo(&db), "w-other", &["--rekor-url", &rekor.url, "--concurrency", "2", "--batch", "24"]);
    let (st, slow_sum) = wait_submitter(slow, Duration::from_secs(240));
    assert!(st.success(), "{}", tail(&slow_sum.stderr, 20));
    let (st, other_sum) = wait_submitter(other, Duration::from_secs(60));
    assert!(st.success(), "{}", tail(&other_sum.stderr, 20));
    let took = t.elapsed();
    eprintln!("slow batch: {took:?}, {:?}; other: {:?}", slow_sum.fields, other_sum.fields);
    assert!(took > Duration::from_secs(20), "the batch must outlast the 20 s lease to show anything: {took:?}");
    assert!(slow_sum.get("lease_extensions") > 0, "rekor_extend_lease was called: {:?}", slow_sum.fields);
    assert_eq!((slow_sum.get("submitted"), slow_sum.get("lease_lost"), slow_sum.get("conflicts")), (n as u64, 0, 0), "{:?}", slow_sum.fields);
    assert_eq!((other_sum.get("submitted"), other_sum.get("conflicts"), other_sum.get("retried")), (0, 0, 0), "{:?}", other_sum.fields);
    let r = c
        .query_one(
            "SELECT count(*) FILTER (WHERE state = 'submitted'), max(attempts) FROM rekor_submission_queue WHERE queue_id = ANY ($1)",
            &[&ids],
        )
        .unwrap();
    assert_eq!((r.get::<_, i64>(0), r.get::<_, i32>(1)), (n as i64, 1), "submitted, each leased once");
    assert_eq!(rekor.tree_size(), size0 + n as u64, "nothing logged twice");
}
