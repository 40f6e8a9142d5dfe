//! `monitor`: polls the log's checkpoint (v1: GET /api/v1/log; v2: GET /checkpoint) and the
//! consistency proof from the last witnessed size (v1: GET /api/v1/log/proof; v2: built from the
//! tiles) and feeds rekor_witness_checkpoint, so the database keeps a verified, consistent view of
//! the log. A fork, a bad proof or a bad signature is logged as an
//! error (the database records the fork evidence itself).
use crate::config::Config;
use crate::db::Db;
use crate::metrics::Metrics;
use crate::rekor::Rekor;
use postgres::types::Type;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const WITNESS: &str = "SELECT status, tree_size, checkpoint_id, detail FROM rekor_witness_checkpoint($1, $2, $3::bytea[])";

pub struct Answer {
    pub status: String,
    pub tree_size: i64,
    pub checkpoint_id: Option<i64>,
    pub detail: Option<String>,
    /// Stored checkpoints of the log newly proven consistent with the witnessed one.
    pub linked: usize,
}

const UNLINKED: &str = "SELECT c.checkpoint_id, c.tree_size FROM rekor_checkpoints c
    JOIN rekor_checkpoints w ON w.checkpoint_id = $1 AND w.log_id = c.log_id
    WHERE c.tree_size > 0 AND c.tree_size < w.tree_size
      AND NOT EXISTS (SELECT 1 FROM rekor_checkpoint_consistency k WHERE k.older_id = c.checkpoint_id)
    ORDER BY c.tree_size LIMIT 200";
const LINK: &str = "SELECT rekor_verify_checkpoint_consistency($1, $2, $3::bytea[])";

/// The log's current checkpoint: (signed note, size, Rekor v1 tree ID).
fn latest(rekor: &Rekor, version: u8, base: &str) -> anyhow::Result<(String, u64, Option<String>)> {
    if version == 2 {
        let cp = rekor
            .v2_checkpoint(base)
            .map_err(|o| anyhow::anyhow!("GET {base}/checkpoint: {o:?}"))?;
        return Ok((cp.note, cp.size, None));
    }
    let info = rekor.log_info(base)?;
    let note = info
        .get("signedTreeHead")
        .and_then(|v| v.as_str())
        .ok_or_else(|| anyhow::anyhow!("no signedTreeHead"))?;
    let size = info
        .get("treeSize")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| anyhow::anyhow!("no treeSize"))?;
    let tree_id = info.get("treeID").and_then(|v| v.as_str()).map(str::to_string);
    Ok((note.to_string(), size, tree_id))
}

fn consistency(
    rekor: &Rekor,
    version: u8,
    base: &str,
    old: u64,
    size: u64,
    tree_id: Option<&str>,
) -> anyhow::Result<Vec<Vec<u8>>> {
    if version == 2 {
        rekor.v2_consistency(base, old, size)
    } else {
        rekor.consistency(base, old, size, tree_id)
    }
}

/// Proves every stored checkpoint of the log older than the witnessed one (`newer`, of `size`)
/// and not yet linked consistent with it (rekor_verify_checkpoint_consistency records the link):
/// the entries' checkpoints then count in rekor_log_status.all_consistent. At most 200 per poll.
fn link_older(
    rekor: &Rekor,
    version: u8,
    db: &mut Db,
    base: &str,
    newer: i64,
    size: u64,
    tree_id: Option<&str>,
) -> anyhow::Result<usize> {
    let rows = db
        .call("unlinked", |c| {
            c.query_typed(UNLINKED, &[(&newer, Type::INT8)])
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut linked = 0;
    for r in rows {
        let id: i64 = r.try_get(0)?;
        let older: i64 = r.try_get(1)?;
        let proof = consistency(rekor, version, base, u64::try_from(older)?, size, tree_id)?;
        let rows = db
            .call("link", |c| {
                c.query_typed(
                    LINK,
                    &[
                        (&id, Type::INT8),
                        (&newer, Type::INT8),
                        (&proof, Type::BYTEA_ARRAY),
                    ],
                )
            })
            .map_err(|e| {
                anyhow::anyhow!("rekor_verify_checkpoint_consistency({id}, {newer}): {e}")
            })?;
        let ok: Option<bool> = rows.first().and_then(|r| r.try_get(0).ok());
        if ok != Some(true) {
            anyhow::bail!("checkpoint {id} (size {older}) is NOT consistent with checkpoint {newer} (size {size})");
        }
        linked += 1;
    }
    Ok(linked)
}

/// One poll: fetches the checkpoint and proof, witnesses it (re-asking once with the witness's
/// size after an old_size_mismatch). `known` is the last witnessed size, updated.
pub fn poll_once(
    rekor: &Rekor,
    version: u8,
    db: &mut Db,
    base: &str,
    known: &mut u64,
) -> anyhow::Result<Answer> {
    let (note, size, tree_id) = latest(rekor, version, base)?;
    for _ in 0..2 {
        let old = (*known).min(size);
        let proof = if old == 0 || old == size {
            Vec::new()
        } else {
            consistency(rekor, version, base, old, size, tree_id.as_deref())?
        };
        let old_i = i64::try_from(old)?;
        let rows = db
            .call("witness", |c| {
                c.query_typed(
                    WITNESS,
                    &[
                        (&note, Type::TEXT),
                        (&old_i, Type::INT8),
                        (&proof, Type::BYTEA_ARRAY),
                    ],
                )
            })
            .map_err(|e| anyhow::anyhow!("rekor_witness_checkpoint: {e}"))?;
        let r = rows
            .first()
            .ok_or_else(|| anyhow::anyhow!("rekor_witness_checkpoint returned no row"))?;
        let mut a = Answer {
            status: r.try_get(0)?,
            tree_size: r.try_get::<_, Option<i64>>(1)?.unwrap_or(0),
            checkpoint_id: r.try_get(2)?,
            detail: r.try_get(3)?,
            linked: 0,
        };
        if a.status == "old_size_mismatch" && u64::try_from(a.tree_size).is_ok_and(|s| s != old) {
            *known = u64::try_from(a.tree_size)?;
            continue;
        }
        if a.status == "ok" {
            *known = size;
            if let Some(id) = a.checkpoint_id {
                a.linked = link_older(rekor, version, db, base, id, size, tree_id.as_deref())?;
            }
        }
        return Ok(a);
    }
    anyhow::bail!("the witnessed size kept changing")
}

pub fn run(
    cfg: &Config,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
    iterations: u64,
) -> anyhow::Result<()> {
    let base = cfg
        .rekor_url
        .clone()
        .ok_or_else(|| anyhow::anyhow!("monitor needs --rekor-url"))?;
    let rekor = Rekor::new(cfg.http_timeout, metrics.clone());
    let mut db = Db::new(&cfg.dsn, metrics.clone(), stop.clone());
    let mut known = 0u64;
    let mut n = 0u64;
    let mut bad = 0u64;
    while !stop.load(Ordering::Relaxed) && (iterations == 0 || n < iterations) {
        n += 1;
        match poll_once(&rekor, cfg.log_version, &mut db, &base, &mut known) {
            Ok(a) => {
                metrics
                    .witness
                    .with_label_values(&[a.status.as_str()])
                    .inc();
                match a.status.as_str() {
                    "ok" => tracing::info!(tree_size = a.tree_size, linked = a.linked,
                        "checkpoint witnessed, consistent with the last one; older stored checkpoints proven consistent"),
                    s => {
                        bad += 1;
                        tracing::error!(status = s, tree_size = a.tree_size, detail = a.detail.as_deref().unwrap_or(""),
                            "THE LOG'S CHECKPOINT WAS NOT ACCEPTED BY THE WITNESS")
                    }
                }
            }
            Err(e) => {
                metrics.witness.with_label_values(&["error"]).inc();
                tracing::warn!(error = %e, "monitor poll failed");
            }
        }
        if iterations != 0 && n >= iterations {
            break;
        }
        let until = std::time::Instant::now() + cfg.monitor_interval;
        while std::time::Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    if bad > 0 {
        anyhow::bail!("{bad} checkpoint(s) not accepted by the witness");
    }
    Ok(())
}
