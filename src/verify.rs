//! `coffer verify`: an offline integrity check of a stopped data directory.
//!
//! It finds the root key exactly as `coffer serve` does (and so refuses a wrong one), opens the
//! store *without* the start-up sweep (so it can report what a crash left), then walks every
//! object of every bucket: unwraps its data key, decrypts every chunk through the same reader a
//! GET uses (position, final flag and length checked), and compares the plaintext with the
//! stored checksums and, for single-part SSE-S3 objects, the MD5 ETag. Each failure names its
//! bucket and key. It also lists streams that have chunks but no record: those in `orphans`
//! (left by an interrupted write; the next `serve` removes them) and any others (a leak).
//!
//! It writes nothing to the objects; it reads every byte, so it takes as long as reading the
//! whole store. SSE-C objects cannot be decrypted without the customer's key: their chunk lists
//! are checked for completeness and they are counted as skipped.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::Arc;

use crate::app::{DevRootKey, StartError, open_kms, open_store};
use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::service::Service;
use crate::service::digest::{BodyChecks, ChecksumAlgorithm, Digests};
use crate::sse::chunk::chunk_count;
use crate::storage::records::{ObjectRecord, SseMode};
use crate::storage::{Store, StreamId};

/// One object that failed its check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub bucket: String,
    pub key: String,
    pub reason: String,
}

/// What `verify` found.
#[derive(Debug, Default)]
pub struct Report {
    pub objects: u64,
    pub bytes: u64,
    /// SSE-C objects: chunk lists checked, contents not decryptable without the customer key.
    pub skipped: u64,
    pub failures: Vec<Failure>,
    /// Streams listed in `orphans` (interrupted or replaced writes) or held by a part whose
    /// upload is gone: swept at the next start.
    pub orphan_streams: Vec<(StreamId, u64)>,
    /// Streams of parts of multipart uploads in progress (kept until completed or aborted).
    pub upload_part_streams: u64,
    /// Streams with chunks that no record references and `orphans` does not list: a leak.
    pub unreferenced_streams: Vec<(StreamId, u64)>,
    /// Buckets whose object listing could not be read at all.
    pub unreadable: Vec<(String, String)>,
}

impl Report {
    /// True when every object verified and nothing leaked.
    pub fn is_clean(&self) -> bool {
        self.failures.is_empty()
            && self.unreferenced_streams.is_empty()
            && self.unreadable.is_empty()
    }
}

/// Opens the data directory of `cfg` and verifies it.
pub fn verify_data_dir(cfg: &Config) -> Result<Report, StartError> {
    cfg.validate()?;
    // On shared backends there may be no local database at all.
    if cfg.storage.is_local() && !cfg.data_dir.join("db").exists() {
        return Err(StartError::Store {
            path: cfg.data_dir.join("db"),
            message: "no Coffer store here".into(),
        });
    }
    let store = open_store(cfg, false)?;
    let clock: SharedClock = Arc::new(SystemClock);
    let (kms, _root, _dev) = open_kms(cfg, &store, clock.clone(), DevRootKey::MustExist)?;
    let service = Service::new(store.clone(), kms, clock, cfg.region.clone());
    Ok(verify_store(&store, &service))
}

/// Walks every object of `store`, reading through `service`.
pub fn verify_store(store: &Store, service: &Service) -> Report {
    let mut report = Report::default();
    let mut referenced: BTreeSet<StreamId> = BTreeSet::new();
    let buckets = match store.list_buckets() {
        Ok(b) => b,
        Err(e) => {
            report.unreadable.push(("(buckets)".into(), e.to_string()));
            return report;
        }
    };
    for (bucket, _) in buckets {
        let iter = match store.list_objects_from(&bucket, b"") {
            Ok(it) => it,
            Err(e) => {
                report.unreadable.push((bucket.clone(), e.to_string()));
                continue;
            }
        };
        for item in iter {
            let (key, record) = match item {
                Ok(kv) => kv,
                Err(e) => {
                    report.unreadable.push((bucket.clone(), e.to_string()));
                    break;
                }
            };
            report.objects += 1;
            referenced.extend(record.stream_ids());
            match verify_object(store, service, &record) {
                Ok(Checked::Verified) => report.bytes += record.size,
                Ok(Checked::Skipped) => report.skipped += 1,
                Err(reason) => report.failures.push(Failure {
                    bucket: bucket.clone(),
                    key,
                    reason,
                }),
            }
        }
    }
    let mut orphans: BTreeSet<StreamId> = match store.orphan_streams() {
        Ok(o) => o.into_iter().collect(),
        Err(e) => {
            report.unreadable.push(("(orphans)".into(), e.to_string()));
            BTreeSet::new()
        }
    };
    match store.part_streams() {
        Ok(parts) => {
            report.upload_part_streams = parts.in_progress.len() as u64;
            referenced.extend(parts.in_progress);
            orphans.extend(parts.stray.into_iter().map(|(_, s)| s));
        }
        Err(e) => report
            .unreadable
            .push(("(multipart parts)".into(), e.to_string())),
    }
    match store.all_chunk_streams() {
        Ok(streams) => {
            for s in streams {
                if referenced.contains(&s) {
                    continue;
                }
                let n = store.count_chunks(&s).unwrap_or(0);
                if orphans.contains(&s) {
                    report.orphan_streams.push((s, n));
                } else {
                    report.unreferenced_streams.push((s, n));
                }
            }
        }
        Err(e) => report.unreadable.push(("(chunks)".into(), e.to_string())),
    }
    report
}

/// One digest per expected checksum, in the same order.
fn checksum_digests(sums: &[(ChecksumAlgorithm, &String)]) -> Vec<Digests> {
    sums.iter()
        .map(|(a, _)| {
            Digests::new(
                BodyChecks {
                    checksum: Some((*a, None)),
                    ..Default::default()
                },
                false,
            )
        })
        .collect()
}

/// The algorithm of the first checksum the digests do not reproduce, if any.
fn first_mismatch(
    digests: Vec<Digests>,
    sums: &[(ChecksumAlgorithm, &String)],
) -> Result<Option<&'static str>, String> {
    for (d, (alg, want)) in digests.into_iter().zip(sums) {
        let got = d.finish().map_err(|e| e.to_string())?;
        if got.checksums.get(alg.name()) != Some(*want) {
            return Ok(Some(alg.name()));
        }
    }
    Ok(None)
}

enum Checked {
    Verified,
    Skipped,
}

fn verify_object(store: &Store, service: &Service, rec: &ObjectRecord) -> Result<Checked, String> {
    let parts_size: u64 = rec.parts.iter().map(|p| p.size).sum();
    if parts_size != rec.size || rec.parts.is_empty() {
        return Err(format!(
            "record size {} does not match its {} parts ({parts_size} bytes)",
            rec.size,
            rec.parts.len()
        ));
    }
    // The chunk list of every stream is complete, with nothing past its end.
    for p in &rec.parts {
        let want = chunk_count(p.size);
        let have = store
            .count_chunks(&p.stream_id)
            .map_err(|e| e.to_string())?;
        if have != want {
            return Err(format!(
                "part {} has {have} chunks, expected {want}",
                p.part_number
            ));
        }
    }
    if rec.sse.mode == SseMode::Customer {
        return Ok(Checked::Skipped);
    }
    // Only full-object checksums can be recomputed; composite (multipart) ones end in "-N".
    let sums: Vec<(ChecksumAlgorithm, &String)> = rec
        .checksums
        .iter()
        .filter(|(_, v)| !v.contains('-'))
        .filter_map(|(name, v)| ChecksumAlgorithm::from_name(name).map(|a| (a, v)))
        .collect();
    let check_md5 = rec.sse.mode == SseMode::S3 && rec.parts.len() == 1 && !rec.etag.contains('-');
    let mut digests = checksum_digests(&sums);
    let mut md5 = Digests::new(BodyChecks::default(), check_md5);
    // Composite checksums cannot be recomputed from the body alone, but each part keeps its
    // own checksum (objects completed since parts kept them): check those part by part.
    let part_sums: Vec<Vec<(ChecksumAlgorithm, &String)>> = rec
        .parts
        .iter()
        .map(|p| {
            p.checksums
                .iter()
                .filter_map(|(name, v)| ChecksumAlgorithm::from_name(name).map(|a| (a, v)))
                .collect()
        })
        .collect();
    let mut part = 0usize;
    let mut part_end = rec.parts[0].size;
    let mut part_digests = checksum_digests(&part_sums[0]);

    let mut reader = service
        .open_object(rec, None, None)
        .map_err(|e| format!("cannot open: {e}"))?;
    reader
        .verify_empty()
        .map_err(|e| format!("decrypt failed: {e}"))?;
    let mut len = 0u64;
    while let Some(piece) = reader
        .next_chunk()
        .map_err(|e| format!("decrypt failed at byte {len}: {e}"))?
    {
        len += piece.len() as u64;
        for d in digests.iter_mut().chain(part_digests.iter_mut()) {
            d.update(&piece);
        }
        md5.update(&piece);
        // A piece never spans two parts (each part is its own stream of chunks).
        while len == part_end && part < rec.parts.len() {
            if let Some(alg) = first_mismatch(std::mem::take(&mut part_digests), &part_sums[part])?
            {
                let n = rec.parts[part].part_number;
                return Err(format!("part {n} {alg} checksum mismatch"));
            }
            part += 1;
            if let Some(next) = rec.parts.get(part) {
                part_end += next.size;
                part_digests = checksum_digests(&part_sums[part]);
            }
        }
    }
    if len != rec.size {
        return Err(format!("decrypted {len} bytes, record says {}", rec.size));
    }
    if let Some(alg) = first_mismatch(digests, &sums)? {
        return Err(format!("{alg} checksum mismatch"));
    }
    if check_md5 {
        let got = md5.finish().map_err(|e| e.to_string())?;
        if got.md5.map(hex::encode).as_deref() != Some(rec.etag.as_str()) {
            return Err("ETag (MD5 of the plaintext) mismatch".into());
        }
    }
    Ok(Checked::Verified)
}

/// Prints the report; one line per problem, a summary last.
pub fn print_report(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    for f in &r.failures {
        writeln!(out, "FAIL {}/{}: {}", f.bucket, f.key, f.reason)?;
    }
    for (what, e) in &r.unreadable {
        writeln!(out, "FAIL {what}: cannot read: {e}")?;
    }
    for (s, n) in &r.unreferenced_streams {
        writeln!(
            out,
            "LEAK stream {} ({n} chunks) is referenced by no object and not listed as orphaned",
            s.to_hex()
        )?;
    }
    for (s, n) in &r.orphan_streams {
        writeln!(
            out,
            "orphan stream {} ({n} chunks) left by an interrupted or replaced write; the next \
             `coffer serve` removes it",
            s.to_hex()
        )?;
    }
    writeln!(
        out,
        "{}: {} objects, {} bytes verified, {} skipped (SSE-C), {} failed, {} parts of uploads \
         in progress, {} orphaned and {} leaked streams",
        if r.is_clean() { "OK" } else { "FAILED" },
        r.objects,
        r.bytes,
        r.skipped,
        r.failures.len(),
        r.upload_part_streams,
        r.orphan_streams.len(),
        r.unreferenced_streams.len()
    )
}
