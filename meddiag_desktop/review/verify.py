"""``audit verify``: is the review record what the app wrote? Every finding named in plain words.

Checks, in one read snapshot of the database (so a concurrent writer never causes a false
alarm): the hash chain, each entry's and the head's HMAC with the key kept outside the
database, the fact rows each entry sealed (decisions, masks, runs, sign-offs) and facts no
entry records, the latest checkpoint kept outside the database (an older copy put back, a
different store), that each run's input check agrees with the recorded overrides
(``ood_record.cross_check``), and, given the model folders, that each run's model file is still
the one it recorded. Entries written before entries were authenticated are named as legacy.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from meddiag_desktop.errors import ModelIntegrityError
from meddiag_desktop.inference.manifest import MANIFEST_NAME, load_manifest
from meddiag_desktop.review import audit, checkpoint, facts, ood_record

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterable, Sequence
    from pathlib import Path

    from meddiag_desktop.inference.manifest import ModelManifest
    from meddiag_desktop.review.audit_key import AuditKey
    from meddiag_desktop.review.store import ReviewStore

_SHOWN = 5  # problems of one kind listed before "and N more"


@dataclass(frozen=True)
class ChainReport:
    """Result of ``verify_store``. ``first_broken`` is the seq of the first bad entry, if any."""

    entries: int
    first_broken: int | None
    reason: str
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    store_id: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class _Snapshot:
    """Everything verify reads from the database, read in one transaction."""

    rows: list[dict[str, Any]]
    head: tuple[int, str, str] | None
    store_id: str
    digests: dict[facts.FactRef, str | None]
    stored_facts: list[facts.FactRef]
    fact_counts: dict[str, int]
    checkpoint_hash: str | None
    runs: list[tuple[str, str]]
    input_checks: list[str] = field(default_factory=list)  # runs disagreeing with the recorded overrides


@dataclass
class _Findings:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    first_broken: int | None = None

    def broken(self, seq: int, message: str) -> None:
        self.problems.append(message)
        self.first_broken = seq if self.first_broken is None else min(self.first_broken, seq)


def verify_store(store: ReviewStore, model_dirs: Sequence[Path] = ()) -> ChainReport:
    # The checkpoint is read before the snapshot: one written later may name entries the
    # snapshot cannot see yet, which would look like an older copy.
    stored = checkpoint.read(store.checkpoint_file, store.key)
    snap = _read_snapshot(store.db, stored.checkpoint.entries if stored else 0)
    out = _Findings()
    count, authenticated = _walk_chain(snap.rows, store.key, out)
    _check_head(snap, count, authenticated, store.key, out)
    _check_facts(snap, out)
    _check_checkpoint(stored, snap, count, out)
    _check_models(snap.runs, model_dirs, out)
    out.problems.extend(snap.input_checks)
    if store.key.created:
        out.notes.append(f"a new audit key was made for this account just now ({store.key.source})")
    reason = out.problems[0] if out.problems else _ok_summary(count, authenticated, store.key)
    return ChainReport(count, out.first_broken, reason, tuple(out.problems), tuple(out.notes), snap.store_id)


def _ok_summary(count: int, authenticated: int | None, key: AuditKey) -> str:
    if count == 0:
        return "the audit log is empty"
    return f"all {count} entries verify (authenticated with {key.source})"


# -- reading -------------------------------------------------------------------------------------


def _read_snapshot(db: sqlite3.Connection, checkpoint_entries: int) -> _Snapshot:
    db.execute("BEGIN")  # deferred: the first SELECT fixes the snapshot; nothing is written
    try:
        rows = [
            dict(zip(audit.COLUMNS, r, strict=True))
            for r in db.execute(f"SELECT {', '.join(audit.COLUMNS)} FROM audit ORDER BY seq")
        ]
        head = db.execute("SELECT count, hash, mac FROM audit_head WHERE id = 1").fetchone()
        meta = db.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
        refs = {ref for row in rows for ref, _ in facts.unseal(row["facts"])}
        at = db.execute("SELECT hash FROM audit WHERE seq = ?", (checkpoint_entries,)).fetchone()
        return _Snapshot(
            rows,
            tuple(head) if head else None,
            meta[0] if meta else "",
            {ref: facts.digest(db, ref) for ref in refs},
            list(facts.every_fact(db)),
            facts.counts(db),
            at[0] if at else None,
            [tuple(r) for r in db.execute("SELECT run_id, model_ref FROM ai_runs")],
            ood_record.cross_check(db),
        )
    finally:
        db.execute("COMMIT")


# -- the chain -----------------------------------------------------------------------------------


def _what(row: dict[str, Any]) -> str:
    finding = f", finding {row['finding_id']}" if row["finding_id"] else ""
    return f"entry {row['seq']} ({row['event']}{finding})"


def _walk_chain(rows: list[dict[str, Any]], key: AuditKey, out: _Findings) -> tuple[int, int | None]:
    """Check order, links, hashes and MACs. Returns (entries, seq of the first authenticated one)."""
    prev, expected, authenticated = audit.GENESIS, 1, None
    changed: list[int] = []
    unauthenticated: list[int] = []
    for row in rows:
        seq = int(row["seq"])
        if seq != expected:
            out.broken(expected, f"{_span(list(range(expected, seq)))} missing (deleted)")
        elif row["prev_hash"] != prev:
            out.broken(seq, f"{_what(row)} does not follow entry {seq - 1} (link broken)")
        # Legacy (schema 1) entries have neither fact digests nor a MAC, and come before the first authenticated one.
        legacy = authenticated is None and not row["mac"] and not row["facts"]
        if audit.entry_hash(row, sealed=not legacy) != row["hash"]:
            changed.append(seq)
        elif not legacy and not key.verifies(audit.entry_message(row["hash"]), row["mac"]):
            unauthenticated.append(seq)
        if authenticated is None and not legacy:
            authenticated = seq
            _check_opening(row, out)
        prev, expected = row["hash"], seq + 1
    _report_entries(changed, unauthenticated, rows, key, out)
    _note_legacy(rows, authenticated, out)
    return expected - 1, authenticated


def _report_entries(changed: list[int], unauthenticated: list[int], rows: list[dict[str, Any]], key: AuditKey,
                    out: _Findings) -> None:  # fmt: skip
    if len(changed) == 1:
        row = next(r for r in rows if int(r["seq"]) == changed[0])
        out.broken(changed[0], f"{_what(row)} was changed after it was written")
    elif changed:
        out.broken(changed[0], f"{_span(changed)} changed after they were written")
    if unauthenticated:
        out.broken(unauthenticated[0], f"{_span(unauthenticated)} not authenticated by the audit key "
                   f"({key.source}): the log was rewritten by someone without the key")  # fmt: skip
    elif rows and all(not r["mac"] and not r["facts"] for r in rows):
        out.broken(1, "no entry is authenticated by the audit key: the log was rewritten without the key "
                   "or stripped of its authentication")  # fmt: skip


def _check_opening(row: dict[str, Any], out: _Findings) -> None:
    """The first authenticated entry names the store id (and, after a migration, the legacy count)."""
    details = json.loads(row["details"])
    seq = int(row["seq"])
    legacy = details.get("legacy_entries", 0)
    if row["event"] not in (audit.STORE_CREATED, audit.STORE_MIGRATED) or legacy != seq - 1:
        out.broken(
            seq,
            f"{_what(row)} should open the authenticated log (store created or migrated); "
            "the entries before it are not legacy entries but were stripped of their authentication",
        )


def _note_legacy(rows: list[dict[str, Any]], authenticated: int | None, out: _Findings) -> None:
    if authenticated is None or authenticated == 1:
        return
    when = rows[authenticated - 1]["time_utc"] if len(rows) >= authenticated else "?"
    out.notes.append(
        f"legacy: {_span(list(range(1, authenticated)))} from before entries were authenticated "
        f"(legacy, unauthenticated): they are chained and sealed by entry {authenticated} (store migrated, {when}), "
        "but nothing proves they were not edited before then"
    )


def _check_head(snap: _Snapshot, count: int, authenticated: int | None, key: AuditKey, out: _Findings) -> None:
    if snap.head is None and count == 0:
        stored = {table: n for table, n in snap.fact_counts.items() if n}
        if stored or snap.store_id:
            what = ", ".join(f"{n} row(s) in {table}" for table, n in sorted(stored.items())) or "a store id"
            out.broken(1, f"the audit log is empty but the store holds {what}: the whole log was deleted")
        return
    head_count, head_hash, head_mac = snap.head or (0, "", "")
    last = snap.rows[-1]["hash"] if snap.rows else audit.GENESIS
    if head_count != count or head_hash != last:
        out.broken(count + 1, f"the log ends at entry {count} but {head_count} entries were written")
    elif authenticated is not None and not key.verifies(audit.head_message(head_count, head_hash), head_mac):
        out.broken(
            count,
            f"the end of the log (entry {count}) is not authenticated by the audit key: "
            "entries after it were cut off, or the log was rewritten without the key",
        )


# -- facts ---------------------------------------------------------------------------------------


def _check_facts(snap: _Snapshot, out: _Findings) -> None:
    recorded: set[facts.FactRef] = set()
    changed: list[tuple[int, str]] = []
    gone: list[tuple[int, str]] = []
    for row in snap.rows:
        for ref, sha in facts.unseal(row["facts"]):
            recorded.add(ref)
            now = snap.digests.get(ref)
            if now != sha:
                (gone if now is None else changed).append((int(row["seq"]), f"{ref.label()} (sealed by {_what(row)})"))
    if changed:
        out.broken(
            changed[0][0],
            f"{_verb([t for _, t in changed], 'no longer matches', 'no longer match')} what "
            "the audit log sealed: the fact tables were edited outside the app",
        )
    if gone:
        out.broken(
            gone[0][0], f"{_verb([t for _, t in gone], 'is', 'are')} gone from the store: deleted outside the app"
        )
    orphans = [ref.label() for ref in snap.stored_facts if ref not in recorded]
    if orphans and snap.rows:
        out.broken(
            len(snap.rows) + 1,
            f"{_verb(orphans, 'has', 'have')} no audit entry: added outside the app, or its entry was deleted",
        )


# -- the checkpoint outside the database -----------------------------------------------------------


def _check_checkpoint(stored: checkpoint.StoredCheckpoint | None, snap: _Snapshot, count: int, out: _Findings) -> None:
    if stored is None:
        out.notes.append("checkpoint: none yet for this database (an older copy put back cannot be told apart)")
        return
    cp = stored.checkpoint
    out.notes.append(
        f"checkpoint: {cp.entries} entries, head {cp.head[:12]}…, store {cp.store_id[:8]}…, "
        f"written {cp.time_utc} ({stored.path})"
    )
    if not stored.authentic:
        out.broken(
            1, f"the checkpoint file {stored.path} is not authenticated by the audit key: it was edited or forged"
        )
    elif cp.store_id != snap.store_id:
        out.broken(
            1,
            f"the checkpoint of {cp.time_utc} names store {cp.store_id[:8]}… but this database is store "
            f"{snap.store_id[:8] or 'without an id'}…: the database was replaced by another one",
        )
    elif cp.entries > count:
        out.broken(
            count + 1,
            f"the database holds {count} entries but the checkpoint of {cp.time_utc} recorded "
            f"{cp.entries}: an older copy of the database was put back, or the end of the log was removed",
        )
    elif snap.checkpoint_hash != cp.head:
        out.broken(
            cp.entries,
            f"entry {cp.entries} differs from the checkpoint of {cp.time_utc}: the database "
            "was replaced by a copy with another history",
        )


# -- the models each run recorded ------------------------------------------------------------------


def _check_models(runs: list[tuple[str, str]], model_dirs: Sequence[Path], out: _Findings) -> None:
    if not model_dirs:
        return
    used: dict[tuple[str, str, str], list[str]] = {}
    for run_id, model_ref in runs:
        for part in filter(None, (p.strip() for p in model_ref.split(";"))):
            name, _, digest = part.partition("#sha256:")
            model_id, _, version = name.partition("@")
            used.setdefault((model_id, version, digest), []).append(run_id)
    installed = _installed(model_dirs, out)
    for (model_id, version, digest), run_ids in sorted(used.items()):
        found = installed.get(model_id)
        if found is None:
            out.notes.append(f"model {model_id}@{version} (used by {len(run_ids)} run(s)) not installed; unchecked")
        else:
            _check_model(model_id, version, digest, run_ids, *found, out)


def _installed(model_dirs: Iterable[Path], out: _Findings) -> dict[str, tuple[ModelManifest, Path]]:
    models: dict[str, tuple[ModelManifest, Path]] = {}
    for root in model_dirs:
        for folder in sorted(root.glob(f"*/{MANIFEST_NAME}")) if root.is_dir() else []:
            try:
                manifest = load_manifest(folder.parent)
            except ModelIntegrityError as exc:
                out.notes.append(f"model folder {folder.parent} not checked: {exc}")
                continue
            models.setdefault(manifest.id, (manifest, folder.parent))
    return models


def _check_model(
    model_id: str,
    version: str,
    recorded: str,
    run_ids: list[str],
    manifest: ModelManifest,
    folder: Path,
    out: _Findings,
) -> None:
    path = folder / manifest.model_file
    actual = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"
    listed = manifest.files.get(manifest.model_file, "")
    runs = f"{len(run_ids)} run(s) ({_listed(run_ids)})"
    name = f"model {model_id}@{version}"
    if manifest.version == version and actual != recorded:
        listing = "its manifest was edited to list the new file" if listed == actual else "it fails its manifest too"
        out.problems.append(
            f"{name}: {manifest.model_file} in {folder} now has sha256 {actual[:12]}… but {runs} recorded "
            f"{recorded[:12]}…: the model changed after the run without a new version, and {listing}"
        )
    elif actual == recorded and (listed != recorded or manifest.version != version):
        out.problems.append(
            f"{name}: its manifest in {folder} now says version {manifest.version} and sha256 "
            f"{listed[:12]}… for the file {runs} recorded: the manifest was edited after the run"
        )
    elif manifest.version != version:
        out.notes.append(
            f"{name} (used by {runs}) is no longer installed ({model_id}@{manifest.version} is); not checked"
        )


# -- wording ---------------------------------------------------------------------------------------


def _span(seqs: list[int]) -> str:
    """'entry 4 is', 'entries 4–9 are' or '3 entries (4, 7, 9) are'."""
    lo, hi = min(seqs), max(seqs)
    if lo == hi:
        return f"entry {lo} is"
    if len(set(seqs)) == hi - lo + 1:
        return f"entries {lo}–{hi} are"
    return f"{len(seqs)} entries ({_listed([str(s) for s in seqs])}) are"


def _verb(items: list[str], one: str, many: str) -> str:
    return f"{_listed(items)} {one if len(items) == 1 else many}"


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")
